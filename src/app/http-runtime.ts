/**
 * @module Composition for the HTTP server: the webhook routes of the running connectors, `/healthz` from the
 * health view the caller passes (`healthFor(app)`, the same verdict as `tau health`), `/readyz` from connector readiness,
 * `/metrics` from the store's operator views, bound to `server.bind`. Used by `tau run` and `tau connectors run`.
 */
import { createServices, type App } from "./index.ts";
import { createCommsWebhooks } from "../capabilities/communications/index.ts";
import type { HealthReport } from "../contracts/health.ts";
import { createMetrics, type Metrics, type MetricsSnapshot } from "../health/metrics.ts";
import { responderUsage } from "../health/responder-usage.ts";
import { createServer, startServer, type ReadinessCheck, type RunningServer } from "../server/index.ts";
import type { RunnerState } from "../contracts/health.ts";
import { readConnectorStatuses, type RunningConnectors } from "./connectors-runtime.ts";

interface HttpRuntimeOptions {
  /** The report `/healthz` serves (`healthFor(app)`, the same verdict as `tau health`). */
  health: () => HealthReport;
  /** Extra readiness lines (e.g. the runner in `tau run`). */
  ready?: () => ReadinessCheck[];
  /** Override `server.bind` (tests). */
  bind?: string;
}

export interface HttpRuntime {
  server: RunningServer;
  metrics: Metrics;
}

/** Totals for `/metrics` from the store's operator views and the connector statuses; cached a second per scrape burst. */
export function metricsSnapshotSource(app: App, running: RunningConnectors | null): () => MetricsSnapshot {
  let cached: { at: number; value: MetricsSnapshot } | null = null;
  return () => {
    const now = app.clock();
    if (cached && now - cached.at < 1000) return cached.value;
    const statuses = running ? running.statuses() : readConnectorStatuses(app).filter((s) => s.mode !== "disabled");
    const state = app.store.kv.get("runner_state");
    const value: MetricsSnapshot = {
      ingestedByTransport: Object.fromEntries(statuses.map((s) => [s.transport, s.events_ingested])),
      processed: app.store.counters.all()["events.processed"] ?? 0,
      deniedByReason: app.store.inspect.deniedByReason(),
      deliveriesByReason: app.store.inspect.deliveriesByReason(),
      queueDepth: state ? ((JSON.parse(state) as RunnerState).queue_depth ?? 0) : 0,
      connectorLive: Object.fromEntries(statuses.map((s) => [s.transport, s.liveness === "live" ? 1 : 0])),
      responders: Object.keys(app.config.responders).length ? responderUsage(app.store, app.config, 0, now) : null,
    };
    cached = { at: now, value };
    return value;
  };
}

export async function startHttpServer(app: App, running: RunningConnectors | null, opts: HttpRuntimeOptions): Promise<HttpRuntime> {
  const metrics = createMetrics({ snapshot: metricsSnapshotSource(app, running) });
  // Communications webhooks (Twilio inbound SMS / status callbacks, Resend delivery events) are always mounted:
  // they verify their own signatures and refuse everything else.
  const hooks = createCommsWebhooks(createServices(app));
  const commsRoutes = [
    { method: "POST", path: "/webhooks/twilio", handler: hooks.twilio },
    { method: "POST", path: "/webhooks/resend", handler: hooks.resend },
  ] as unknown as NonNullable<RunningConnectors["routes"]>;
  const server = createServer({
    routes: [...(running?.routes ?? []), ...commsRoutes],
    health: opts.health,
    ready: () => [...(running?.readiness() ?? []), ...(opts.ready?.() ?? [])],
    metrics,
    maxBodyBytes: app.config.server.max_body_bytes,
    clock: app.clock,
    onError: (err, path) => app.logger.error({ event: "http.error", path, error: (err as Error)?.message }, "request failed"),
  });
  const listening = await startServer(server, opts.bind ?? app.config.server.bind);
  app.logger.info(
    { event: "http.listening", url: listening.url, routes: (running?.routes ?? []).map((r) => `${r.method} ${r.path}`) },
    "http server listening",
  );
  return { server: listening, metrics };
}
