/** @module `tau health`, `tau status`, `tau events`, `tau traces`: read-only views, all with `--json`. */
import type { Command } from "commander";
import { healthFor, type App } from "../app/index.ts";
import { readPolicyStatus } from "../config/policy-manager.ts";
import { HEALTH_EXIT } from "../health/health.ts";
import { readRunnerState } from "../health/health-facts.ts";
import { readConnectorStatuses } from "../app/connectors-runtime.ts";
import { killSwitchStatusSection, lifecycleStatusSection } from "../capabilities/killswitch/status-sections.ts";
import type { RuntimeEventRow } from "../store/inspect-store.ts";
import { appFor, globals } from "./context.ts";
import { emit, table } from "./output.ts";

/** A `tau status` section beyond the runner: every section is listed here, nothing registers itself. */
interface StatusSection {
  name: string;
  render(app: App): unknown;
  human(app: App): string;
}

const connectorsSection: StatusSection = {
  name: "connectors",
  render: (app) => readConnectorStatuses(app).filter((s) => s.mode !== "disabled"),
  human: (app) =>
    readConnectorStatuses(app)
      .filter((s) => s.mode !== "disabled")
      .map((s) => `${s.transport} ${s.mode} ${s.liveness}${s.last_error_code ? ` (${s.last_error_code})` : ""}`)
      .join(", ") || "none enabled",
};

const statusSections: readonly StatusSection[] = [killSwitchStatusSection, lifecycleStatusSection, connectorsSection];

function parseSince(s: string | undefined, now: number): number {
  if (!s) return 0;
  const m = s.match(/^(\d+)(ms|s|m|h|d)$/);
  if (m) return now - Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "ms"];
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new Error(`--since ${s}: expected a duration like 15m or an ISO time`);
  return t;
}

export function registerObserve(program: Command): void {
  program
    .command("health")
    .description("healthy / degraded / failing with reason codes; exit 0 / 1 / 2")
    .option("--json", "machine-readable")
    .action((_o, cmd: Command) => {
      const app = appFor(cmd);
      try {
        const h = healthFor(app);
        emit(
          globals(cmd).json,
          h,
          () => `${h.state}  ${h.reason_codes.join(", ")}  (failure_streak ${h.failure_streak}, queue_depth ${h.queue_depth})`,
        );
        process.exitCode = HEALTH_EXIT[h.state];
      } finally {
        app.close();
      }
    });

  program
    .command("status")
    .description("rollout gate (pass only when healthy), counters, runner state, outbound mode")
    .option("--json", "machine-readable")
    .action((_o, cmd: Command) => {
      const app = appFor(cmd);
      try {
        const h = healthFor(app);
        const state = readRunnerState(app.store);
        const outbox = app.store.inspect.outboxByStatus();
        const out = {
          rollout_gate: h.state === "healthy" ? "pass" : "fail",
          health: h,
          runner: state,
          outbound: {
            mode: app.config.outbound.mode,
            max_chars: app.config.outbound.max_chars,
            by_status: Object.fromEntries(outbox.map((r) => [r.status, r.n])),
          },
          counters: app.store.counters.all(),
          policy: readPolicyStatus({ get: (k) => app.store.kv.get(k), put: (k, v) => app.store.kv.put(k, v) }),
          config: { file: app.loaded.file, env_overrides: app.loaded.envApplied },
          ...Object.fromEntries(statusSections.map((s) => [s.name, s.render(app)])),
        };
        emit(globals(cmd).json, out, () =>
          [
            `rollout gate: ${out.rollout_gate}  (health ${h.state}: ${h.reason_codes.join(", ")})`,
            `runner: ${state ? `${state.cycles} cycles, processed ${state.totals.processed}, duplicates ${state.totals.duplicates}, quarantined ${state.totals.quarantined}, failed ${state.totals.failed}, queue_depth ${state.queue_depth}` : "never ran"}`,
            `outbound: ${out.outbound.mode}; ${outbox.map((r) => `${r.status} ${r.n}`).join(", ") || "no replies yet"}`,
            `policy: ${out.policy ? `${out.policy.state}${out.policy.active_sha256 ? ` (${out.policy.active_sha256.slice(0, 12)})` : ""}${out.policy.error ? ` — ${out.policy.error}` : ""}` : "not loaded yet"}`,
            ...statusSections.map((s) => `${s.name}: ${s.human(app)}`),
          ].join("\n"),
        );
      } finally {
        app.close();
      }
    });

  program
    .command("events")
    .description("runtime events (one per runner cycle that did something, plus lifecycle events)")
    .option("--since <when>", "duration (15m, 2h) or ISO time")
    .option("--limit <n>", "most recent N", "50")
    .option("--follow", "keep printing new events (NDJSON) until interrupted")
    .option("--json", "NDJSON output")
    .action(async (o: { since?: string; limit: string; follow?: boolean }, cmd: Command) => {
      const app = appFor(cmd);
      try {
        const since = parseSince(o.since, app.clock());
        const render = (r: RuntimeEventRow) => ({
          ...r,
          reason_codes: JSON.parse(r.reason_codes) as string[],
          detail: JSON.parse(r.detail) as unknown,
        });
        const newest = (afterId: number, limit: number) =>
          app.store.inspect.runtimeEvents({ sinceMs: since, afterId, limit }).reverse().map(render);
        const rows = newest(0, Number(o.limit));
        const json = globals(cmd).json || o.follow;
        for (const r of rows)
          process.stdout.write(
            json ? JSON.stringify(r) + "\n" : `${new Date(r.at_ms).toISOString()}  ${r.event}  ${r.health}  ${r.reason_codes.join(",")}\n`,
          );
        let last = rows.at(-1)?.id ?? 0;
        if (!o.follow) return;
        const ac = new AbortController();
        process.once("SIGINT", () => ac.abort());
        process.once("SIGTERM", () => ac.abort());
        while (!ac.signal.aborted) {
          await new Promise((r) => setTimeout(r, 500));
          for (const r of newest(last, 1000)) {
            process.stdout.write(JSON.stringify(r) + "\n");
            last = r.id;
          }
        }
      } finally {
        app.close();
      }
    });

  program
    .command("traces")
    .description("route traces: one record per processed event with its decisions and outcome")
    .option("--limit <n>", "most recent N", "20")
    .option("--event <event_id>", "one event")
    .option("--json", "machine-readable (array)")
    .action((o: { limit: string; event?: string }, cmd: Command) => {
      const app = appFor(cmd);
      try {
        const rows = o.event ? app.store.inspect.trace(o.event) : app.store.inspect.recentTraces(Number(o.limit));
        const traces = rows.reverse().map((r) => ({
          event_id: r.event_id,
          transport: r.transport,
          kind: r.kind,
          chat_type: r.chat_type,
          conversation_id: r.conversation_id,
          actor_id: r.actor_id,
          occurred_at_ms: r.occurred_at_ms,
          processed_at_ms: r.processed_at_ms,
          outcome: r.outcome,
          reason: r.reason,
          decisions: JSON.parse(r.decisions) as { reason: string }[],
          route: r.route ? JSON.parse(r.route) : null,
        }));
        emit(globals(cmd).json, traces, () =>
          table([
            ["event_id", "outcome", "reason", "decisions"],
            ...traces.map((t) => [t.event_id, t.outcome, t.reason, t.decisions.map((d) => d.reason).join(" > ")]),
          ]),
        );
      } finally {
        app.close();
      }
    });
}
