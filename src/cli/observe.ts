/**
 * @module `tau health`, `tau status`, `tau events`, `tau traces`: read-only views, all with `--json`. They open state
 * for reading only (a missing state folder is `state_missing`, exit 2) and judge health by the service's recorded
 * configuration, so a monitoring shell without the service's environment gets the service's verdict. `tau health`
 * loads only what the verdict needs (src/app/health-verdict.ts); the `tau status` sections load with that command.
 */
import type { Command } from "commander";
import type { App } from "../app/open-app.ts";
import { healthForCommand } from "../app/health-verdict.ts";
import { readConfigStatus, readPolicyStatus } from "../config/policy-manager.ts";
import { HEALTH_EXIT } from "../health/health.ts";
import { effectiveConfig, readRunnerState } from "../health/health-facts.ts";
import type { RuntimeEventRow } from "../store/inspect-store.ts";
import { globals } from "./context.ts";
import { emit, table } from "./output.ts";
import { emitRows, limitOption, outputFormat } from "./options.ts";
import { isStateMissing, readOnlyAppFor, withReadOnlyApp } from "./read-only.ts";
import { resolveWhen, WHEN_HELP, whenOption, type When } from "./time-range.ts";

export function registerObserve(program: Command): void {
  program
    .command("health")
    .description("healthy / degraded / failing with reason codes; exit 0 / 1 / 2")
    .option("--json", "machine-readable")
    .action(async (_o, cmd: Command) => {
      let app: App;
      try {
        app = readOnlyAppFor(cmd);
      } catch (err) {
        if (!isStateMissing(err)) throw err;
        const dir = String(err.details.state_dir ?? "");
        emit(
          globals(cmd).json,
          { state: "failing", reason_codes: ["state_missing"], state_dir: dir },
          () => `failing  state_missing  (no tau state at ${dir}: pass --state-dir or TAU_STATE_DIR)`,
        );
        process.exitCode = HEALTH_EXIT.failing;
        return;
      }
      try {
        const h = await healthForCommand(app);
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
    .action((_o, cmd: Command) =>
      withReadOnlyApp(cmd, async (app) => {
        // The status sections (connectors, cluster, kill switches…) load only here: `tau health` never needs them.
        const { nodeIdOf, statusSections } = await import("./status-sections.ts");
        const h = await healthForCommand(app);
        const state = readRunnerState(app.store, app.config);
        const outbox = app.store.inspect.outboxByStatus();
        const out = {
          node_id: nodeIdOf(app.config),
          rollout_gate: h.state === "healthy" ? "pass" : "fail",
          health: h,
          runner: state,
          outbound: {
            mode: app.config.outbound.mode,
            max_chars: app.config.outbound.max_chars,
            by_status: Object.fromEntries(outbox.map((r) => [r.status, r.n])),
          },
          counters: app.store.counters.all(),
          policy: readPolicyStatus(app.store.kv),
          config: {
            file: app.loaded.file,
            env_overrides: app.loaded.envApplied,
            judged_by: effectiveConfig(app.store, app.config).source,
            reload: readConfigStatus(app.store.kv),
          },
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
      }),
    );

  program
    .command("events")
    .description("runtime events (one per runner cycle that did something, plus lifecycle events)")
    .option("--since <when>", WHEN_HELP, whenOption)
    .option("--limit <n>", "most recent N", limitOption, 50)
    .option("--follow", "keep printing new events until interrupted (human lines, or NDJSON with --ndjson)")
    .option("--json", "one JSON array")
    .option("--ndjson", "one JSON object per line (what --follow pipes use)")
    .action((o: { since?: When; limit: number; follow?: boolean; ndjson?: boolean }, cmd: Command) => {
      const format = outputFormat({ json: globals(cmd).json, ndjson: o.ndjson }, { streaming: o.follow });
      return withReadOnlyApp(cmd, async (app) => {
        const since = o.since ? resolveWhen(o.since, app.clock()) : 0;
        const render = (r: RuntimeEventRow) => ({
          ...r,
          reason_codes: JSON.parse(r.reason_codes) as string[],
          detail: JSON.parse(r.detail) as unknown,
        });
        const human = (r: ReturnType<typeof render>) =>
          `${new Date(r.at_ms).toISOString()}  ${r.event}  ${r.health}  ${r.reason_codes.join(",")}`;
        const newest = (afterId: number, limit: number) =>
          app.store.inspect.runtimeEvents({ sinceMs: since, afterId, limit }).reverse().map(render);
        const rows = newest(0, o.limit);
        emitRows(format, rows, human, o.follow ? "" : "no runtime events");
        let last = rows.at(-1)?.id ?? 0;
        if (!o.follow) return;
        const ac = new AbortController();
        process.once("SIGINT", () => ac.abort());
        process.once("SIGTERM", () => ac.abort());
        while (!ac.signal.aborted) {
          await new Promise((r) => setTimeout(r, 500));
          const more = newest(last, 1000);
          emitRows(format, more, human);
          last = more.at(-1)?.id ?? last;
        }
      });
    });

  program
    .command("traces")
    .description("route traces: one record per processed event with its decisions and outcome")
    .option("--limit <n>", "most recent N", limitOption, 20)
    .option("--event <event_id>", "one event (still an array: zero or one trace)")
    .option("--json", "one JSON array")
    .action((o: { limit: number; event?: string }, cmd: Command) =>
      withReadOnlyApp(cmd, (app) => {
        const rows = o.event ? app.store.inspect.trace(o.event) : app.store.inspect.recentTraces(o.limit);
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
          // One media_understanding record per attachment, once its responder job looked at them (`tau media inspect`).
          media_understanding: app.store.media
            .recordsOf(r.event_id)
            .map(({ idx, kind, status, reason, summary }) => ({ attachment: idx + 1, kind, status, reason, summary })),
        }));
        emit(globals(cmd).json, traces, () =>
          table([
            ["event_id", "outcome", "reason", "decisions", "media"],
            ...traces.map((t) => [
              t.event_id,
              t.outcome,
              t.reason,
              t.decisions.map((d) => d.reason).join(" > "),
              t.media_understanding.map((m) => `${m.attachment}:${m.reason}`).join(" ") || null,
            ]),
          ]),
        );
      }),
    );
}
