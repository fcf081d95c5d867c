/**
 * @module Composition for the HTTP server: the webhook routes of the running connectors, `/healthz` from the
 * health view the caller passes (`healthFor(app)`, the same verdict as `tau health`), `/readyz` from connector readiness
 * and that same verdict (not ready while failing), `/metrics` from the store's operator views and the health facts,
 * bound to `server.bind`. Used by `tau run` and `tau connectors run`.
 */
import { createServices, healthFor, type App } from "./index.ts";
import { createCommsWebhooks } from "../capabilities/communications/index.ts";
import type { HealthReport } from "../contracts/health.ts";
import { createMetrics, type Metrics, type MetricsSnapshot } from "../health/metrics.ts";
import { responderUsage } from "../health/responder-usage.ts";
import { createServer, startServer, type ReadinessCheck, type RunningServer } from "../server/index.ts";
import { readRunnerState } from "../health/health-facts.ts";
import { readConnectorStatuses, type RunningConnectors } from "./connectors-runtime.ts";
import { packageInfo } from "./package-info.ts";
import { createUiApp } from "./web/routes.ts";

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

/** Totals for `/metrics` from the store's operator views, the health verdict and the connector statuses; cached a second per scrape burst. */
export function metricsSnapshotSource(app: App, running: RunningConnectors | null): () => Promise<MetricsSnapshot> {
  let cached: { at: number; value: MetricsSnapshot } | null = null;
  let inFlight: Promise<MetricsSnapshot> | null = null;
  return async () => {
    const now = app.clock();
    if (cached && now - cached.at < 1000 && now >= cached.at) return cached.value;
    // Scrapes that arrive together share one read; the scans run off this thread (they grow with history).
    inFlight ??= snapshot(now).finally(() => (inFlight = null));
    return inFlight;
  };
  async function snapshot(now: number): Promise<MetricsSnapshot> {
    // A worker that fails (or does not answer in time) costs the old stall, never the totals: the same scans, here.
    const counts = await app.store.metricCounts().catch((err: unknown) => {
      app.logger.warn({ event: "metrics.counts_fallback", err: (err as Error)?.message }, "metrics scans read on the main thread");
      return {
        deniedByReason: app.store.inspect.deniedByReason(),
        deliveriesByReason: app.store.inspect.deliveriesByReason(),
        deliveriesByTransport: app.store.inspect.deliveriesByTransportAndReason(),
      };
    });
    const statuses = running ? running.statuses() : readConnectorStatuses(app).filter((s) => s.mode !== "disabled");
    const runner = readRunnerState(app.store, app.config);
    const health = healthFor(app);
    const value: MetricsSnapshot = {
      ingestedByTransport: Object.fromEntries(statuses.map((s) => [s.transport, s.events_ingested])),
      processed: app.store.counters.all()["events.processed"] ?? 0,
      deniedByReason: counts.deniedByReason,
      deliveriesByReason: counts.deliveriesByReason,
      deliveriesByTransport: counts.deliveriesByTransport,
      queueDepth: health.queue_depth,
      connectorLive: Object.fromEntries(statuses.map((s) => [s.transport, s.liveness === "live" ? 1 : 0])),
      responders: Object.keys(app.config.responders).length ? responderUsage(app.store, app.config, 0, now) : null,
      mediaByReason: app.store.media.countsSince(0),
      health,
      outboxPending: app.store.outbox.countPending(),
      deadLetters: app.store.outbox.countInStatus("dead_letter"),
      killSwitches: Object.fromEntries(app.store.killswitches.list().map((k) => [k.scope, k.is_on ? 1 : 0])),
      connectorFailures: Object.fromEntries(
        statuses.map((s) => [
          s.transport,
          { auth: s.auth_failures, parse: s.parse_failures, provider: s.provider_failures, retries: s.retry_attempts },
        ]),
      ),
      lastCycleAtMs: runner?.last_cycle_at_ms ?? null,
      alerts: app.store.alerts.counts(),
      alertsUndelivered: app.store.alerts.countUndelivered(),
    };
    cached = { at: now, value };
    return value;
  }
}

/** `tau_build_info` labels: the package version and the Node.js version. */
function buildInfo(): { version: string; node: string } {
  // From the sources or the compiled dist/ alike (the package.json sits at a different depth above each).
  return { version: packageInfo().version, node: process.versions.node };
}

export async function startHttpServer(app: App, running: RunningConnectors | null, opts: HttpRuntimeOptions): Promise<HttpRuntime> {
  const metrics = createMetrics({ snapshot: metricsSnapshotSource(app, running), build: buildInfo() });
  // Communications webhooks (Twilio inbound SMS / status callbacks, Resend delivery events) are always mounted:
  // they verify their own signatures and refuse everything else.
  const services = createServices(app);
  const hooks = createCommsWebhooks(services);
  // A provider that got 200 never sends that event again: the acknowledgement leaves once its record is on disk.
  const acked =
    <A extends unknown[]>(handler: (...a: A) => Promise<Response>) =>
    async (...a: A): Promise<Response> => {
      const res = await handler(...a);
      app.store.syncBeforeEffect();
      return res;
    };
  const commsRoutes = [
    { method: "POST", path: "/webhooks/twilio", handler: acked(hooks.twilio) },
    { method: "POST", path: "/webhooks/resend", handler: acked(hooks.resend) },
  ] as unknown as NonNullable<RunningConnectors["routes"]>;
  // This node's view: its node id, the cluster's nodes and leases; failing when its own heartbeat cannot be written.
  const nodeHealth = running ? () => running.cluster.health(opts.health()) : opts.health;
  const server = createServer({
    routes: [...(running?.routes ?? []), ...commsRoutes],
    health: nodeHealth,
    ready: () => {
      // The health verdict is part of readiness: failing (a stale runner, no known-good policy) is not ready.
      const h = nodeHealth();
      const health = { key: "health", code: h.state === "failing" ? (h.reason_codes[0] ?? "failing") : h.state, ok: h.state !== "failing" };
      return [...(running?.readiness() ?? []), ...(opts.ready?.() ?? []), health];
    },
    metrics,
    // The web control page (server.ui): sessions from `tau ui login` links only; actions through the capability path.
    mounts: app.config.server.ui
      ? [{ path: "/ui", app: createUiApp(app, services, { connectorStatuses: running ? () => running.statuses() : undefined }) }]
      : [],
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
