/** @module Constant-time comparison of secrets (webhook secret tokens, verify tokens, HMAC signatures). */
import { timingSafeEqual } from "node:crypto";

/**
 * True when `given` equals `expected`, compared with `crypto.timingSafeEqual` after a length check (the
 * length of a configured secret is not itself secret enough to matter; its bytes are).
 */
export function secretEquals(given: string | null | undefined, expected: string): boolean {
  if (typeof given !== "string" || expected.length === 0) return false;
  const a = Buffer.from(given, "utf8");
  const b = Buffer.from(expected, "utf8");
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}
