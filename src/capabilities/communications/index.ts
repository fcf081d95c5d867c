/** @module Communications capabilities (PRODUCT.md §9): sends under consent policy, the delivery log, alerts. */
import type { AnyCapability } from "../registry.ts";
import { anomalyDispatchCapability, anomalyStatusCapability } from "./anomaly-dispatch.ts";
import { consentSetCapability } from "./consent-set.ts";
import { deadletterReplayCapability } from "./deadletter-replay.ts";
import { deliveryLogCapability } from "./delivery-log.ts";
import { authStatusCapability, doctorCapability } from "./doctor.ts";
import { incidentBundleCapability } from "./incident-bundle.ts";
import { INCIDENT_CAPABILITIES } from "./incidents.ts";
import { dispatcherStartCapability, dispatcherStatusCapability, dispatcherStopCapability } from "./alerts-dispatcher.ts";
import { sendExecuteCapability } from "./send-execute.ts";
import { sendPreviewCapability } from "./send-preview.ts";
import { policyStatusCapability, providerStatusCapability, templatesListCapability } from "./status.ts";

// The capabilities, for `createRegistry().register(...COMMS_SEND_CAPABILITIES)`.
export const COMMS_SEND_CAPABILITIES: AnyCapability[] = [
  sendPreviewCapability,
  sendExecuteCapability,
  providerStatusCapability,
  policyStatusCapability,
  templatesListCapability,
  deliveryLogCapability,
  anomalyStatusCapability,
  anomalyDispatchCapability,
  incidentBundleCapability,
  ...INCIDENT_CAPABILITIES,
  dispatcherStatusCapability,
  dispatcherStartCapability,
  dispatcherStopCapability,
  deadletterReplayCapability,
  authStatusCapability,
  doctorCapability,
  consentSetCapability,
];

// Webhook handlers for the Hono server (`app.post("/webhooks/twilio", hooks.twilio)`).
export { createCommsWebhooks } from "./webhooks.ts";

// Contracts: schemas (the stack schema is shared with the mail capabilities) and the loader.
export {
  CatalogMessageSchema,
  COMMS_FILES,
  CommsDeliverySchema,
  CommsPolicySchema,
  CommsProvidersSchema,
  CommsStackSchema,
  commsContractsDir,
  loadCommsContracts,
  MailboxSchema,
  MailEndpointSchema,
  templatesSchemaFor,
  type CatalogMessage,
  type CommsContracts,
  type CommsStack,
  type Mailbox,
} from "./contracts.ts";

// State and the pieces scripts and other layers may use.
export { maskRecipient, recipientHash } from "./recipients.ts";
export type { CommsStore, CommsDeliveryRow as DeliveryRow, PreviewRow } from "../../store/index.ts";
export { anomalyReport, type AnomalyReport } from "./anomaly.ts";
export { commsDirOf, policiesDirOf, type CommsServices } from "./context.ts";
export { describeIncident } from "./incidents.ts";
