/** @module The HTTP server: the Hono app (webhooks mounted from outside, /healthz, /readyz, /metrics) and its listener. */

// Commonly used
export { createServer, type MountedRoute, type ReadinessCheck, type HealthLike } from "./app.ts";
export { startServer, type RunningServer } from "./listen.ts";

// Advanced
export { bodyLimit, BodyLimitError } from "./body-limit.ts";
