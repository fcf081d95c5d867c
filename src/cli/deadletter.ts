/**
 * @module `tau deadletter list [--json]` and `tau deadletter replay [--limit N] [--include-ambiguous] [--yes]`:
 * undelivered replies, ambiguous ones (they may have been delivered: shown with what was sent, when and the error)
 * apart from exhausted and failed ones; replay re-queues exhausted rows at their first unsent chunk, and ambiguous
 * ones only when asked, saying how many it left alone (audited).
 */
import type { Command } from "commander";
import { appendAudit } from "../audit/audit-log.ts";
import { listDeadLetters, replayDeadLetters, replayTakes, type DeadLetter } from "../outbound/dead-letters.ts";
import { appFor, globals } from "./context.ts";
import { limitOption } from "./options.ts";
import { emit, table } from "./output.ts";
import { cliPrincipal, confirmOnStdin } from "./run-capability.ts";

const preview = (text: string) => {
  const one = text.replace(/\s+/g, " ");
  return one.length > 60 ? `${one.slice(0, 59)}…` : one;
};
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The human listing: ambiguous rows first, each with its evidence; then exhausted and failed ones. */
function render(rows: DeadLetter[]): string {
  if (rows.length === 0) return "no dead letters";
  const ambiguous = rows.filter((r) => r.kind === "ambiguous");
  const others = rows.filter((r) => r.kind !== "ambiguous");
  const parts: string[] = [];
  if (ambiguous.length)
    parts.push(
      `ambiguous — may have been delivered; check the conversation before replaying (tau deadletter replay --include-ambiguous):\n` +
        table([
          ["outbox_id", "transport", "conversation", "chunk", "sent at", "what was sent", "error"],
          ...ambiguous.map((r) => [
            r.outbox_id,
            r.transport,
            r.conversation_id,
            r.evidence ? `${r.evidence.chunk + 1}/${r.evidence.chunk_count}` : null,
            iso(r.evidence?.sent_at_ms ?? null),
            r.evidence ? preview(r.evidence.text) : null,
            r.evidence?.error?.detail ?? r.last_error?.detail ?? null,
          ]),
        ]),
    );
  if (others.length)
    parts.push(
      `exhausted (out of attempts; replay re-sends) and failed (refused for good):\n` +
        table([
          ["outbox_id", "transport", "kind", "reason", "attempts", "sent", "last error"],
          ...others.map((r) => [
            r.outbox_id,
            r.transport,
            r.kind,
            r.reason,
            r.attempts,
            `${r.chunks_sent}/${r.chunk_count}`,
            r.last_error?.detail ?? null,
          ]),
        ]),
    );
  return parts.join("\n\n");
}

export function registerDeadletter(program: Command): void {
  const dl = program.command("deadletter").description("undelivered replies: ambiguous (unknown) sends, dead letters, failures");
  dl.command("list")
    .option("--limit <n>", "at most N rows", limitOption, 200)
    .option("--json", "one JSON array")
    .action((o: { limit: number }, cmd: Command) => {
      const app = appFor(cmd);
      try {
        const rows = listDeadLetters(app.store, { limit: o.limit });
        emit(globals(cmd).json, rows, () => render(rows));
      } finally {
        app.close();
      }
    });
  dl.command("replay")
    .description("re-queue dead letters at their first unsent chunk; ambiguous (unknown) rows only with --include-ambiguous")
    .option("--limit <n>", "at most N rows", limitOption, 100)
    .option("--include-ambiguous", "also re-send unknown rows (they may have been delivered: they may then arrive twice)")
    .option("--yes", "confirm")
    .option("--json", "machine-readable")
    .action(async (o: { limit: number; includeAmbiguous?: boolean; yes?: boolean }, cmd: Command) => {
      const limit = o.limit;
      const includeAmbiguous = o.includeAmbiguous ?? false;
      const app = appFor(cmd);
      try {
        const all = listDeadLetters(app.store, { limit: 100_000 });
        const candidates = all.filter((r) => replayTakes(r.status, includeAmbiguous)).slice(0, limit);
        const ambiguousLeft = includeAmbiguous ? 0 : all.filter((r) => r.kind === "ambiguous").length;
        const leftNote = ambiguousLeft
          ? `; left ${ambiguousLeft} ambiguous ${ambiguousLeft === 1 ? "reply" : "replies"} alone (they may have been delivered: see tau deadletter list; --include-ambiguous re-sends them)`
          : "";
        if (candidates.length === 0) {
          emit(globals(cmd).json, { replayed: [], count: 0, ambiguous_left: ambiguousLeft }, () => `nothing to replay${leftNote}`);
          return;
        }
        const unknown = candidates.filter((r) => r.kind === "ambiguous").length;
        const ok =
          o.yes ||
          (await confirmOnStdin(
            `Re-queue ${candidates.length} replies${unknown ? ` (${unknown} ambiguous: they may have been delivered already and may arrive twice)` : ""}?`,
          ));
        const now = app.clock();
        const args = { limit, ...(includeAmbiguous ? { include_ambiguous: true } : {}) };
        if (!ok) {
          appendAudit(
            app.store,
            {
              actor: cliPrincipal(),
              surface: "cli",
              action: "deadletter.replay",
              target: `${candidates.length} rows`,
              args,
              outcome: "refused",
              reason_code: "command_not_confirmed",
            },
            now,
          );
          emit(
            globals(cmd).json,
            { replayed: [], count: 0, ambiguous_left: ambiguousLeft, reason: "command_not_confirmed" },
            () => 'not confirmed: pass --yes or type "yes"',
          );
          process.exitCode = 1;
          return;
        }
        const ids = app.store.atomically(() => {
          const replayed = replayDeadLetters(app.store, { limit, now, includeAmbiguous });
          appendAudit(
            app.store,
            {
              actor: cliPrincipal(),
              surface: "cli",
              action: "deadletter.replay",
              target: `${replayed.length} rows`,
              args: { ...args, outbox_ids: replayed },
              outcome: "replayed",
              reason_code: "deadletter_replayed",
            },
            now,
          );
          return replayed;
        });
        emit(
          globals(cmd).json,
          { replayed: ids, count: ids.length, ambiguous_left: ambiguousLeft },
          () => `re-queued ${ids.length} replies; a running service delivers them on its next cycle${leftNote}`,
        );
      } finally {
        app.close();
      }
    });
}
