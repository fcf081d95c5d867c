/**
 * @module The composition root: the only folder that picks concrete implementations (normalizers, request builders,
 * provider ports, connectors, the HTTP server, responders, the store). The CLI, tests and scripts enter here.
 */
export type { Clock } from "../contracts/clock.ts";
export { openApp, openIngressWriter, type App } from "./open-app.ts";
export { normalizerFor, createRequestBuilders } from "./transports.ts";
export { createRegistry } from "./registry.ts";
export { createServices, healthFor, lookupSecret, createPolicyManagerFor } from "./services.ts";
export { tokenSealOf } from "./token-seal.ts";
export { openAppReadOnly } from "./open-read-only.ts";
export { createDecisionPipeline } from "./pipeline.ts";
export { createAppRunner } from "./runner.ts";
export { createProviderPorts } from "./provider-ports.ts";
export { lifecycleDepsFor, preflightFor } from "./preflight.ts";
export { nativeCommandPlanFor } from "./native-commands.ts";
