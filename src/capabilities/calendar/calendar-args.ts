/** @module Argument helpers for the calendar capabilities (chat and CLI flags arrive as strings; a bare `--flag` is true). */
import { z } from "zod";

/** A bounded integer that also accepts its decimal string form (`--limit 20`). */
export function countArg(min: number, max: number, fallback: number) {
  return z
    .preprocess((v) => (typeof v === "string" && /^\s*\d+\s*$/.test(v) ? Number(v) : v), z.number().int().min(min).max(max))
    .default(fallback);
}

/** A text argument (a bare `--summary` with no value is refused). */
export const text = (max: number) => z.string().min(1).max(max);

/** An event UID: printable, no line breaks (it becomes part of a URL and a content line). */
export const uidArg = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[^\s\u0000-\u001f\u007f]+$/, "a UID without spaces or control characters");
