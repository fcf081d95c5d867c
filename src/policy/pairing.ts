/** @module Pairing: one-time codes for unknown DM actors, challenge limits and operator approval (PRODUCT.md §5). */
import type { Decision } from "../contracts/decision.ts";
import { TauError } from "../contracts/errors.ts";
import type { PairingSettings } from "../contracts/policy.ts";

/** 31 symbols with no look-alikes: no 0/O, 1/I/L. */
export const PAIRING_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/** Characters in a pairing code. */
export const PAIRING_CODE_LENGTH = 8;
/**
 * Random bytes to pass to `generatePairingCode`. Each byte is accepted with probability 248/256, so 32 bytes
 * yield 8 accepted ones except with probability below 1e-30.
 */
export const PAIRING_RANDOM_BYTES = 32;

// Largest multiple of the alphabet size that fits in a byte: bytes at or above it are rejected (no modulo bias).
const ACCEPT_BELOW = 256 - (256 % PAIRING_ALPHABET.length);
const MAX_DRAWS = 1024;

/**
 * An 8-character code from `PAIRING_ALPHABET`, by rejection sampling: bytes ≥ 248 are skipped, the rest map
 * `byte % 31`. `random` is a byte array (use `PAIRING_RANDOM_BYTES` bytes) or a byte source; throws
 * `TauError("PAIRING_RANDOM_EXHAUSTED")` if it runs out before 8 bytes were accepted.
 */
export function generatePairingCode(random: Uint8Array | (() => number)): string {
  let i = 0;
  const next = typeof random === "function" ? random : (): number | undefined => random[i++];
  let code = "";
  for (let draws = 0; code.length < PAIRING_CODE_LENGTH; draws++) {
    const byte = draws < MAX_DRAWS ? next() : undefined;
    if (byte === undefined) {
      throw new TauError("PAIRING_RANDOM_EXHAUSTED", "not enough random bytes for a pairing code", {
        hint: `pass at least ${PAIRING_RANDOM_BYTES} bytes from crypto.randomBytes`,
      });
    }
    if (byte < ACCEPT_BELOW) code += PAIRING_ALPHABET[byte % PAIRING_ALPHABET.length];
  }
  return code;
}

/** Trim and upper-case `s`; the code if it is well formed, else null. */
export function normalizePairingCode(s: string): string | null {
  const code = s.trim().toUpperCase();
  if (code.length !== PAIRING_CODE_LENGTH) return null;
  for (const ch of code) if (!PAIRING_ALPHABET.includes(ch)) return null;
  return code;
}

/** True when `s` (any case, surrounding spaces ignored) is 8 characters from `PAIRING_ALPHABET`. */
export function isWellFormedPairingCode(s: string): boolean {
  return normalizePairingCode(s) !== null;
}

/** What to do about an unknown actor in a DM under `allowlist_or_pairing`. */
export interface PairingChallengeInput {
  now: number;
  /** The actor's current code, if any (expired ones are ignored). */
  existing: { code: string; expiresAt: number } | null;
  /** Unexpired pending codes the cap applies to, not counting `existing`. */
  pendingForChannel: number;
  /** Challenges already issued to this actor in the last hour (reuse included). */
  attemptsLastHour: number;
  settings: PairingSettings;
}

/** How far back a stranger's pairing attempts count (`attemptsLastHour`); older attempts can be pruned. */
export const PAIRING_ATTEMPT_WINDOW_MS = 3_600_000;

export type PairingChallengeAction = "reuse" | "issue" | "rate_limited" | "channel_full";

/** The challenge outcome; on `issue` the caller generates the code and stores it with `expiresAt`. */
export interface PairingChallenge {
  action: PairingChallengeAction;
  decision: Decision;
  /** When the reused or newly issued code expires; null when none is handed out. */
  expiresAt: number | null;
}

/**
 * Stage `pairing`, in order: rate limit per actor (checked first so a chatty stranger cannot make the bot reply
 * without bound) → reuse an unexpired code (a code expires at `expiresAt`, i.e. when `now >= expiresAt`) →
 * refuse when the pending cap is reached → issue. The code itself is never put in the decision (traces are logged).
 */
export function decidePairingChallenge(input: PairingChallengeInput): PairingChallenge {
  const { now, existing, pendingForChannel, attemptsLastHour, settings } = input;
  const reply = !settings.silent;
  if (attemptsLastHour >= settings.max_attempts_per_actor_per_hour) {
    return {
      action: "rate_limited",
      expiresAt: null,
      decision: {
        stage: "pairing",
        outcome: "deny",
        reason: "pairing_rate_limited",
        detail: { attempts_last_hour: attemptsLastHour, max: settings.max_attempts_per_actor_per_hour },
      },
    };
  }
  if (existing !== null && now < existing.expiresAt) {
    return {
      action: "reuse",
      expiresAt: existing.expiresAt,
      decision: {
        stage: "pairing",
        outcome: "info",
        reason: "pairing_challenge_issued",
        detail: { action: "reuse", expires_at_ms: existing.expiresAt, reply },
      },
    };
  }
  if (pendingForChannel >= settings.max_pending_per_channel) {
    return {
      action: "channel_full",
      expiresAt: null,
      decision: {
        stage: "pairing",
        outcome: "deny",
        reason: "pairing_channel_full",
        detail: { pending: pendingForChannel, max: settings.max_pending_per_channel },
      },
    };
  }
  const expiresAt = now + settings.code_ttl_ms;
  return {
    action: "issue",
    expiresAt,
    decision: {
      stage: "pairing",
      outcome: "info",
      reason: "pairing_challenge_issued",
      detail: { action: "issue", expires_at_ms: expiresAt, reply },
    },
  };
}

/** Lifecycle of a stored pairing code. */
export type PairingStatus = "pending" | "approved" | "denied";

/** A stored pairing request, as looked up by the normalized code. */
export interface PendingPairing {
  code: string;
  actorKey: string;
  channelKey: string;
  expiresAt: number;
  status: PairingStatus;
}

/**
 * Stage `pairing_approval` for `tau pairing approve CODE` / `/tau pairing approve CODE`: malformed → unknown →
 * already used (approved or denied before, even if since expired) → expired (`now >= expiresAt`) → approved.
 */
export function decidePairingApproval(input: { code: string; now: number; pending: PendingPairing | null }): Decision {
  const deny = (reason: string, detail: Decision["detail"] = {}): Decision => ({
    stage: "pairing_approval",
    outcome: "deny",
    reason,
    detail,
  });
  const code = normalizePairingCode(input.code);
  const p = input.pending;
  if (code === null) return deny("pairing_code_malformed");
  if (p === null || p.code.toUpperCase() !== code) return deny("pairing_code_unknown");
  const who = { actor_key: p.actorKey, channel_key: p.channelKey };
  if (p.status !== "pending") return deny("pairing_code_already_used", { ...who, status: p.status });
  if (input.now >= p.expiresAt) return deny("pairing_code_expired", { ...who, expires_at_ms: p.expiresAt });
  return { stage: "pairing_approval", outcome: "allow", reason: "pairing_approved", matched_by: "pairing_code", detail: who };
}
