/**
 * @module The watchdog inside `tau run`: every `alerts.interval_ms` it evaluates health (backlog age, runner
 * staleness, dead letters, connector liveness, kill switches, configuration), delivery anomalies, and posts what
 * changed to the ops chat(s) through tau's own outbound — the outbox, the provider senders, the kill switches and the
 * outbound mode — with its own delivery of ops alert rows (`oa_…`), so a stuck runner cannot hold back the alarm
 * about itself. An alert the outbound kill switch or a provider outage holds waits in the outbox and goes out later;
 * `tau status` lists it meanwhile. Each evaluation also refreshes the service record and writes health history.
 */
import { tokenSealOf } from "./token-seal.ts";
import path from "node:path";
import type { Services } from "../capabilities/services.ts";
import { createOperationalGate, type OperationalGate } from "../capabilities/killswitch/index.ts";
import { anomalyReport } from "../capabilities/communications/anomaly.ts";
import { commsContractsDir, loadCommsFile } from "../capabilities/communications/contracts.ts";
import type { AlertTarget } from "../config/index.ts";
import type { ProviderSender } from "../contracts/delivery.ts";
import type { Transport } from "../contracts/envelope.ts";
import { describeError } from "../contracts/errors.ts";
import type { ReplyTarget } from "../contracts/outbound.ts";
import { planAlerts, type AlertPlan, type AnomalyFact } from "../health/alert-plan.ts";
import type { HealthView } from "../health/health.ts";
import { effectiveConfig } from "../health/health-facts.ts";
import { LAST_HEALTH_KEY, readDispatcherControl, WATCHDOG_KEY, type WatchdogHeartbeat } from "../health/watchdog-state.ts";
import { createDelivery } from "../outbound/deliver.ts";
import { queueReplies } from "../outbound/outbox.ts";
import { createProviderDelivery } from "../outbound/provider.ts";
import { sha256Hex } from "../outbound/sha256-hex.ts";
import { OPS_ALERT_ID_PREFIX } from "../store/index.ts";
import type { App } from "./open-app.ts";
import { createProviderSenders } from "./provider-senders.ts";
import { recordService } from "./record-service.ts";
import { healthFor, lookupSecret } from "./services.ts";
import { createRequestBuilders } from "./transports.ts";
import { nodeIdOf } from "./cluster.ts";

export interface WatchdogOptions {
  gate?: OperationalGate;
  providerSenders?: ReadonlyMap<Transport, ProviderSender>;
  /** When the service started (kept in the service record). */
  startedAt?: number;
}

export interface Watchdog {
  /** One evaluation: health, anomalies, alert plan, queued messages; then a delivery round (awaited). */
  tick(): Promise<AlertPlan>;
  /** Evaluate every `alerts.interval_ms` until `signal` aborts; resolves when stopped and the last delivery settled. */
  run(signal: AbortSignal): Promise<void>;
  /** The ops chats alerts go to now. */
  targets(): ReplyTarget[];
}

/** The ops chats: tau.yaml `alerts.targets` (none: alerts are recorded and shown by `tau status`, not posted). */
function resolveTargets(app: App): ReplyTarget[] {
  return app.config.alerts.targets.map((t: AlertTarget): ReplyTarget => ({ ...t, reply_to: null }));
}

/** Breached delivery anomaly metrics (delivery.yaml thresholds), or none when the contract does not load. */
function anomaliesOf(app: App, now: number): AnomalyFact[] {
  if (!app.config.alerts.anomalies || !app.config.features.communications) return [];
  try {
    const d = loadCommsFile(commsContractsDir(app.loaded.policiesDir), "delivery");
    const r = anomalyReport(app.store.comms, d.anomaly, now);
    return r.metrics
      .filter((m) => m.breached)
      .map((m) => ({
        metric: m.key,
        rate: m.rate,
        threshold: m.threshold,
        count: m.count,
        total: r.counts.total,
        window_minutes: r.window_minutes,
      }));
  } catch {
    return [];
  }
}

/**
 * Load the sender module (and its SDK) of each ops chat's transport now, in the background: the provider senders
 * load on first use, and the first alert should not wait for an SDK import. Same specifiers as provider-senders.ts,
 * so the module cache serves the sender when it loads.
 */
function warmSenders(targets: readonly ReplyTarget[]): void {
  const load: Partial<Record<Transport, () => Promise<unknown>>> = {
    telegram: () => import("../../connectors/telegram/sender.ts"),
    discord: () => import("../../connectors/discord/sender.ts"),
    whatsapp: () => import("../../connectors/whatsapp/sender.ts"),
  };
  for (const t of new Set(targets.map((x) => x.transport))) void load[t]?.().catch(() => undefined);
}

