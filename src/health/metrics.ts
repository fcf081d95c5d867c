/**
 * @module Prometheus metrics on a registry of our own (never prom-client's global one): health state and the facts
 * behind it (backlog age, queue depth, outbox pending, dead letters, kill switches, connector liveness and failure
 * counters, the runner's last cycle), events ingested, processed and denied, deliveries by transport and reason,
 * alerts, build info, prom-client's default process and Node.js metrics, and the webhook latency histogram. Totals are
 * read from a snapshot at scrape time, so `/metrics` shows the same numbers whether the runner runs in this process
 * or another one — and the same health as `tau health`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { ResponderUsageSummary } from "./responder-usage.ts";

/** What the scrape reads from state (SQLite + connector statuses); supplied by the composition root. */
export interface MetricsSnapshot {
  ingestedByTransport: Record<string, number>;
  processed: number;
  deniedByReason: Record<string, number>;
  deliveriesByReason: Record<string, number>;
  queueDepth: number;
  /** 1 when the connector is live, 0 otherwise (stale, failing, stopped). */
  connectorLive: Record<string, number>;
  /** Responder usage since the retention horizon; null when no responder is configured. */
  responders?: ResponderUsageSummary | null;
  /** Attachments by media reason code (media understanding). */
  mediaByReason?: Record<string, number>;
  /** Deliveries per transport and reason (`tau_deliveries_total{transport,reason}`); without it, reason only. */
  deliveriesByTransport?: { transport: string; reason: string; n: number }[];
  /** The health verdict (`healthFor`) and the facts behind it. */
  health?: { state: string; reason_codes: string[]; backlog_age_ms: number; heartbeat_age_ms: number | null };
  outboxPending?: number;
  deadLetters?: number;
  /** Every kill switch scope with 1 (on) or 0 (off). */
  killSwitches?: Record<string, number>;
  /** Connector failure counters by transport: auth, parse, provider failures and retries. */
  connectorFailures?: Record<string, { auth: number; parse: number; provider: number; retries: number }>;
  lastCycleAtMs?: number | null;
  /** Alert messages queued to the ops chats, by severity and transition; and how many are not delivered yet. */
  alerts?: { severity: string; transition: string; n: number }[];
  alertsUndelivered?: number;
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
  healthState: "tau_health_state",
  healthReason: "tau_health_reason",
  backlogAge: "tau_backlog_age_seconds",
  heartbeatAge: "tau_runner_heartbeat_age_seconds",
  lastCycle: "tau_runner_last_cycle_timestamp_seconds",
  outboxPending: "tau_outbox_pending",
  deadLetters: "tau_dead_letters",
  killSwitch: "tau_kill_switch",
  connectorFailures: "tau_connector_failures_total",
  alerts: "tau_alerts_total",
  alertsUndelivered: "tau_alerts_undelivered",
  buildInfo: "tau_build_info",
  responderCalls: "tau_responder_calls_total",
  responderTokens: "tau_responder_tokens_total",
  responderReplies: "tau_responder_replies_total",
  responderReplyChars: "tau_responder_reply_chars_total",
  responderReplyChunks: "tau_responder_reply_chunks_total",
  responderErrors: "tau_responder_errors_total",
  responderLatency: "tau_responder_latency_ms_avg",
  responderTtft: "tau_responder_time_to_first_token_ms_avg",
  responderCost: "tau_responder_cost_usd_total",
  responderJobs: "tau_responder_jobs",
  typing: "tau_responder_typing_total",
} as const;

/** `tau_health_state`: one series per state, 1 for the current one (alert on `tau_health_state{state="failing"} == 1`). */
const HEALTH_STATES = ["healthy", "degraded", "failing"] as const;

export interface Metrics {
  registry: Registry;
  contentType: string;
  /** Record one webhook request (route path, HTTP status, seconds). */
  observeWebhook(route: string, status: number, seconds: number): void;
  /** Prometheus text exposition, with a fresh snapshot. */
  render(): Promise<string>;
}

