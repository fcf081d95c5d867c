/**
 * @module CLI output: `--json` prints one JSON document on stdout; otherwise short human lines.
 * Errors go to stderr with their code and fix; exit codes are stable.
 */
import { ConfigError, EXIT, TauError, describeError } from "../contracts/errors.ts";

export interface GlobalOptions {
  stateDir: string;
  config: string;
  json?: boolean;
}

/** Print `data` as JSON when asked, else the human rendering. */
export function emit(json: boolean | undefined, data: unknown, human: () => string): void {
  if (json) process.stdout.write(JSON.stringify(data, null, 2) + "\n");
  else {
    const text = human();
    if (text) process.stdout.write(text.endsWith("\n") ? text : text + "\n");
  }
}

/** Errors about what the operator typed (a flag, a file or folder named on the command line): exit 2. */
const USAGE_CODES = new Set(["STATE_MISSING", "STATE_DIR_NOT_A_FOLDER"]);

function isUsageError(err: unknown): boolean {
  return err instanceof TauError && (err.code.startsWith("USAGE") || USAGE_CODES.has(err.code));
}

/** Print an error the operator can act on, and return the exit code for it. */
export function reportError(err: unknown, json: boolean | undefined): number {
  const code = err instanceof ConfigError ? EXIT.config : isUsageError(err) ? EXIT.usage : EXIT.failure;
  if (json)
    process.stdout.write(
      JSON.stringify(
        { ok: false, error: err instanceof TauError ? err.toJSON() : { message: String((err as Error)?.message ?? err) } },
        null,
        2,
      ) + "\n",
    );
  process.stderr.write(`tau: ${describeError(err)}\n`);
  return code;
}

/** Align `rows` of cells as a plain table. */
export function table(rows: (string | number | null)[][]): string {
  if (rows.length === 0) return "";
  const cells = rows.map((r) => r.map((c) => (c === null ? "-" : String(c))));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).join("\n");
}