export function createWatchdog(app: App, services: Services, opts: WatchdogOptions = {}): Watchdog {
  const { store, config, clock } = app;
  const startedAt = opts.startedAt ?? clock();
  const gate = opts.gate ?? createOperationalGate(store, clock);
  const senders =
    opts.providerSenders ?? createProviderSenders(config, (id) => lookupSecret(app, id), app.loaded.policiesDir, tokenSealOf(app));
  // The watchdog's own view of the outbox: only ops alert rows are pending for it (the runner never sees them).
  const view = {
    outbox: {
      ...store.outbox,
      pending: store.outbox.pendingOpsAlerts,
      claimPendingWithChunks: store.outbox.claimOpsAlertsWithChunks,
      claimPendingInUnit: () => null,
    },
    counters: store.counters,
    kv: store.kv,
    atomically: <T>(fn: () => T): T => store.atomically(fn),
    atomicallyAsync: <T>(fn: () => T): Promise<T> => store.atomicallyAsync(fn),
    syncBeforeEffect: () => store.syncBeforeEffect(),
  };
  const delivery = createDelivery({
    store: view,
    senders: createRequestBuilders(config),
    dryRunFile: path.join(app.stateDir, "outbox", "dry-run.ndjson"),
    provider: createProviderDelivery({ store: view, senders, retry: config.outbound, clock, logger: app.logger }),
    blocked: (t) => gate.deliveryBlock(t),
    clock,
    node: nodeIdOf(config),
  });
  if (config.outbound.mode === "provider") warmSenders(resolveTargets(app));
  let ticks = 0;
  let lastError: string | null = null;
  let delivering: Promise<void> | null = null;
  let recovered = false;

  function heartbeat(h: HealthView, targets: ReplyTarget[]): void {
    const hb: WatchdogHeartbeat = {
      pid: process.pid,
      started_at_ms: startedAt,
      last_tick_at_ms: clock(),
      ticks,
      interval_ms: config.alerts.interval_ms,
      health: h.state,
      reason_codes: h.reason_codes,
      targets: targets.map((t) => `${t.transport}:${t.conversation_id}`),
      last_error: lastError,
    };
    store.kv.put(WATCHDOG_KEY, JSON.stringify(hb));
  }

  /** Evaluate and record; queue the message (one outbox row per ops chat) in the same unit of work. */
  function evaluate(): AlertPlan {
    const targets = resolveTargets(app);
    recordService(app, services, startedAt, targets.length);
    const now = clock();
    const health = healthFor(app);
    const control = readDispatcherControl(store.kv);
    const plan = planAlerts({
      now,
      cooldownMs: config.alerts.cooldown_ms,
      health,
      anomalies: anomaliesOf(app, now),
      previous: store.alerts.states(),
      paused: control?.state === "stopped",
      severity: config.alerts.severity,
      thresholds: { backlog_threshold_ms: effectiveConfig(store, config).backlog_threshold_ms },
      holdKinds: now - startedAt < config.alerts.startup_grace_ms ? ["connector"] : [],
    });
    store.atomically(() => {
      for (const s of plan.states) store.alerts.putState(s);
      const last = store.kv.get(LAST_HEALTH_KEY);
      if (last !== health.state) {
        store.runner.insertRuntimeEvent(now, "health.transition", health.state, health.reason_codes, {
          from: last ?? null,
          to: health.state,
          queue_depth: health.queue_depth,
          backlog_age_ms: health.backlog_age_ms,
          heartbeat_age_ms: health.heartbeat_age_ms,
        });
        store.kv.put(LAST_HEALTH_KEY, health.state);
      }
      if (!plan.message) return;
      const outboxIds = targets.flatMap((target) =>
        queueReplies(
          store,
          null,
          target,
          [{ purpose: "alert", text: plan.message! }],
          { mode: config.outbound.mode, maxChars: config.outbound.max_chars, now },
          () =>
            OPS_ALERT_ID_PREFIX +
            Math.floor(now).toString(36).padStart(9, "0") +
            sha256Hex(`${target.transport}:${target.conversation_id}\u0000${now}\u0000${plan.message}`).slice(0, 15),
        ),
      );
      for (const t of plan.transitions)
        store.alerts.insert({
          at_ms: now,
          alert_key: t.key,
          kind: t.kind,
          severity: t.severity,
          transition: t.transition,
          health: health.state,
          text: t.line,
          outbox_ids: JSON.stringify(outboxIds),
        });
      store.runner.insertRuntimeEvent(now, "watchdog.alert", health.state, health.reason_codes, {
        severity: plan.severity,
        transitions: plan.transitions.map((t) => ({ key: t.key, transition: t.transition, severity: t.severity })),
        outbox_ids: outboxIds,
        targets: targets.map((t) => `${t.transport}:${t.conversation_id}`),
      });
    });
    if (plan.message)
      app.logger.warn(
        { event: "watchdog.alert", severity: plan.severity, keys: plan.transitions.map((t) => `${t.transition}:${t.key}`) },
        "alert queued for the ops chat",
      );
    heartbeat(health, targets);
    return plan;
  }

  /** Send ops alert rows that are due (new, retrying, released by a kill switch going off); one round at a time. */
  function deliver(): Promise<void> {
    if (delivering) return delivering;
    delivering = (async () => {
      try {
        if (!recovered) {
          delivery.recover();
          recovered = true;
        }
        await delivery.deliverPending(100);
      } catch (err) {
        lastError = `delivery: ${describeError(err)}`;
        app.logger.error({ event: "watchdog.delivery_failed", error: describeError(err) }, "alert delivery failed");
      } finally {
        delivering = null;
      }
    })();
    return delivering;
  }

  async function tick(): Promise<AlertPlan> {
    ticks += 1;
    let plan: AlertPlan = { states: [], transitions: [], message: null, severity: null };
    try {
      plan = evaluate();
      lastError = null;
    } catch (err) {
      lastError = describeError(err);
      app.logger.error({ event: "watchdog.failed", error: lastError }, "watchdog evaluation failed");
    }
    await deliver();
    return plan;
  }

  return {
    tick,
    targets: () => resolveTargets(app),
    async run(signal) {
      if (signal.aborted) return;
      let timer: NodeJS.Timeout | null = null;
      let running: Promise<unknown> = Promise.resolve();
      // Evaluation is synchronous and never waits for a delivery in flight: a hung send cannot stop the next check.
      const once = () => {
        running = tick();
      };
      // The first evaluation comes one interval after start, when the runner and the connectors had their first go.
      timer = setInterval(once, config.alerts.interval_ms);
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
      clearInterval(timer);
      await running.catch(() => undefined);
    },
  };
}
