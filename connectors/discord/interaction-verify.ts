/**
 * @module Ed25519 check of an HTTP interaction: `X-Signature-Ed25519` (hex) over `X-Signature-Timestamp` + the raw
 * body, with the application's public key (hex, Developer Portal → General Information). Stale timestamps are
 * refused too, so a captured request cannot be replayed later. node:crypto only.
 * @see https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers
 */
import crypto from "node:crypto";

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 key bytes follow. */
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
/** How far the request's timestamp may be from our clock (either way). */
export const INTERACTION_MAX_SKEW_MS = 5 * 60_000;

export type SignatureVerdict =
  { ok: true } | { ok: false; code: "discord_signature_missing" | "discord_signature_stale" | "discord_signature_invalid" };

/** A verifier for one public key; null when the key is not 64 hex characters (32 bytes). */
export function createInteractionVerifier(
  publicKeyHex: string,
): ((headers: Headers, raw: Buffer, nowMs: number) => SignatureVerdict) | null {
  if (!/^[0-9a-fA-F]{64}$/.test(publicKeyHex)) return null;
  const key = crypto.createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(publicKeyHex, "hex")]),
    format: "der",
    type: "spki",
  });
  return (headers, raw, nowMs) => {
    const sig = headers.get("x-signature-ed25519");
    const ts = headers.get("x-signature-timestamp");
    if (!sig || !ts || !/^[0-9a-fA-F]{128}$/.test(sig) || !/^\d{1,12}$/.test(ts)) return { ok: false, code: "discord_signature_missing" };
    // Signature first: only a request Discord really signed may tell us anything, even "stale".
    const ok = crypto.verify(null, Buffer.concat([Buffer.from(ts, "utf8"), raw]), key, Buffer.from(sig, "hex"));
    if (!ok) return { ok: false, code: "discord_signature_invalid" };
    if (Math.abs(nowMs - Number(ts) * 1000) > INTERACTION_MAX_SKEW_MS) return { ok: false, code: "discord_signature_stale" };
    return { ok: true };
  };
}
