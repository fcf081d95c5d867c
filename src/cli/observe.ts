/** @module `tau health`, `tau status`, `tau events`, `tau traces`: read-only views, all with `--json`. */
import type { Command } from "commander";
import { healthFor, type App } from "../app/index.ts";
import { readPolicyStatus } from "../config/policy-manager.ts";
import { HEALTH_EXIT } from "../health/health.ts";
import { computeHealth, type HealthReport } from "../health/health.ts";
import { killSwitchStatusSection, lifecycleStatusSection } from "../capabilities/killswitch/health.ts";
import type { RunnerState } from "../runner/runner-state.ts";
import { appFor, globals } from "./context.ts";
import { emit, table } from "./output.ts";

function runnerState(app: App): RunnerState | null {
  const raw = app.store.kv.get("runner_state");
  return raw ? (JSON.parse(raw) as RunnerState) : null;
}

/** A `tau status` section beyond the runner. */
export interface StatusSection {
  name: string;
  render(app: App): unknown;
  human(app: App): string;
}

/** Sections of `tau status`: kill switches and channel lifecycle, plus any registered by a command group. */
const statusSections: StatusSection[] = [killSwitchStatusSection, lifecycleStatusSection];
export function addStatusSection(s: StatusSection): void {
  if (!statusSections.some((x) => x.name === s.name)) statusSections.push(s);
}

/** Extra health inputs a command group can contribute (e.g. connectors that run in this process). */
export type HealthContributor = (app: App) => { connectorsNotLive?: string[] };
const contributors: HealthContributor[] = [];
export function addHealthContributor(c: HealthContributor): void {
  contributors.push(c);
}

/** Health as `tau health` reports it: the database view plus registered contributors. */
export function healthOf(app: App): HealthReport {
  const base = healthFor(app);
  const extra = contributors.flatMap((c) => c(app).connectorsNotLive ?? []).filter((t) => !base.reason_codes.includes(`connector_not_live:${t}`));
  if (extra.length === 0) return base;
  return computeHealth({ runner: null, deadLetters: 0, policyReloadRejected: false, policyLoadError: false, connectorsNotLive: extra, killSwitches: [] }).state === "degraded"
    ? { ...base, state: base.state === "healthy" ? "degraded" : base.state, reason_codes: [...base.reason_codes.filter((c) => c !== "healthy_cycle"), ...extra.map((t) => `connector_not_live:${t}`)] }
    : base;
}

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
        const h = healthOf(app);
        emit(globals(cmd).json, h, () => `${h.state}  ${h.reason_codes.join(", ")}  (failure_streak ${h.failure_streak}, queue_depth ${h.queue_depth})`);
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
        const h = healthOf(app);
        const state = runnerState(app);
        const outbox = app.db.prepare("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status ORDER BY status").all() as { status: string; n: number }[];
        const out = {
          rollout_gate: h.state === "healthy" ? "pass" : "fail",
          health: h,
          runner: state,
          outbound: { mode: app.config.outbound.mode, max_chars: app.config.outbound.max_chars, by_status: Object.fromEntries(outbox.map((r) => [r.status, r.n])) },
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
        const q = app.db.prepare("SELECT id, at_ms, event, health, reason_codes, detail FROM runtime_events WHERE at_ms >= ? AND id > ? ORDER BY id DESC LIMIT ?");
        const render = (r: Record<string, unknown>): Record<string, unknown> => ({ ...r, reason_codes: JSON.parse(r.reason_codes as string), detail: JSON.parse(r.detail as string) });
        const rows = (q.all(since, 0, Number(o.limit)) as Record<string, unknown>[]).reverse().map(render);
        const json = globals(cmd).json || o.follow;
        for (const r of rows) process.stdout.write(json ? JSON.stringify(r) + "\n" : `${new Date(r.at_ms as number).toISOString()}  ${r.event}  ${r.health}  ${(r.reason_codes as string[]).join(",")}\n`);
        let last = (rows.at(-1)?.id as number | undefined) ?? 0;
        if (!o.follow) return;
        const ac = new AbortController();
        process.once("SIGINT", () => ac.abort());
        process.once("SIGTERM", () => ac.abort());
        while (!ac.signal.aborted) {
          await new Promise((r) => setTimeout(r, 500));
          for (const r of (q.all(since, last, 1000) as Record<string, unknown>[]).reverse().map(render)) {
            process.stdout.write(JSON.stringify(r) + "\n");
            last = r.id as number;
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
        const rows = (
          o.event
            ? app.db.prepare("SELECT * FROM events WHERE event_id = ?").all(o.event)
            : app.db.prepare("SELECT * FROM events ORDER BY seq DESC LIMIT ?").all(Number(o.limit))
        ) as Record<string, unknown>[];
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
          decisions: JSON.parse(r.decisions as string),
          route: r.route ? JSON.parse(r.route as string) : null,
        }));
        emit(globals(cmd).json, traces, () =>
          table([["event_id", "outcome", "reason", "decisions"], ...traces.map((t) => [t.event_id as string, t.outcome as string, t.reason as string, (t.decisions as { reason: string }[]).map((d) => d.reason).join(" > ")])]),
        );
      } finally {
        app.close();
      }
    });
}

