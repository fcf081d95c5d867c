/** @module `--since` / `--until` values for the CLI: a duration back from now (`15m`, `2h`, `7d`), an ISO time, or `now`. */
import { TauError } from "../contracts/errors.ts";

/** A point in time in epoch ms. */
export function parseWhen(s: string, now: number, flag: string): number {
  const v = s.trim();
  if (v === "now") return now;
  const m = v.match(/^(\d+)(ms|s|m|h|d)$/);
  if (m) return now - Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "ms"];
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new TauError("USAGE_TIME", `${flag} ${s}: expected a duration like 15m, an ISO time or now`);
  return t;
}
