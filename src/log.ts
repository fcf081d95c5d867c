/**
 * @module pino logs with redaction declared once: tokens, secrets, message bodies and phone numbers never reach a log
 * line unless `telemetry.include_identifiers` is on (identifiers only, never secrets). Times are ISO 8601 (UTC). On
 * stderr a line is NDJSON, or a human line when stderr is a terminal (`log.format: auto`, the default) or when asked
 * (`--log-format pretty`, `TAU_LOG_FORMAT=pretty`). Long-running commands also append the NDJSON lines to
 * `state/logs/tau.ndjson`, rotated by size, which `tau logs` reads.
 *
 * The human format is ours, not pino-pretty: a pino-pretty transport runs in a worker thread and the package brings a
 * dozen dependencies into every start; ours is one synchronous function that `tau logs` reuses for stored lines.
 */
import fs from "node:fs";
import path from "node:path";
import pino, { type Logger } from "pino";

/** Paths removed from every log line. Secrets are always removed. */
const SECRET_PATHS = [
  "token",
  "*.token",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "secret",
  "*.secret",
  "password",
  "*.password",
  "api_key",
  "*.api_key",
  "access_token",
  "*.access_token",
  "auth_token",
  "*.auth_token",
  // A Discord interaction token lets anyone answer as the app for 15 minutes (an envelope's meta, a target, an action).
  "interaction_token",
  "*.interaction_token",
  "*.*.interaction_token",
  "*.*.*.interaction_token",
];

/** Paths removed unless identifiers are explicitly allowed. */
const PII_PATHS = ["text", "*.text", "body", "*.body", "phone", "*.phone", "to", "*.to", "from", "*.from", "email", "*.email"];

export type { Logger };

/** `auto`: human lines when stderr is a terminal, else NDJSON. */
export type LogFormat = "auto" | "json" | "pretty";

/** The log file's size limit before it is rotated, and how many rotated files are kept (`tau.ndjson.1` … `.3`). */
export const LOG_FILE_MAX_BYTES = 10 * 1024 * 1024;
export const LOG_FILE_KEEP = 3;

/** Where the logs of this process go, chosen once by the CLI before the command runs. */
interface LogOutput {
  /** `--log-format` (wins over tau.yaml `log.format` / `TAU_LOG_FORMAT`). */
  format?: LogFormat;
  /** Also append NDJSON lines to this file (the long-running commands). */
  file?: string | null;
  /** Colour human lines (stderr is a terminal and NO_COLOR is not set). */
  color?: boolean;
}
let processOutput: LogOutput = {};

/** Set this process's log output (the CLI calls it once, before the command's action). */
export function configureLogOutput(o: LogOutput): void {
  processOutput = { ...o };
}

/** The one logger factory. stdout stays for command output: logs go to stderr (and the log file, when configured). */
export function createLogger(opts: {
  level: string;
  includeIdentifiers: boolean;
  destination?: pino.DestinationStream;
  format?: LogFormat;
}): Logger {
  const options: pino.LoggerOptions = {
    level: opts.level,
    base: { app: "tau" },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: opts.includeIdentifiers ? SECRET_PATHS : [...SECRET_PATHS, ...PII_PATHS], censor: "[redacted]" },
  };
  if (opts.destination) return pino(options, opts.destination);
  const asked = processOutput.format ?? opts.format ?? "auto";
  const pretty = asked === "pretty" || (asked === "auto" && process.stderr.isTTY === true);
  const file = processOutput.file ? openLogFile(processOutput.file) : null;
  if (!pretty && !file) return pino(options, pino.destination(2));
  const stderr = pino.destination({ dest: 2, sync: true });
  const color = processOutput.color ?? false;
  return pino(options, {
    write(line: string) {
      file?.write(line);
      stderr.write(pretty ? formatLogLine(line, { color }) + "\n" : line);
    },
  });
}

/** Append-only log file, 0600 in a 0700 folder, rotated when it would pass `maxBytes` (`file.1` … `file.<LOG_FILE_KEEP>`). */
export function openLogFile(file: string, maxBytes = LOG_FILE_MAX_BYTES): { write(line: string): void } {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  let fd = fs.openSync(file, "a", 0o600);
  let size = fs.fstatSync(fd).size;
  return {
    write(line) {
      const bytes = Buffer.byteLength(line);
      if (size > 0 && size + bytes > maxBytes) {
        fs.closeSync(fd);
        for (let i = LOG_FILE_KEEP - 1; i >= 1; i--) if (fs.existsSync(`${file}.${i}`)) fs.renameSync(`${file}.${i}`, `${file}.${i + 1}`);
        fs.renameSync(file, `${file}.1`);
        fd = fs.openSync(file, "a", 0o600);
        size = 0;
      }
      fs.writeSync(fd, line);
      size += bytes;
    },
  };
}

/** pino's level numbers and names. */
export const LOG_LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
const LEVEL_NAME: Record<number, string> = Object.fromEntries(Object.entries(LOG_LEVELS).map(([k, v]) => [v, k.toUpperCase()]));
const LEVEL_COLOR: Record<number, string> = { 10: "90", 20: "36", 30: "32", 40: "33", 50: "31", 60: "35" };

const scalar = (v: unknown) => (typeof v === "string" && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v));

/**
 * One NDJSON log line as a human line: `2026-01-02T03:04:05.678Z INFO  service.started tau is running  connectors=["telegram"]`
 * (an error's stack follows, indented). A line that is not JSON is returned as it was.
 */
export function formatLogLine(line: string | Record<string, unknown>, opts: { color?: boolean } = {}): string {
  let o: Record<string, unknown>;
  try {
    o = typeof line === "string" ? (JSON.parse(line) as Record<string, unknown>) : line;
  } catch {
    return String(line).trimEnd();
  }
  if (o === null || typeof o !== "object") return String(line).trimEnd();
  const { level, time, msg, event, app: _app, pid: _pid, hostname: _host, err, ...rest } = o;
  const lv = typeof level === "number" ? level : 30;
  const name = (LEVEL_NAME[lv] ?? String(level)).padEnd(5);
  const when = typeof time === "number" ? new Date(time).toISOString() : String(time ?? "");
  const head = [
    when,
    opts.color ? `\u001b[${LEVEL_COLOR[lv] ?? "0"}m${name}\u001b[0m` : name,
    event === undefined ? null : String(event),
    msg === undefined ? null : String(msg),
  ]
    .filter((x) => x !== null && x !== "")
    .join(" ");
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${scalar(v)}`);
  const e = err as { message?: string; stack?: string } | undefined;
  const errText = e ? [`err=${scalar(e.message ?? e)}`] : [];
  const stack = e?.stack
    ? "\n" +
      e.stack
        .split("\n")
        .slice(1)
        .map((l) => `    ${l.trim()}`)
        .join("\n")
    : "";
  return [head, [...fields, ...errText].join(" ")].filter(Boolean).join("  ") + stack;
}
