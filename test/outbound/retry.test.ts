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
    });
    expect(decideRetry(fail({}), 3, policy, now, () => 0.5)).toEqual({
      status: "retry_scheduled",
      delay_ms: 1000,
      next_attempt_at_ms: now + 1000,
    });
    expect(decideRetry(fail({}), 4, policy, now, () => 0.5)).toEqual({ status: "dead_letter" });
  });
  it("retry_after is honoured (never shortened), even beyond max_backoff_ms", () => {
    expect(decideRetry(fail({ code: "delivery_rate_limited", retry_after_ms: 30_000 }), 1, policy, now, () => 0.5)).toEqual({
      status: "retry_scheduled",
      delay_ms: 30_000,
      next_attempt_at_ms: now + 30_000,
    });
    expect(decideRetry(fail({ code: "delivery_rate_limited", retry_after_ms: 100 }), 2, policy, now, () => 0.5)).toEqual({
      status: "retry_scheduled",
      delay_ms: 500,
      next_attempt_at_ms: now + 500,
    });
  });
  it("non-retryable → failed; ambiguous and not idempotent → unknown; ambiguous but idempotent → retried", () => {
    expect(decideRetry(fail({ code: "delivery_request_rejected", retryable: false, status: 400 }), 1, policy, now, () => 0.5)).toEqual({
      status: "failed",
    });
    expect(
      decideRetry(fail({ code: "delivery_ambiguous", retryable: false, ambiguous: true, status: null }), 1, policy, now, () => 0.5),
    ).toEqual({ status: "unknown" });
    expect(
      decideRetry(fail({ code: "delivery_ambiguous", retryable: true, ambiguous: true, status: null }), 1, policy, now, () => 0.5).status,
    ).toBe("retry_scheduled");
  });
});
