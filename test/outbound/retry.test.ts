/** Retry policy (pure): full-jitter exponential backoff and what each kind of failure does to a row. */
import { describe, expect, it } from "vitest";
import type { SendFailure } from "../../src/contracts/delivery.ts";
import { backoffMs, decideRetry } from "../../src/outbound/retry.ts";

const policy = { max_attempts: 4, base_backoff_ms: 500, max_backoff_ms: 3000 };
const fail = (over: Partial<SendFailure>): SendFailure => ({
  ok: false,
  code: "delivery_provider_unavailable",
  retryable: true,
  ambiguous: false,
  retry_after_ms: null,
  status: 503,
  detail: "x",
  ...over,
});

describe("backoffMs", () => {
  it("caps grow 500, 1000, 2000, then stop at max_backoff_ms; the random factor picks inside the cap", () => {
    const top = () => 0.999999;
    expect([1, 2, 3, 4, 5].map((a) => backoffMs(a, policy, top))).toEqual([499, 999, 1999, 2999, 2999]);
    expect(backoffMs(3, policy, () => 0)).toBe(0);
    expect(backoffMs(3, policy, () => 0.25)).toBe(500);
  });
});

describe("decideRetry", () => {
  const now = 1_000_000;
  it("retryable → retry_scheduled until max_attempts, then dead_letter", () => {
    expect(decideRetry(fail({}), 1, policy, now, () => 0.5)).toEqual({
      status: "retry_scheduled",
      delay_ms: 250,
      next_attempt_at_ms: now + 250,
      uses_attempt: true,
      why: "backoff",
    });
    expect(decideRetry(fail({}), 3, policy, now, () => 0.5)).toEqual({
      status: "retry_scheduled",
      delay_ms: 1000,
      next_attempt_at_ms: now + 1000,
      uses_attempt: true,
      why: "backoff",
    });
    expect(decideRetry(fail({}), 4, policy, now, () => 0.5)).toEqual({ status: "dead_letter", why: "attempts_exhausted" });
  });
  it("retry_after is honoured (never shortened), even beyond max_backoff_ms, and uses no attempt", () => {
    expect(decideRetry(fail({ code: "delivery_rate_limited", retry_after_ms: 30_000, status: 429 }), 1, policy, now, () => 0.5)).toEqual({
      status: "retry_scheduled",
      delay_ms: 30_000,
      next_attempt_at_ms: now + 30_000,
      uses_attempt: false,
      why: "rate_limited",
    });
    expect(decideRetry(fail({ code: "delivery_rate_limited", retry_after_ms: 100, status: 429 }), 2, policy, now, () => 0.5)).toEqual({
      status: "retry_scheduled",
      delay_ms: 500,
      next_attempt_at_ms: now + 500,
      uses_attempt: false,
      why: "rate_limited",
    });
  });
  it("a rate limit never dead-letters, however many attempts failed before; without a stated wait it waits base_backoff_ms", () => {
    expect(decideRetry(fail({ code: "delivery_rate_limited", status: 400 }), 9, policy, now, () => 0)).toEqual({
      status: "retry_scheduled",
      delay_ms: 500,
      next_attempt_at_ms: now + 500,
      uses_attempt: false,
      why: "rate_limited",
    });
  });
  it("a request the client held back for its own bucket (no status) waits exactly as long, with no jitter", () => {
    expect(decideRetry(fail({ code: "delivery_rate_limited", status: null, retry_after_ms: 120 }), 4, policy, now, () => 0.9)).toEqual({
      status: "retry_scheduled",
      delay_ms: 120,
      next_attempt_at_ms: now + 120,
      uses_attempt: false,
      why: "held_by_client",
    });
  });
  it("non-retryable → failed; ambiguous and not idempotent → unknown; ambiguous but idempotent → retried", () => {
    expect(decideRetry(fail({ code: "delivery_request_rejected", retryable: false, status: 400 }), 1, policy, now, () => 0.5)).toEqual({
      status: "failed",
      why: "not_retryable",
    });
    expect(
      decideRetry(fail({ code: "delivery_ambiguous", retryable: false, ambiguous: true, status: null }), 1, policy, now, () => 0.5),
    ).toEqual({ status: "unknown", why: "ambiguous" });
    expect(
      decideRetry(fail({ code: "delivery_ambiguous", retryable: true, ambiguous: true, status: null }), 1, policy, now, () => 0.5),
    ).toMatchObject({ status: "retry_scheduled", uses_attempt: true, why: "idempotent_resend" });
  });
});
