/**
 * @module `--since` / `--until` values for the CLI: a duration back from now (`90s`, `15m`, `2h`, `7d`), an ISO time,
 * `now`, `today` or `yesterday` (midnight UTC). The syntax is checked while commander parses the flag, so a bad value is
 * a usage error (exit 2) naming the flag; the value is resolved against the app's clock when the command runs.
 */
import { InvalidArgumentError } from "commander";
import { TauError } from "../contracts/errors.ts";

/** A parsed time flag, not yet resolved against a clock. */
export type When =
  { kind: "ago"; ms: number } | { kind: "at"; ms: number } | { kind: "now" } | { kind: "day"; offset: 0 | -1; text: string };

/** Help text for a time flag. */
export const WHEN_HELP = "a duration back from now (30m, 2h, 7d), an ISO time, now, today or yesterday (UTC)";

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;
const DAY_MS = 86_400_000;
// An ISO date or date-time; Date.parse alone would also take "Tuesday" or "1".
const ISO = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Parse a time value; null when it is none of the accepted forms. */
export function parseWhenText(s: string): When | null {
  const v = s.trim().toLowerCase();
  if (v === "now") return { kind: "now" };
  if (v === "today" || v === "yesterday") return { kind: "day", offset: v === "today" ? 0 : -1, text: v };
  const m = v.match(/^(\d+)(ms|s|m|h|d|w)$/);
  if (m) return { kind: "ago", ms: Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] };
  if (!ISO.test(s.trim())) return null;
  const t = Date.parse(s.trim());
  return Number.isNaN(t) ? null : { kind: "at", ms: t };
}

/** A commander option parser for a time flag: bad syntax is a usage error naming the flag. */
export function whenOption(raw: string): When {
  const w = parseWhenText(raw);
  if (!w) throw new InvalidArgumentError(`expected ${WHEN_HELP}`);
  return w;
}

/** The point in time `w` means at `now` (epoch ms). */
export function resolveWhen(w: When, now: number): number {
  switch (w.kind) {
    case "now":
      return now;
    case "ago":
      return now - w.ms;
    case "at":
      return w.ms;
    case "day":
      return Math.floor(now / DAY_MS) * DAY_MS + w.offset * DAY_MS;
  }
}

/** Parse and resolve in one step (for values that did not come through a commander parser). */
export function parseWhen(s: string, now: number, flag: string): number {
  const w = parseWhenText(s);
  if (!w) throw new TauError("USAGE_TIME", `${flag} ${s}: expected ${WHEN_HELP}`);
  return resolveWhen(w, now);
}
