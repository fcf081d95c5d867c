/** @module `tau ingest <file> --transport T`: raw provider payloads → normalized ingress lines, streamed with bounded memory. */
import fs from "node:fs";
import v8 from "node:v8";
import vm from "node:vm";
import type { Command } from "commander";
import { TRANSPORTS, TransportSchema } from "../contracts/envelope.ts";
import { TauError } from "../contracts/errors.ts";
import { ingestPayload, type IngestProgress } from "../ingress/index.ts";
import { openIngressWriter } from "../app/open-app.ts";
import { normalizerFor } from "../app/transports.ts";
import { appFor, globals } from "./context.ts";
import { emit } from "./output.ts";

/** Read size: large enough for throughput, small enough that memory does not follow the file. */
const CHUNK_BYTES = 64 * 1024;
/**
 * A file at least this large is ingested with a slower-growing V8 old generation ({@link HEAP_GROWING_PERCENT}).
 * Normalizing promotes a steady share of short-lived objects to the old generation; with V8's default growing factor
 * the heap swells by ~40 MB of that garbage between full collections, so peak RSS sits ~55 MB above a one-line ingest
 * whatever the file size. Growing the limit by 20% of the live heap instead of V8's dynamic factor keeps peak RSS ~20 MB
 * above a one-line ingest (92 MB for 1 GB against 146 MB), for ~8% more time. Not a cap: a 30 MB single document still
 * gets the memory it needs, after more frequent full collections (scripts/bench-ingest-file.ts measures it).
 *
 * The factor applies from the next full collection on: the limit V8 set at the last one (during start-up, with the
 * default factor) stands until the old generation reaches it — ~37 MB, the peak of the whole run whenever start-up's
 * full collection came before the flag. So one full collection is run right after setting it ({@link fullGc}).
 */
const STREAMING_HEAP_BYTES = 8 * 1024 * 1024;
const HEAP_GROWING_PERCENT = 20;
/** At most this often a progress line is redrawn. */
const PROGRESS_EVERY_MS = 250;

/**
 * One full garbage collection, so a changed heap flag sets the old generation's limit now. Node has no API for it
 * without `--expose-gc`: the flag set at run time gives a fresh context a `gc` function (what jest does for
 * `--logHeapUsage`); the main context's globals are untouched.
 */
function fullGc(): void {
  v8.setFlagsFromString("--expose-gc");
  (vm.runInNewContext("gc") as () => void)();
}

function mib(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`;
}

function duration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${Math.round(s)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
}

/** A throttled one-line progress report on stderr: bytes, events, rate and ETA. */
export function progressReporter(write: (s: string) => void, now: () => number, tty: boolean): (p: IngestProgress) => void {
  const started = now();
  let last = -Infinity;
  return (p) => {
    const t = now();
    if (!p.done && t - last < PROGRESS_EVERY_MS) return;
    last = t;
    const secs = Math.max((t - started) / 1000, 0.001);
    const rate = p.accepted / secs;
    const byteRate = p.bytes / secs;
    const pct = p.totalBytes ? ` (${Math.min(100, Math.floor((p.bytes / p.totalBytes) * 100))}%)` : "";
    const eta = p.totalBytes && byteRate > 0 ? duration((p.totalBytes - p.bytes) / byteRate) : "?";
    const line =
      `ingest: ${mib(p.bytes)}${p.totalBytes ? ` of ${mib(p.totalBytes)}` : ""}${pct}, ${p.accepted} events, ` +
      `${p.refused} refused, ${Math.round(rate)} events/s, ${p.done ? `done in ${duration(secs)}` : `ETA ${eta}`}`;
    // On a terminal one line is redrawn; elsewhere (--progress into a log) each report is its own line.
    write(tty ? `\r\x1b[2K${line}${p.done ? "\n" : ""}` : `${line}\n`);
  };
}

export function registerIngest(program: Command): void {
  program
    .command("ingest")
    .description("normalize a raw provider payload file (object, array, NDJSON, getUpdates response, WhatsApp webhook body) into ingress")
    .argument("<file>", "payload file")
    .requiredOption("--transport <transport>", `one of ${TRANSPORTS.join(", ")}`)
    .option("--keep-raw", "keep the raw payload in each envelope (debugging only)")
    .option("--progress", "report progress on stderr even when it is not a terminal")
    .option("--no-progress", "no progress line, even on a terminal")
    .option("--json", "machine-readable report")
    .action(async (file: string, opts: { transport: string; keepRaw?: boolean; progress?: boolean }, cmd: Command) => {
      const t = TransportSchema.safeParse(opts.transport);
      if (!t.success) {
        throw new TauError("USAGE_UNKNOWN_TRANSPORT", `unknown transport "${opts.transport}" (reason ingress_unknown_transport)`, {
          hint: `use one of ${TRANSPORTS.join(", ")}`,
        });
      }
      const normalize = normalizerFor(t.data);
      if (!normalize)
        throw new TauError("USAGE_TRANSPORT_NOT_INGESTIBLE", `${t.data} payloads come from the IMAP connector, not from files`);
      let fd: number;
      let size: number;
      try {
        fd = fs.openSync(file, "r");
        const st = fs.fstatSync(fd);
        if (!st.isFile()) {
          fs.closeSync(fd);
          throw Object.assign(new Error("not a file"), { code: "EISDIR" });
        }
        size = st.size;
      } catch (err) {
        throw new TauError("INGEST_FILE_UNREADABLE", `${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
          hint: "check the path",
        });
      }
      if (size >= STREAMING_HEAP_BYTES) {
        v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
        fullGc();
      }
      const stream = fs.createReadStream("", { fd, highWaterMark: CHUNK_BYTES });
      const app = appFor(cmd);
      // Every envelope is validated on the way in (by its normalizer, or as a v1 envelope): no second check.
      const writer = openIngressWriter(app, true);
      // `--progress` forces it, `--no-progress` silences it; by default only a terminal gets it.
      const tty = Boolean(process.stderr.isTTY);
      const explicit = cmd.getOptionValueSource("progress") === "cli";
      const showProgress = explicit ? opts.progress === true : tty;
      try {
        const report = await ingestPayload({
          chunks: stream,
          totalBytes: size,
          transport: t.data,
          normalize,
          ctx: { identity: app.config.identity, receivedAtMs: app.clock(), keepRaw: opts.keepRaw ?? app.config.ingress.keep_raw },
          writer,
          maxLineBytes: app.config.ingress.max_line_bytes,
          onProgress: showProgress ? progressReporter((s) => process.stderr.write(s), app.clock, tty) : undefined,
        });
        const more = (shown: number, total: number) => (total > shown ? [`  … and ${total - shown} more`] : []);
        emit(globals(cmd).json, report, () =>
          [
            `ingested ${report.accepted} ${report.transport} event(s) into ${
              app.config.ingress.driver === "nats"
                ? `stream ${app.config.ingress.stream} (tau.ingress.${report.transport})`
                : `ingress/${report.transport}.ndjson`
            }`,
            ...report.ignored.map((i) => `  ignored  line ${i.line} item ${i.item}: ${i.code} — ${i.detail}`),
            ...more(report.ignored.length, report.ignored_total),
            ...report.refused.map((i) => `  refused  line ${i.line} item ${i.item}: ${i.code} — ${i.detail}`),
            ...more(report.refused.length, report.refused_total),
          ].join("\n"),
        );
        if (report.refused_total > 0) process.exitCode = 1;
      } finally {
        stream.destroy();
        await writer.close();
        app.close();
      }
    });
}