export interface MetricsOptions {
  snapshot?: () => MetricsSnapshot | Promise<MetricsSnapshot>;
  /** `tau_build_info` labels (version, node). */
  build?: { version: string; node: string };
  /** prom-client's default process and Node.js metrics (CPU, memory, event loop lag, GC, handles). Default on. */
  processMetrics?: boolean;
}

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  let current: MetricsSnapshot = EMPTY_SNAPSHOT;
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });

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
  const gauge = (name: string, help: string, value: (s: MetricsSnapshot) => number | null | undefined) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        const v = value(current);
        if (v !== null && v !== undefined) this.set(v);
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
  new Counter({
    name: METRIC_NAMES.deliveries,
    help: "Replies by transport and delivery reason code.",
    labelNames: ["reason", "transport"],
    registers: [registry],
    collect() {
      this.reset();
      if (current.deliveriesByTransport)
        for (const r of current.deliveriesByTransport) {
          if (r.n > 0) this.inc({ reason: r.reason, transport: r.transport }, r.n);
        }
      else for (const [reason, n] of Object.entries(current.deliveriesByReason)) if (n > 0) this.inc({ reason }, n);
    },
  });
  gauge(METRIC_NAMES.queueDepth, "Ingress events waiting for the runner.", (s) => s.queueDepth);
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
  new Gauge({
    name: METRIC_NAMES.healthState,
    help: "1 for the current health state (healthy, degraded, failing), 0 for the others: the verdict of tau health.",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      this.reset();
      const h = current.health;
      if (h) for (const st of HEALTH_STATES) this.set({ state: st }, h.state === st ? 1 : 0);
    },
  });
  new Gauge({
    name: METRIC_NAMES.healthReason,
    help: "1 per reason code in the current health verdict.",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of current.health?.reason_codes ?? []) this.set({ reason: r }, 1);
    },
  });
  gauge(METRIC_NAMES.backlogAge, "Age of the oldest unprocessed ingress line (0 when nothing waits).", (s) =>
    s.health ? s.health.backlog_age_ms / 1000 : undefined,
  );
  gauge(METRIC_NAMES.heartbeatAge, "Age of the runner's last cycle (absent when no runner ever ran).", (s) =>
    s.health && s.health.heartbeat_age_ms !== null ? s.health.heartbeat_age_ms / 1000 : undefined,
  );
  gauge(METRIC_NAMES.lastCycle, "Unix time of the runner's last cycle.", (s) =>
    s.lastCycleAtMs === null || s.lastCycleAtMs === undefined ? undefined : s.lastCycleAtMs / 1000,
  );
  gauge(METRIC_NAMES.outboxPending, "Outbox rows not delivered yet (queued, retry scheduled, sending).", (s) => s.outboxPending);
  gauge(METRIC_NAMES.deadLetters, "Outbox rows in the dead letter queue.", (s) => s.deadLetters);
  new Gauge({
    name: METRIC_NAMES.killSwitch,
    help: "1 when the kill switch of this scope is on, 0 when it was turned off.",
    labelNames: ["scope"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [scope, v] of Object.entries(current.killSwitches ?? {})) this.set({ scope }, v);
    },
  });
  new Counter({
    name: METRIC_NAMES.connectorFailures,
    help: "Connector failures by transport and kind (auth, parse, provider) and retries, since the connector started.",
    labelNames: ["transport", "kind"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [transport, f] of Object.entries(current.connectorFailures ?? {}))
        for (const kind of ["auth", "parse", "provider", "retries"] as const) if (f[kind] > 0) this.inc({ transport, kind }, f[kind]);
    },
  });
  new Counter({
    name: METRIC_NAMES.alerts,
    help: "Alert messages the watchdog queued to the ops chats, by severity and transition (firing, changed, recovered).",
    labelNames: ["severity", "transition"],
    registers: [registry],
    collect() {
      this.reset();
      for (const a of current.alerts ?? []) if (a.n > 0) this.inc({ severity: a.severity, transition: a.transition }, a.n);
    },
  });
  gauge(METRIC_NAMES.alertsUndelivered, "Alert messages not delivered yet (held by a kill switch, retrying).", (s) => s.alertsUndelivered);
  if (opts.build) {
    const info = new Gauge({
      name: METRIC_NAMES.buildInfo,
      help: "Always 1; labels say which tau and Node.js are running.",
      labelNames: ["version", "node"],
      registers: [registry],
    });
    info.set({ version: opts.build.version, node: opts.build.node }, 1);
  }
  registerResponderMetrics(registry, () => current.responders ?? null);
  fromRows(registry, "counter", "tau_media_attachments_total", "Attachments by media understanding reason code.", ["reason"], () =>
    Object.entries(current.mediaByReason ?? {}).map(([reason, n]) => ({ labels: { reason }, value: n })),
  );
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
      current = opts.snapshot ? await opts.snapshot() : EMPTY_SNAPSHOT;
      return registry.metrics();
    },
  };
}

