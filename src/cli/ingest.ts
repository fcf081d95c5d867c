/** @module `tau ingest <file> --transport T`: raw provider payloads → normalized ingress lines. */
import fs from "node:fs";
import type { Command } from "commander";
import { TRANSPORTS, TransportSchema } from "../contracts/envelope.ts";
import { TauError } from "../contracts/errors.ts";
import { ingestPayload } from "../ingress/index.ts";
import { normalizerFor, openIngressWriter } from "../app/index.ts";
import { appFor, globals } from "./context.ts";
import { emit } from "./output.ts";

export function registerIngest(program: Command): void {
  program
    .command("ingest")
    .description("normalize a raw provider payload file (object, array, NDJSON, getUpdates response, WhatsApp webhook body) into ingress")
    .argument("<file>", "payload file")
    .requiredOption("--transport <transport>", `one of ${TRANSPORTS.join(", ")}`)
    .option("--keep-raw", "keep the raw payload in each envelope (debugging only)")
    .option("--json", "machine-readable report")
    .action(async (file: string, opts: { transport: string; keepRaw?: boolean }, cmd: Command) => {
      const t = TransportSchema.safeParse(opts.transport);
      if (!t.success) {
        throw new TauError("USAGE_UNKNOWN_TRANSPORT", `unknown transport "${opts.transport}" (reason ingress_unknown_transport)`, {
          hint: `use one of ${TRANSPORTS.join(", ")}`,
        });
      }
      const normalize = normalizerFor(t.data);
      if (!normalize)
        throw new TauError("USAGE_TRANSPORT_NOT_INGESTIBLE", `${t.data} payloads come from the IMAP connector, not from files`);
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(file);
      } catch (err) {
        throw new TauError("INGEST_FILE_UNREADABLE", `${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
          hint: "check the path",
        });
      }
      const app = appFor(cmd);
      const writer = openIngressWriter(app);
      try {
        const report = await ingestPayload({
          bytes,
          transport: t.data,
          normalize,
          ctx: { identity: app.config.identity, receivedAtMs: app.clock(), keepRaw: opts.keepRaw ?? app.config.ingress.keep_raw },
          writer,
          maxLineBytes: app.config.ingress.max_line_bytes,
        });
        emit(globals(cmd).json, report, () =>
          [
            `ingested ${report.accepted} ${report.transport} event(s) into ingress/${report.transport}.ndjson`,
            ...report.ignored.map((i) => `  ignored  line ${i.line} item ${i.item}: ${i.code} — ${i.detail}`),
            ...report.refused.map((i) => `  refused  line ${i.line} item ${i.item}: ${i.code} — ${i.detail}`),
          ].join("\n"),
        );
        if (report.refused.length > 0) process.exitCode = 1;
      } finally {
        await writer.close();
        app.close();
      }
    });
}
