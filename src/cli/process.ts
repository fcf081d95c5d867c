/** @module `tau process [--once]`: the runner alone, over the ingress files. */
import type { Command } from "commander";
import { createAppRunner } from "../app/index.ts";
import { watchPolicies } from "./watch-policies.ts";
import { appFor, globals } from "./context.ts";
import { emit } from "./output.ts";

export function registerProcess(program: Command): void {
  program
    .command("process")
    .description("consume ingress exactly once: decide, queue replies, deliver (runs until SIGTERM/SIGINT)")
    .option("--once", "drain what is queued, then exit")
    .option("--json", "machine-readable summary (with --once)")
    .action(async (opts: { once?: boolean }, cmd: Command) => {
      const app = appFor(cmd);
      const { runner, services, close } = createAppRunner(app);
      try {
        if (opts.once) {
          const started = performance.now();
          const reports = await runner.drain();
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
          const out = {
            cycles: reports.length,
            ...sum,
            queue_depth: reports.at(-1)?.queue_depth ?? 0,
            elapsed_ms: elapsedMs,
            health: state?.health ?? "healthy",
            reason_codes: state?.last_reason_codes ?? [],
          };
          emit(
            globals(cmd).json,
            out,
            () =>
              `processed ${out.processed}, duplicates ${out.duplicates}, quarantined ${out.quarantined}, failed ${out.failed}, replies ${out.replies}, delivered ${out.delivered}; queue_depth ${out.queue_depth}; health ${out.health}; ${out.elapsed_ms} ms`,
          );
          return;
        }
        const ac = new AbortController();
        const stop = () => ac.abort();
        process.once("SIGTERM", stop);
        process.once("SIGINT", stop);
        const stopWatching = watchPolicies(app, services);
        app.logger.info({ event: "runner.started", mode: app.config.outbound.mode }, "runner started");
        await runner.run(ac.signal);
        stopWatching();
        app.logger.info({ event: "runner.stopped" }, "runner stopped");
      } finally {
        close();
        app.close();
      }
    });
}
