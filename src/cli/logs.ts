/**
 * @module `tau logs [--since <when>] [--level <level>] [--limit N] [--follow] [--json|--ndjson]`: the log lines that
 * `tau run`, `tau process` and `tau connectors run` append to `state/logs/tau.ndjson` (rotated by size into
 * `tau.ndjson.1` … `.3`), oldest first. Human lines by default, a JSON array with `--json`, the stored NDJSON lines with
 * `--ndjson`; `--follow` keeps printing new lines (across rotations) until interrupted. Needs no tau.yaml, so it works
 * when the configuration is what broke.
 */
import fs from "node:fs";
import type { Command } from "commander";
import { systemClock } from "../app/system-clock.ts";
import { TauError } from "../contracts/errors.ts";
import { readProcessEnv } from "../config/index.ts";
import { formatLogLine, LOG_FILE_KEEP, LOG_LEVELS } from "../log.ts";
import { globals } from "./context.ts";
import { logFileOf } from "./global-options.ts";
import { emitRows, limitOption, oneOf, outputFormat, type OutputFormat } from "./options.ts";
import { resolveWhen, WHEN_HELP, whenOption, type When } from "./time-range.ts";

type LevelName = keyof typeof LOG_LEVELS;
interface Line {
  raw: string;
  obj: Record<string, unknown>;
}

/** A stored line, parsed; null for a line that is not a JSON object (never written by tau). */
function parse(raw: string): Line | null {
  try {
    const obj = JSON.parse(raw) as unknown;
    return obj !== null && typeof obj === "object" && !Array.isArray(obj) ? { raw, obj: obj as Record<string, unknown> } : null;
  } catch {
    return null;
  }
}

/** Epoch ms of a line (ISO time; older lines carry epoch ms). */
function timeOf(l: Line): number {
  const t = l.obj.time;
  return typeof t === "number" ? t : typeof t === "string" ? Date.parse(t) : NaN;
}

/** Read the complete lines from `fd` at `offset`; returns them and the new offset (a partial last line waits). */
function readLines(fd: number, offset: number): { lines: string[]; offset: number } {
  const size = fs.fstatSync(fd).size;
  if (size <= offset) return { lines: [], offset };
  const buf = Buffer.alloc(size - offset);
  const n = fs.readSync(fd, buf, 0, buf.length, offset);
  const text = buf.subarray(0, n).toString("utf8");
  const end = text.lastIndexOf("\n");
  if (end < 0) return { lines: [], offset };
  return { lines: text.slice(0, end).split("\n").filter(Boolean), offset: offset + Buffer.byteLength(text.slice(0, end + 1)) };
}

export function registerLogs(program: Command): void {
  program
    .command("logs")
    .description("log lines of tau run / process / connectors run (state/logs/tau.ndjson), oldest first")
    .option("--since <when>", WHEN_HELP, whenOption)
    .option("--level <level>", "at least this level: trace, debug, info, warn, error, fatal", oneOf(Object.keys(LOG_LEVELS) as LevelName[]))
    .option("--limit <n>", "the most recent N lines", limitOption, 200)
    .option("--follow", "keep printing new lines until interrupted (human lines, or NDJSON with --ndjson)")
    .option("--json", "one JSON array of log objects")
    .option("--ndjson", "the stored NDJSON lines")
    .action(async (o: { since?: When; level?: LevelName; limit: number; follow?: boolean; ndjson?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const format: OutputFormat = outputFormat({ json: g.json, ndjson: o.ndjson }, { streaming: o.follow });
      if (!fs.existsSync(g.stateDir) || !fs.statSync(g.stateDir).isDirectory())
        throw new TauError("STATE_MISSING", `${g.stateDir}: no tau state folder here`, {
          hint: "pass --state-dir (or TAU_STATE_DIR) pointing at the service's state folder",
        });
      const file = logFileOf(g.stateDir);
      const since = o.since ? resolveWhen(o.since, systemClock()) : -Infinity;
      const minLevel = o.level ? LOG_LEVELS[o.level] : 0;
      const keep = (l: Line | null): l is Line =>
        l !== null && (typeof l.obj.level === "number" ? l.obj.level : 30) >= minLevel && !(timeOf(l) < since);
      const env = readProcessEnv();
      const color = process.stdout.isTTY === true && env.NO_COLOR === undefined;
      const print = (rows: Line[]) => {
        if (format === "json")
          emitRows(
            "json",
            rows.map((r) => r.obj),
            () => "",
          );
        else for (const r of rows) process.stdout.write((format === "ndjson" ? r.raw : formatLogLine(r.obj, { color })) + "\n");
      };

      // Rotated files first (oldest = highest number), then the current file.
      const rotated = Array.from({ length: LOG_FILE_KEEP }, (_, i) => `${file}.${LOG_FILE_KEEP - i}`).filter((f) => fs.existsSync(f));
      const lines: Line[] = [];
      for (const f of rotated) lines.push(...fs.readFileSync(f, "utf8").split("\n").filter(Boolean).map(parse).filter(keep));
      let fd = fs.existsSync(file) ? fs.openSync(file, "r") : null;
      let offset = 0;
      if (fd !== null) {
        const r = readLines(fd, 0);
        offset = r.offset;
        lines.push(...r.lines.map(parse).filter(keep));
      }
      if (fd === null && rotated.length === 0 && !o.follow)
        process.stderr.write(`tau: no log file yet at ${file} (tau run, tau process and tau connectors run write it)\n`);
      print(lines.slice(-o.limit));
      if (!o.follow) {
        if (fd !== null) fs.closeSync(fd);
        return;
      }
      const ac = new AbortController();
      process.once("SIGINT", () => ac.abort());
      process.once("SIGTERM", () => ac.abort());
      while (!ac.signal.aborted) {
        await new Promise((r) => setTimeout(r, 250));
        if (fd !== null) {
          const r = readLines(fd, offset);
          offset = r.offset;
          print(r.lines.map(parse).filter(keep));
        }
        // Rotated (a new file at the path) or created since: drain the old one above, then switch.
        let ino: number | null = null;
        try {
          ino = fs.statSync(file).ino;
        } catch {
          ino = null;
        }
        if (ino !== null && (fd === null || fs.fstatSync(fd).ino !== ino)) {
          if (fd !== null) fs.closeSync(fd);
          fd = fs.openSync(file, "r");
          offset = 0;
        }
      }
      if (fd !== null) fs.closeSync(fd);
    });
}
