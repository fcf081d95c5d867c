/** @module Lifecycle and readiness: per-transport login/logout state, credentials, readiness checks, preflight. */

// State: kv `lifecycle:<transport>`.
export { readLifecycle, writeLifecycle, parseLifecycle, lifecycleKey, type KvPort } from "./state.ts";

// Credentials (env first, then the integration store) and the store itself.
export { createCredentialReader, setSecret, deleteSecret, listSecrets, rotateSecretsKey, SECRET_MASK } from "./secrets.ts";
export type { CredentialReader, KeyRotation } from "./secrets.ts";

// Checks and commands.
export {
  transportChecks,
  stateChecks,
  policyChecks,
  enabledTransports,
  summarize,
  formatChecks,
  type Check,
  type ReadinessContext,
} from "./readiness.ts";
export { channelLogin, channelLogout, channelStatus, channelProbe, onlineCheck, type ChannelDeps, type ChannelReport } from "./channel.ts";
export { runPreflight, type PreflightReport } from "./preflight.ts";
export type { ProviderPorts } from "./provider-ports.ts";
