/**
 * @module Shared option parsers for every command: a bad value is a commander usage error (exit 2) that names the flag
 * (`option '--limit <n>' argument 'abc' is invalid. expected a positive integer`), never a database or zod message.
 * Also the output-format flags (`--json` one document, `--ndjson` one object per line) and input-file checks.
 */
import fs from "node:fs";
import { InvalidArgumentError } from "commander";
import { TauError } from "../contracts/errors.ts";

/** A commander parser for a positive integer up to `max`. */
export function positiveInt(max = 1_000_000): (raw: string) => number {
  return (raw) => {
    const v = raw.trim();
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer`);
    if (n > max) throw new InvalidArgumentError(`expected at most ${max}`);
    return n;
  };
}

/** `--limit <n>`: a positive integer, at most 100,000 rows. */
export const limitOption = positiveInt(100_000);

/** A commander parser accepting one of `values`. */
export function oneOf<T extends string>(values: readonly T[]): (raw: string) => T {
  return (raw) => {
    const v = raw.trim();
    if (!(values as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${values.join(", ")}`);
    return v as T;
  };
}

/** How a command prints: human lines, one JSON document (`--json`), or one JSON object per line (`--ndjson`). */
export type OutputFormat = "human" | "json" | "ndjson";

/** The format asked for; `--json` with `--ndjson`, or `--json` on a stream that never ends, is a usage error. */
export function outputFormat(o: { json?: boolean; ndjson?: boolean }, opts: { streaming?: boolean } = {}): OutputFormat {
  if (o.json && o.ndjson) throw new TauError("USAGE_FLAG_CONFLICT", "--json and --ndjson are exclusive", { hint: "pass one of them" });
  if (o.json && opts.streaming)
    throw new TauError("USAGE_FLAG_CONFLICT", "--json prints one array at the end, which a followed stream never reaches", {
      hint: "use --ndjson with --follow",
    });
  return o.json ? "json" : o.ndjson ? "ndjson" : "human";
}

/** Print a list in `format`: a JSON array, NDJSON lines, or one human line per row. */
export function emitRows<T>(format: OutputFormat, rows: readonly T[], human: (row: T) => string, empty = ""): void {
  if (format === "json") process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
  else if (format === "ndjson") for (const r of rows) process.stdout.write(JSON.stringify(r) + "\n");
  else if (rows.length === 0) {
    if (empty) process.stdout.write(empty + "\n");
  } else for (const r of rows) process.stdout.write(human(r) + "\n");
}

/** An input file named on the command line must exist and be a file: otherwise a usage error (exit 2) naming it. */
export function requireInputFile(file: string, what: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TauError(
      code === "ENOENT" || code === "ENOTDIR" ? "USAGE_FILE_NOT_FOUND" : "USAGE_FILE_UNREADABLE",
      `${what} ${file}: ${code === "ENOENT" || code === "ENOTDIR" ? "no such file" : `cannot read (${code ?? String(err)})`}`,
      {
        hint: "check the path (relative paths start from the current folder)",
        details: { file },
        cause: err,
      },
    );
  }
  if (!st.isFile())
    throw new TauError("USAGE_FILE_NOT_FOUND", `${what} ${file}: is a folder, not a file`, {
      hint: "name a file",
      details: { file },
    });
}
