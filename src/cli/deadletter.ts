/**
 * @module `tau deadletter list [--json]` and `tau deadletter replay [--limit N] [--yes]`: undelivered replies, and
 * putting dead_letter / unknown rows back in the queue at their first unsent chunk (audited).
 */
import type { Command } from "commander";
import { appendAudit } from "../audit/audit-log.ts";
import { TauError } from "../contracts/errors.ts";
import { listDeadLetters, replayDeadLetters } from "../outbound/dead-letters.ts";
import { appFor, globals } from "./context.ts";
import { emit, table } from "./output.ts";
import { cliPrincipal, confirmOnStdin } from "./run-capability.ts";

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new TauError("USAGE_LIMIT", `--limit ${v}: expected a positive integer`);
  return n;
}

export function registerDeadletter(program: Command): void {
  const dl = program.command("deadletter").description("undelivered replies: dead letters, unknown (ambiguous) sends, failures");
  dl.command("list")
    .option("--limit <n>", "at most N rows", "200")
    .option("--json", "machine-readable")
    .action((o: { limit: string }, cmd: Command) => {
      const app = appFor(cmd);
      try {
        const rows = listDeadLetters(app.store, { limit: positiveInt(o.limit) });
        emit(globals(cmd).json, rows, () =>
          rows.length
            ? table([
                ["outbox_id", "transport", "status", "reason", "attempts", "sent", "last error"],
                ...rows.map((r) => [
                  r.outbox_id,
                  r.transport,
                  r.status,
                  r.reason,
                  r.attempts,
                  `${r.chunks_sent}/${r.chunk_count}`,
                  r.last_error?.detail ?? null,
                ]),
              ])
            : "no dead letters",
        );
      } finally {
        app.close();
      }
    });
  dl.command("replay")
    .description("re-queue dead_letter and unknown rows at their first unsent chunk (unknown rows may then arrive twice)")
    .option("--limit <n>", "at most N rows", "100")
    .option("--yes", "confirm")
    .option("--json", "machine-readable")
    .action(async (o: { limit: string; yes?: boolean }, cmd: Command) => {
      const limit = positiveInt(o.limit);
      const app = appFor(cmd);
      try {
        const candidates = listDeadLetters(app.store, { limit: 100_000 })
          .filter((r) => r.replayable)
          .slice(0, limit);
        if (candidates.length === 0) {
          emit(globals(cmd).json, { replayed: [], count: 0 }, () => "nothing to replay");
          return;
        }
        const unknown = candidates.filter((r) => r.status === "unknown").length;
        const ok =
          o.yes ||
          (await confirmOnStdin(
            `Re-queue ${candidates.length} replies${unknown ? ` (${unknown} unknown: they may have been delivered already)` : ""}?`,
          ));
        const now = app.clock();
        if (!ok) {
          appendAudit(
            app.store,
            {
              actor: cliPrincipal(),
              surface: "cli",
              action: "deadletter.replay",
              target: `${candidates.length} rows`,
              args: { limit },
              outcome: "refused",
              reason_code: "command_not_confirmed",
            },
            now,
          );
          emit(
            globals(cmd).json,
            { replayed: [], count: 0, reason: "command_not_confirmed" },
            () => 'not confirmed: pass --yes or type "yes"',
          );
          process.exitCode = 1;
          return;
        }
        const ids = app.store.atomically(() => {
          const replayed = replayDeadLetters(app.store, { limit, now });
          appendAudit(
            app.store,
            {
              actor: cliPrincipal(),
              surface: "cli",
              action: "deadletter.replay",
              target: `${replayed.length} rows`,
              args: { limit, outbox_ids: replayed },
              outcome: "replayed",
              reason_code: "deadletter_replayed",
            },
            now,
          );
          return replayed;
        });
        emit(
          globals(cmd).json,
          { replayed: ids, count: ids.length },
          () => `re-queued ${ids.length} replies; a running service delivers them on its next cycle`,
        );
      } finally {
        app.close();
      }
    });
}
