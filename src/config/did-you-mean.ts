/**
 * @module "Did you mean …?" for configuration: the closest known word by Levenshtein distance (unknown tau.yaml keys
 * against the schema's keys at that level, enum values, `TAU_*` environment variable names), and a walk of a zod
 * schema to the keys allowed at a path.
 */
import type { z } from "zod";

/** Edit distance (insertions, deletions, substitutions, and swaps of two neighbours: `mdoe` → `mode` is 1). */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  // d[i][j]: distance between the first i characters of a and the first j of b (optimal string alignment).
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[a.length]![b.length]!;
}

/**
 * The candidate closest to `word`, or null when none is close enough: at most a third of the word's length changed
 * (at least 1, at most 3 edits), so `queue_limt` finds `queue_limit` but `foo` finds nothing. Case is ignored.
 */
export function closest(word: string, candidates: Iterable<string>): string | null {
  const w = word.toLowerCase();
  const limit = Math.min(3, Math.max(1, Math.floor(w.length / 3)));
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = levenshtein(w, c.toLowerCase());
    if (d < bestD && d <= limit) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

interface ZodDefLike {
  type: string;
  innerType?: ZodLike;
  in?: ZodLike;
  out?: ZodLike;
  shape?: Record<string, ZodLike>;
  valueType?: ZodLike;
  element?: ZodLike;
  options?: ZodLike[];
}
interface ZodLike {
  _zod: { def: ZodDefLike };
}

const WRAPPERS = new Set(["default", "prefault", "optional", "nullable", "readonly", "catch", "nonoptional"]);

/** The schemas a value at `node` may be, with wrappers (default, optional, pipe …) removed and unions spread. */
function unwrap(node: ZodLike): ZodLike[] {
  const def = node._zod.def;
  if (WRAPPERS.has(def.type) && def.innerType) return unwrap(def.innerType);
  if (def.type === "pipe" && def.in) return unwrap(def.in);
  if (def.type === "union" && def.options) return def.options.flatMap(unwrap);
  return [node];
}

/** The keys an object may have at `path` inside `schema` (all options of a union together); empty when unknown. */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let nodes = unwrap(schema as unknown as ZodLike);
  for (const seg of path) {
    nodes = nodes.flatMap((n) => {
      const def = n._zod.def;
      if (def.type === "object" && def.shape && typeof seg === "string" && def.shape[seg]) return unwrap(def.shape[seg]);
      if (def.type === "record" && def.valueType) return unwrap(def.valueType);
      if (def.type === "array" && def.element) return unwrap(def.element);
      return [];
    });
  }
  return [...new Set(nodes.flatMap((n) => (n._zod.def.type === "object" && n._zod.def.shape ? Object.keys(n._zod.def.shape) : [])))];
}
