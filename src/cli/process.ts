/**
 * @module `tau process [--once] [--wait-retries <ms>]`: the runner alone, over the ingress files. `--once` drains
 * what is queued and reports the replies still waiting for a scheduled retry (count, next due time) rather than
 * exiting as if done; `--wait-retries` keeps draining as retries fall due until none is left or the bound passes.
 */
import type { Command } from "commander";
import { createAppRunner } from "../app/index.ts";
import { TauError } from "../contracts/errors.ts";
import { waitingRetries } from "../outbound/waiting-retries.ts";
import type { CycleReport } from "../runner/runner-state.ts";
import { watchPolicies } from "./watch-policies.ts";
import { appFor, globals } from "./context.ts";
import { emit } from "./output.ts";

function nonNegativeMs(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new TauError("USAGE_WAIT_RETRIES", `--wait-retries ${v}: expected a whole number of milliseconds`);
  return n;
}

/** Sleep `ms` (real time), ended early by `signal`. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

export function registerProcess(program: Command): void {
  program
    .command("process")
    .description("consume ingress exactly once: decide, queue replies, deliver (runs until SIGTERM/SIGINT)")
    .option("--once", "drain what is queued, then exit (reporting replies that wait for a retry)")
    .option("--wait-retries <ms>", "with --once: keep delivering scheduled retries as they fall due, for at most <ms>", nonNegativeMs)
    .option("--json", "machine-readable summary (with --once)")
    .action(async (opts: { once?: boolean; waitRetries?: number }, cmd: Command) => {
      if (opts.waitRetries !== undefined && !opts.once) throw new TauError("USAGE_WAIT_RETRIES", "--wait-retries goes with --once");
      // Commits do not each wait for the disk; every send, ack and answer does (src/store/durability.ts).
      const app = appFor(cmd, { durability: "before-effects" });
      const { runner, services, close } = createAppRunner(app);
      const ac = new AbortController();
      const stop = () => ac.abort();
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
      try {
        if (opts.once) {
          const started = performance.now();
          // Replies are counted where they land, the outbox: a cycle report sees only the replies its pipeline wrote,
          // not those of command jobs (run after the commit) or responder jobs (run by their own worker).
          const outboxMark = app.store.outbox.lastId();
          const reports: CycleReport[] = await runner.drain();
          let waiting = waitingRetries(app.store);
          if (opts.waitRetries !== undefined) {
            const until = app.clock() + opts.waitRetries;
            // Each retry falls due on the app clock; sleep to the next one (or the bound), then drain again.
            while (waiting.count > 0 && waiting.next_due_at_ms !== null && !ac.signal.aborted) {
              const now = app.clock();
              if (now >= until) break;
              await sleep(Math.max(0, Math.min(waiting.next_due_at_ms, until) - now), ac.signal);
              if (app.clock() < waiting.next_due_at_ms) continue;
              reports.push(...(await runner.drain()));
              waiting = waitingRetries(app.store);
            }
          }
          const elapsedMs = Math.round(performance.now() - started);
          const state = runner.readState();
          const sum = reports.reduce(
            (a, r) => ({
              processed: a.processed + r.processed,
              duplicates: a.duplicates + r.duplicates,
              quarantined: a.quarantined + r.quarantined,
              failed: a.failed + r.failed,
              replies: a.replies + r.replies,
              delivered: a.delivered + r.delivered,
            }),
            { processed: 0, duplicates: 0, quarantined: 0, failed: 0, replies: 0, delivered: 0 },
          );
          const nextRetryAt = waiting.next_due_at_ms === null ? null : new Date(waiting.next_due_at_ms).toISOString();
          const out = {
            cycles: reports.length,
            ...sum,
            replies: app.store.outbox.repliesAfter(outboxMark),
            queue_depth: reports.at(-1)?.queue_depth ?? 0,
            retries_waiting: waiting.count,
            next_retry_at: nextRetryAt,
            elapsed_ms: elapsedMs,
            health: state?.health ?? "healthy",
            reason_codes: state?.last_reason_codes ?? [],
          };
          const retries =
            waiting.count > 0
              ? `; NOT settled: ${waiting.count} ${waiting.count === 1 ? "reply waits" : "replies wait"} for a scheduled retry (next at ${nextRetryAt}; run again then, or pass --wait-retries <ms>)`
              : "";
          emit(
            globals(cmd).json,
            out,
            () =>
              `processed ${out.processed}, duplicates ${out.duplicates}, quarantined ${out.quarantined}, failed ${out.failed}, replies ${out.replies}, delivered ${out.delivered}; queue_depth ${out.queue_depth}; health ${out.health}; ${out.elapsed_ms} ms${retries}`,
          );
          return;
        }
        const stopWatching = watchPolicies(app, services);
        app.logger.info({ event: "runner.started", mode: app.config.outbound.mode }, "runner started");
        await runner.run(ac.signal);
        stopWatching();
        app.logger.info({ event: "runner.stopped" }, "runner stopped");
      } finally {
        process.off("SIGTERM", stop);
        process.off("SIGINT", stop);
        close();
        app.close();
      }
    });
}
