/**
 * @module `tau media inspect <event_id> [--json]`: what media understanding did with each attachment of an event —
 * processed, skipped or failed, the reason code, the summary (at most `media.max_summary_chars`), the type the bytes
 * showed and the stable file identity used for duplicates. Exit 1 when the event has no media records.
 */
import type { Command } from "commander";
import { appFor, globals } from "./context.ts";
import { emit, table } from "./output.ts";

export function registerMedia(program: Command): void {
  const media = program.command("media").description("media understanding records");
  media
    .command("inspect")
    .description("per-attachment records of one event")
    .argument("<event_id>", "the event id (tau traces shows them)")
    .option("--json", "machine-readable")
    .action((eventId: string, _o, cmd: Command) => {
      const app = appFor(cmd);
      try {
        const records = app.store.media.recordsOf(eventId);
        emit(globals(cmd).json, { event_id: eventId, records }, () =>
          records.length === 0
            ? `no media records for ${eventId} (no attachments, not yet answered, or not routed to an llm responder)`
            : table([
                ["#", "kind", "status", "reason", "type", "bytes", "summary"],
                ...records.map((r) => [r.idx + 1, r.kind, r.status, r.reason, r.detected_mime, r.bytes, r.summary]),
              ]),
        );
        if (records.length === 0) process.exitCode = 1;
      } finally {
        app.close();
      }
    });
}
