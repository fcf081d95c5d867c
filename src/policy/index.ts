/** @module The pure policy layer: decisions with reasons, no I/O, no clock, no randomness (time and bytes are arguments). */

// Channel policy and access: may this conversation, and this actor, be answered?
export { decideChannelPolicy, layerChannelRule, resolveChannelRule } from "./channel-policy.ts";
export { decideAccess } from "./access.ts";

// Pairing: one-time codes for unknown DM actors and their approval.
export {
  PAIRING_ALPHABET,
  PAIRING_ATTEMPT_WINDOW_MS,
  PAIRING_CODE_LENGTH,
  PAIRING_RANDOM_BYTES,
  decidePairingApproval,
  decidePairingChallenge,
  generatePairingCode,
  isWellFormedPairingCode,
  normalizePairingCode,
} from "./pairing.ts";
export type { PairingChallenge, PairingChallengeAction, PairingChallengeInput, PairingStatus, PendingPairing } from "./pairing.ts";

// Routing: the most specific route binding, compiled once per policy load.
export { compileRouteBindings, renderSessionKey, resolveRoute, routeDecisionToDecision } from "./routes.ts";
export type { CompiledRoutes } from "./routes.ts";

// RBAC: roles and capability checks.
export { decideRbac, resolveRole } from "./rbac.ts";

// Policy checks for `tau policy check`, preflight and startup.
export { checkChannelPolicy } from "./strict-mode.ts";
export { decideApprovalUse } from "./approval.ts";

// Communications: consent, quiet hours, SMS segments, templates and recipients.
export { decideConsent, effectiveConsent, classifySmsKeyword } from "./consent.ts";
export { decideQuietHours, inQuietWindow, isValidTimeZone, localClock } from "./quiet-hours.ts";
export { countSmsSegments, appendStopFooter, decideSmsLength, isGsm7 } from "./sms-segments.ts";
export { renderTemplate, templatePlaceholders, validateRecipient, E164 } from "./templates.ts";