/** A counter or gauge whose values are set at scrape time from rows of the snapshot. */
function fromRows<L extends string>(
  registry: Registry,
  kind: "counter" | "gauge",
  name: string,
  help: string,
  labels: readonly L[],
  rows: () => { labels: Record<L, string>; value: number | null }[],
): void {
  const collect = function (this: Counter<L> | Gauge<L>) {
    this.reset();
    for (const r of rows()) {
      if (r.value === null) continue;
      if (this instanceof Counter) {
        if (r.value > 0) this.inc(r.labels, r.value);
      } else this.set(r.labels, r.value);
    }
  };
  if (kind === "counter") new Counter({ name, help, labelNames: labels, registers: [registry], collect });
  else new Gauge({ name, help, labelNames: labels, registers: [registry], collect });
}

/** `tau_responder_*`: usage per responder and transport (calls, tokens, replies, errors, latency, cost, typing). */
function registerResponderMetrics(registry: Registry, usage: () => ResponderUsageSummary | null): void {
  const u = () => usage()?.usage ?? [];
  const rt = (r: { responder: string; transport: string }) => ({ responder: r.responder, transport: r.transport });
  fromRows(
    registry,
    "counter",
    METRIC_NAMES.responderCalls,
    "Model and webhook calls by responder and transport.",
    ["responder", "transport"],
    () => u().map((r) => ({ labels: rt(r), value: r.calls })),
  );
  fromRows(
    registry,
    "counter",
    METRIC_NAMES.responderTokens,
    "Tokens by responder, transport and direction (provider counts).",
    ["responder", "transport", "direction"],
    () =>
      u().flatMap((r) => [
        { labels: { ...rt(r), direction: "input" }, value: r.input_tokens },
        { labels: { ...rt(r), direction: "output" }, value: r.output_tokens },
        { labels: { ...rt(r), direction: "cached" }, value: r.cached_tokens },
      ]),
  );
  const replies = () => usage()?.replies ?? [];
  fromRows(
    registry,
    "counter",
    METRIC_NAMES.responderReplies,
    "Finished responder jobs by responder and transport.",
    ["responder", "transport"],
    () => replies().map((r) => ({ labels: rt(r), value: r.jobs })),
  );
  fromRows(
    registry,
    "counter",
    METRIC_NAMES.responderReplyChars,
    "Reply characters (code points) by responder and transport.",
    ["responder", "transport"],
    () => replies().map((r) => ({ labels: rt(r), value: r.chars })),
  );
  fromRows(
    registry,
    "counter",
    METRIC_NAMES.responderReplyChunks,
    "Reply chunks (platform messages) by responder and transport.",
    ["responder", "transport"],
    () => replies().map((r) => ({ labels: rt(r), value: r.chunks })),
  );
  fromRows(
    registry,
    "counter",
    METRIC_NAMES.responderErrors,
    "Responder failures by responder and reason code.",
    ["responder", "reason"],
    () => (usage()?.errors ?? []).map((e) => ({ labels: { responder: e.responder, reason: e.reason }, value: e.count })),
  );
  fromRows(
    registry,
    "gauge",
    METRIC_NAMES.responderLatency,
    "Average model call latency (ms) by responder and transport.",
    ["responder", "transport"],
    () => u().map((r) => ({ labels: rt(r), value: r.avg_latency_ms })),
  );
  fromRows(
    registry,
    "gauge",
    METRIC_NAMES.responderTtft,
    "Average time to first token (ms) by responder and transport.",
    ["responder", "transport"],
    () => u().map((r) => ({ labels: rt(r), value: r.avg_ttft_ms })),
  );
  fromRows(registry, "counter", METRIC_NAMES.responderCost, "Estimated cost (USD) from telemetry.prices.", ["responder", "transport"], () =>
    u().map((r) => ({ labels: rt(r), value: r.cost_usd })),
  );
  fromRows(registry, "gauge", METRIC_NAMES.responderJobs, "Responder jobs waiting or running.", ["state"], () => {
    const j = usage()?.jobs;
    return j
      ? [
          { labels: { state: "queued" }, value: j.queued },
          { labels: { state: "running" }, value: j.running },
        ]
      : [];
  });
  fromRows(registry, "counter", METRIC_NAMES.typing, "Typing indicators by transport and outcome.", ["transport", "outcome"], () =>
    Object.entries(usage()?.typing ?? {}).flatMap(([transport, t]) => [
      { labels: { transport, outcome: "sent" }, value: t.sent },
      { labels: { transport, outcome: "failed" }, value: t.failed },
      { labels: { transport, outcome: "held" }, value: t.held },
    ]),
  );
}
