/** @module Tests for pairing: code generation (no modulo bias), well-formedness, challenge limits and approval. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TauError } from "../../src/contracts/errors.ts";
import type { PairingSettings } from "../../src/contracts/policy.ts";
import {
  PAIRING_ALPHABET,
  decidePairingApproval,
  decidePairingChallenge,
  generatePairingCode,
  isWellFormedPairingCode,
  type PendingPairing,
} from "../../src/policy/pairing.ts";

const settings: PairingSettings = { silent: false, code_ttl_ms: 3_600_000, max_pending_per_channel: 3, max_attempts_per_actor_per_hour: 5 };
const NOW = 1_763_712_000_000;

describe("PAIRING_ALPHABET", () => {
  it("is the 31 unambiguous symbols, without 0 O 1 I L", () => {
    expect(PAIRING_ALPHABET).toBe("ABCDEFGHJKMNPQRSTUVWXYZ23456789");
    expect(PAIRING_ALPHABET).toHaveLength(31);
    for (const ch of "0O1IL") expect(PAIRING_ALPHABET).not.toContain(ch);
  });
});

describe("generatePairingCode", () => {
  it("maps accepted bytes modulo 31, in order", () => {
    expect(generatePairingCode(new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]))).toBe("ABCDEFGH");
    expect(generatePairingCode(new Uint8Array([23, 24, 25, 26, 27, 28, 29, 30]))).toBe("23456789");
  });

  it("rejects bytes 248..255 instead of folding them (no modulo bias)", () => {
    // 30 → 9, 31 → A, 61 → 9, 247 → 9, 248 and 255 skipped, then 0..3 → ABCD.
    expect(generatePairingCode(new Uint8Array([30, 31, 61, 247, 248, 255, 0, 1, 2, 3]))).toBe("9A99ABCD");
  });

  it("accepts a byte source function", () => {
    let n = 250;
    expect(generatePairingCode(() => n++ % 256)).toBe("ABCDEFGH"); // 250..255 rejected, then 0..7
  });

  it("throws PAIRING_RANDOM_EXHAUSTED when bytes run out", () => {
    const run = () => generatePairingCode(new Uint8Array([0, 1, 2, 255, 255, 255, 255, 255, 255]));
    expect(run).toThrow(TauError);
    expect(run).toThrow("not enough random bytes for a pairing code");
    try {
      run();
    } catch (e) {
      expect((e as TauError).code).toBe("PAIRING_RANDOM_EXHAUSTED");
    }
  });

  it("does not loop forever on a source that only yields rejected bytes", () => {
    expect(() => generatePairingCode(() => 255)).toThrow(TauError);
  });

  it("property: always 8 characters from the alphabet when 8 bytes are acceptable, else throws", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), (bytes) => {
        const acceptable = [...bytes].filter((b) => b < 248).length;
        if (acceptable >= 8) {
          const code = generatePairingCode(bytes);
          expect(code).toMatch(/^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{8}$/);
        } else {
          expect(() => generatePairingCode(bytes)).toThrow(TauError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("every symbol is reachable from exactly 8 byte values (uniform)", () => {
    const counts = new Map<string, number>();
    for (let b = 0; b < 256; b++) {
      let used = false;
      const source = () => (used ? 0 : ((used = true), b));
      const first = generatePairingCode(source)[0] as string;
      if (b < 248) counts.set(first, (counts.get(first) ?? 0) + 1);
    }
    expect(counts.size).toBe(31);
    expect([...counts.values()].every((c) => c === 8)).toBe(true);
  });
});

describe("isWellFormedPairingCode", () => {
  it.each(["ABCDEFGH", "abcdefgh", "  23456789 ", "ZzYyXx22"])("accepts %j", (s) => {
    expect(isWellFormedPairingCode(s)).toBe(true);
  });
  it.each(["", "ABCDEFG", "ABCDEFGHJ", "ABCDEFG0", "ABCDEFGO", "ABCDEFG1", "ABCDEFGI", "ABCDEFGL", "ABCD-EFG", "ABCD EFG"])(
    "rejects %j",
    (s) => {
      expect(isWellFormedPairingCode(s)).toBe(false);
    },
  );
});

describe("decidePairingChallenge", () => {
  const base = { now: NOW, existing: null, pendingForChannel: 0, attemptsLastHour: 0, settings };

  it("issues a code expiring in 1 h by default", () => {
    expect(decidePairingChallenge(base)).toEqual({
      action: "issue",
      expiresAt: NOW + 3_600_000,
      decision: {
        stage: "pairing",
        outcome: "info",
        reason: "pairing_challenge_issued",
        detail: { action: "issue", expires_at_ms: NOW + 3_600_000, reply: true },
      },
    });
  });

  it("reuses an unexpired code instead of issuing another", () => {
    const r = decidePairingChallenge({ ...base, existing: { code: "ABCDEFGH", expiresAt: NOW + 1 }, pendingForChannel: 3 });
    expect(r).toEqual({
      action: "reuse",
      expiresAt: NOW + 1,
      decision: {
        stage: "pairing",
        outcome: "info",
        reason: "pairing_challenge_issued",
        detail: { action: "reuse", expires_at_ms: NOW + 1, reply: true },
      },
    });
    expect(JSON.stringify(r.decision)).not.toContain("ABCDEFGH");
  });

  it("an existing code expires exactly at expiresAt and a new one is issued", () => {
    const r = decidePairingChallenge({ ...base, existing: { code: "ABCDEFGH", expiresAt: NOW } });
    expect(r.action).toBe("issue");
    expect(r.expiresAt).toBe(NOW + 3_600_000);
  });

  it("at most 3 pending per channel", () => {
    expect(decidePairingChallenge({ ...base, pendingForChannel: 2 }).action).toBe("issue");
    expect(decidePairingChallenge({ ...base, pendingForChannel: 3 })).toEqual({
      action: "channel_full",
      expiresAt: null,
      decision: { stage: "pairing", outcome: "deny", reason: "pairing_channel_full", detail: { pending: 3, max: 3 } },
    });
  });

  it("rate-limits an actor after 5 attempts in the last hour, even with a code to reuse", () => {
    expect(decidePairingChallenge({ ...base, attemptsLastHour: 4 }).action).toBe("issue");
    expect(decidePairingChallenge({ ...base, attemptsLastHour: 5, existing: { code: "ABCDEFGH", expiresAt: NOW + 10 } })).toEqual({
      action: "rate_limited",
      expiresAt: null,
      decision: {
        stage: "pairing",
        outcome: "deny",
        reason: "pairing_rate_limited",
        detail: { attempts_last_hour: 5, max: 5 },
      },
    });
  });

  it("silent mode still issues codes but marks that no reply is sent", () => {
    const r = decidePairingChallenge({ ...base, settings: { ...settings, silent: true } });
    expect(r.action).toBe("issue");
    expect(r.decision.detail?.reply).toBe(false);
  });

  it("honours configured ttl and limits", () => {
    const s = { silent: false, code_ttl_ms: 60_000, max_pending_per_channel: 1, max_attempts_per_actor_per_hour: 2 };
    expect(decidePairingChallenge({ ...base, settings: s }).expiresAt).toBe(NOW + 60_000);
    expect(decidePairingChallenge({ ...base, settings: s, pendingForChannel: 1 }).action).toBe("channel_full");
    expect(decidePairingChallenge({ ...base, settings: s, attemptsLastHour: 2 }).action).toBe("rate_limited");
  });

  it("property: deterministic, and issue/reuse are the only actions handing out an expiry", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 0, max: 10 }),
        fc.option(fc.integer({ min: NOW - 10, max: NOW + 10 }), { nil: null }),
        (pending, attempts, exp) => {
          const input = {
            now: NOW,
            existing: exp === null ? null : { code: "ABCDEFGH", expiresAt: exp },
            pendingForChannel: pending,
            attemptsLastHour: attempts,
            settings,
          };
          const r = decidePairingChallenge(input);
          expect(decidePairingChallenge(input)).toEqual(r);
          expect(r.expiresAt !== null).toBe(r.action === "issue" || r.action === "reuse");
          if (r.expiresAt !== null) expect(r.expiresAt).toBeGreaterThan(NOW);
        },
      ),
    );
  });
});

describe("decidePairingApproval", () => {
  const pending: PendingPairing = {
    code: "ABCDEFGH",
    actorKey: "telegram:4242",
    channelKey: "telegram:4242",
    expiresAt: NOW + 1000,
    status: "pending",
  };

  it("approves a pending, unexpired code (case-insensitive input)", () => {
    expect(decidePairingApproval({ code: "abcdefgh", now: NOW, pending })).toEqual({
      stage: "pairing_approval",
      outcome: "allow",
      reason: "pairing_approved",
      matched_by: "pairing_code",
      detail: { actor_key: "telegram:4242", channel_key: "telegram:4242" },
    });
  });

  it("refuses a malformed code before looking anything up", () => {
    expect(decidePairingApproval({ code: "ABCDEFG0", now: NOW, pending })).toEqual({
      stage: "pairing_approval",
      outcome: "deny",
      reason: "pairing_code_malformed",
      detail: {},
    });
  });

  it("refuses an unknown code", () => {
    expect(decidePairingApproval({ code: "ABCDEFGH", now: NOW, pending: null }).reason).toBe("pairing_code_unknown");
    expect(decidePairingApproval({ code: "ZZZZZZZZ", now: NOW, pending }).reason).toBe("pairing_code_unknown");
  });

  it("refuses an expired code (expiresAt is exclusive)", () => {
    expect(decidePairingApproval({ code: "ABCDEFGH", now: NOW + 999, pending }).reason).toBe("pairing_approved");
    expect(decidePairingApproval({ code: "ABCDEFGH", now: NOW + 1000, pending })).toEqual({
      stage: "pairing_approval",
      outcome: "deny",
      reason: "pairing_code_expired",
      detail: { actor_key: "telegram:4242", channel_key: "telegram:4242", expires_at_ms: NOW + 1000 },
    });
  });

  it("refuses a code that was already approved or denied, even after it expired (one-time)", () => {
    for (const status of ["approved", "denied"] as const) {
      expect(decidePairingApproval({ code: "ABCDEFGH", now: NOW, pending: { ...pending, status } }).reason).toBe(
        "pairing_code_already_used",
      );
      expect(decidePairingApproval({ code: "ABCDEFGH", now: NOW + 5000, pending: { ...pending, status } }).reason).toBe(
        "pairing_code_already_used",
      );
    }
  });
});
