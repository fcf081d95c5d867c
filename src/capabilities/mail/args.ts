/** @module Argument helpers shared by the mail capabilities (chat and CLI flags arrive as strings). */
import { z } from "zod";

/** A bounded integer that also accepts its decimal string form (`--top 5`). A bare `--top` (true) is refused. */
export function countArg(min: number, max: number, fallback: number) {
  return z
    .preprocess((v) => (typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : v), z.number().int().min(min).max(max))
    .default(fallback);
}
