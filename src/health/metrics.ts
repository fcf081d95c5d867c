/**
 * @module Prometheus metrics on a registry of our own (never prom-client's global one): events ingested by
 * transport, processed, denied by reason, deliveries by reason, queue depth, connector liveness, and the
 * webhook latency histogram. Totals are read from a snapshot at scrape time, so `/metrics` shows the same
 * numbers whether the runner runs in this process or another one.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** What the scrape reads from state (SQLite + connector statuses); supplied by the composition root. */
export interface MetricsSnapshot {
  ingestedByTransport: Record<string, number>;
  processed: number;
  deniedByReason: Record<string, number>;
  deliveriesByReason: Record<string, number>;
  queueDepth: number;
  /** 1 when the connector is live, 0 otherwise (stale, failing, stopped). */
  connectorLive: Record<string, number>;
}

const EMPTY_SNAPSHOT: MetricsSnapshot = {
  ingestedByTransport: {},
  processed: 0,
  deniedByReason: {},
  deliveriesByReason: {},
  queueDepth: 0,
  connectorLive: {},
};

/** Metric names, for dashboards and tests. */
const METRIC_NAMES = {
  ingested: "tau_events_ingested_total",
  processed: "tau_events_processed_total",
  denied: "tau_events_denied_total",
  deliveries: "tau_deliveries_total",
  queueDepth: "tau_queue_depth",
  connectorLive: "tau_connector_live",
  webhookLatency: "tau_webhook_request_duration_seconds",
} as const;

export interface Metrics {
  registry: Registry;
  contentType: string;
  /** Record one webhook request (route path, HTTP status, seconds). */
  observeWebhook(route: string, status: number, seconds: number): void;
  /** Prometheus text exposition, with a fresh snapshot. */
  render(): Promise<string>;
}

export function createMetrics(opts: { snapshot?: () => MetricsSnapshot } = {}): Metrics {
  const registry = new Registry();
  let current: MetricsSnapshot = EMPTY_SNAPSHOT;

  /** Set a labelled counter to absolute totals (monotonic in state; a reset shows as a counter reset). */
  const labelled = (name: string, help: string, label: string, pick: (s: MetricsSnapshot) => Record<string, number>) =>
    new Counter({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      collect() {
        this.reset();
        for (const [k, v] of Object.entries(pick(current))) if (v > 0) this.inc({ [label]: k }, v);
      },
    });

  labelled(
    METRIC_NAMES.ingested,
    "Envelopes durably appended to ingress by connectors, by transport.",
    "transport",
    (s) => s.ingestedByTransport,
  );
  new Counter({
    name: METRIC_NAMES.processed,
    help: "Events processed by the runner (duplicates excluded).",
    registers: [registry],
    collect() {
      this.reset();
      if (current.processed > 0) this.inc(current.processed);
    },
  });
  labelled(METRIC_NAMES.denied, "Events denied by policy, by reason code.", "reason", (s) => s.deniedByReason);
  labelled(METRIC_NAMES.deliveries, "Replies by delivery reason code.", "reason", (s) => s.deliveriesByReason);
  new Gauge({
    name: METRIC_NAMES.queueDepth,
    help: "Ingress events waiting for the runner.",
    registers: [registry],
    collect() {
      this.set(current.queueDepth);
    },
  });
  new Gauge({
    name: METRIC_NAMES.connectorLive,
    help: "1 when the connector is live, else 0.",
    labelNames: ["transport"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [t, v] of Object.entries(current.connectorLive)) this.set({ transport: t }, v);
    },
  });
  const latency = new Histogram({
    name: METRIC_NAMES.webhookLatency,
    help: "Webhook request duration (verify, normalize, durable append) until the response, by route and status.",
    labelNames: ["route", "status"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });

  return {
    registry,
    contentType: registry.contentType,
    observeWebhook(route, status, seconds) {
      latency.observe({ route, status: String(status) }, seconds);
    },
    async render() {
      current = opts.snapshot ? opts.snapshot() : EMPTY_SNAPSHOT;
      return registry.metrics();
    },
  };
}
