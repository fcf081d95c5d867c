/**
 * @module Resend adapter: the only importer of `resend` (and of `svix`, for webhook signatures). Turns the SDK's
 * `{data, error, headers}` answers into outcomes with reason codes; never puts the API key in an outcome.
 * @see PROVIDERS.md §8.1 (the SDK never throws on HTTP errors; `baseUrl`; `Idempotency-Key`; Svix webhooks)
 */
import { timingSafeEqual } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Resend } from "resend";
import { Webhook } from "svix";
import { scrub, type EmailMessage, type EmailSender, type ProbeOutcome, type ProviderCode, type SendOutcome } from "./provider-ports.ts";

export interface ResendAdapterConfig {
  apiKey: string;
  /** `providers.resend.api_root` (the SDK's `baseUrl`). */
  baseUrl: string;
  timeoutMs: number;
}

interface ResendErrorLike {
  name?: string;
  statusCode?: number | null;
  message?: string;
}

const AUTH = new Set(["missing_api_key", "invalid_api_key", "restricted_api_key"]);
const RATE = new Set(["rate_limit_exceeded", "daily_quota_exceeded", "monthly_quota_exceeded"]);

/** Reason code for a Resend error answer (`timedOut`: our own deadline aborted the request). */
function toResendReason(error: ResendErrorLike, timedOut: boolean): { reason: ProviderCode; status: "failed" | "timeout" } {
  if (timedOut) return { reason: "provider_timeout", status: "timeout" };
  const name = error.name ?? "";
  const code = error.statusCode ?? null;
  if (code === 429 || RATE.has(name)) return { reason: "provider_rate_limited", status: "failed" };
  if (code === 401 || code === 403 || AUTH.has(name)) return { reason: "provider_auth_failed", status: "failed" };
  // 409 concurrent_idempotent_requests: the first request with this key is still running; retry later.
  if (name === "concurrent_idempotent_requests") return { reason: "provider_unavailable", status: "failed" };
  if (code !== null && code >= 400 && code < 500) return { reason: "provider_validation_failed", status: "failed" };
  return { reason: "provider_unavailable", status: "failed" };
}

function retryAfterMs(headers: Record<string, string> | null): number | null {
  const v = headers?.["retry-after"];
  if (v === undefined) return null;
  const s = Number(v);
  return Number.isFinite(s) && s >= 0 ? Math.round(s * 1000) : null;
}

/** An email sender over the real SDK, pointed at `baseUrl`. */
export function createResendAdapter(cfg: ResendAdapterConfig): EmailSender {
  const client = new Resend(cfg.apiKey, { baseUrl: cfg.baseUrl.replace(/\/+$/, "") });

  /** Run one SDK call under our deadline (the SDK has none); the abort surfaces as a network error we re-label. */
  async function timed<T extends { error: ResendErrorLike | null; headers: Record<string, string> | null }>(
    call: (signal: AbortSignal) => Promise<T>,
  ): Promise<{ res: T; timedOut: boolean; latency: number }> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error("tau deadline")), cfg.timeoutMs);
    const t0 = performance.now();
    try {
      const res = await call(ac.signal);
      return { res, timedOut: ac.signal.aborted && res.error !== null, latency: Math.round(performance.now() - t0) };
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    provider: "resend",
    async send(msg: EmailMessage): Promise<SendOutcome> {
      const { res, timedOut, latency } = await timed((signal) =>
        client.emails.send(
          { from: msg.from, to: msg.to, subject: msg.subject, text: msg.text, ...(msg.replyTo ? { replyTo: msg.replyTo } : {}) },
          { idempotencyKey: msg.idempotencyKey, signal },
        ),
      );
      if (res.data && !res.error)
        return { ok: true, status: "sent", reason_code: "delivery_sent", provider_id: res.data.id, latency_ms: latency, segments: null };
      const error: ResendErrorLike = res.error ?? { name: "application_error", statusCode: null, message: "empty response" };
      const { reason, status } = toResendReason(error, timedOut);
      return {
        ok: false,
        status,
        reason_code: reason,
        http_status: error.statusCode ?? null,
        provider_code: error.name ?? null,
        retry_after_ms: retryAfterMs(res.headers),
        latency_ms: latency,
        detail: scrub(`resend emails.send: ${error.name ?? "error"}: ${error.message ?? ""}`, [cfg.apiKey]),
      };
    },
    /** `GET /emails/<probe id>`: 404 `not_found` after authentication means the key works. */
    async probe(): Promise<ProbeOutcome> {
      const { res, timedOut, latency } = await timed((signal) => client.emails.get("00000000-0000-4000-8000-000000000000", { signal }));
      const error = res.error as ResendErrorLike | null;
      if (!error || error.statusCode === 404 || error.name === "not_found") {
        return {
          ok: true,
          reason_code: "probe_ok",
          http_status: error?.statusCode ?? 200,
          latency_ms: latency,
          detail: "resend accepted the API key",
        };
      }
      const { reason } = toResendReason(error, timedOut);
      return {
        ok: false,
        reason_code: reason,
        http_status: error.statusCode ?? null,
        latency_ms: latency,
        detail: scrub(`resend: ${error.name ?? "error"}: ${error.message ?? ""}`, [cfg.apiKey]),
      };
    },
  };
}

type WebhookVerdict =
  | { ok: true; payload: unknown }
  | {
      ok: false;
      reason:
        | "webhook_headers_missing"
        | "webhook_timestamp_stale"
        | "webhook_signature_invalid"
        | "webhook_secret_invalid"
        | "webhook_body_invalid";
    };

/** Svix/Standard Webhooks allow five minutes either way. */
const WEBHOOK_TOLERANCE_MS = 5 * 60_000;

/**
 * Verify a Resend (Svix) webhook over the RAW body: `v1,<base64 HMAC-SHA256(key, "${id}.${ts}.${body}")>` against
 * each space-separated signature, in constant time, with the timestamp judged against our clock (±5 min).
 * @see https://docs.svix.com/receiving/verifying-payloads/how-manual
 */
export function verifyResendWebhook(input: {
  secret: string;
  rawBody: string;
  headers: { id: string | undefined; timestamp: string | undefined; signature: string | undefined };
  nowMs: number;
}): WebhookVerdict {
  const { id, timestamp, signature } = input.headers;
  if (!id || !timestamp || !signature) return { ok: false, reason: "webhook_headers_missing" };
  const ts = Number(timestamp);
  if (!/^\d+$/.test(timestamp) || Math.abs(input.nowMs - ts * 1000) > WEBHOOK_TOLERANCE_MS)
    return { ok: false, reason: "webhook_timestamp_stale" };
  let expected: string;
  try {
    expected = new Webhook(input.secret).sign(id, new Date(ts * 1000), input.rawBody);
  } catch {
    // The secret is not `whsec_<base64>`: a configuration problem, reported as such (never as a valid request).
    return { ok: false, reason: "webhook_secret_invalid" };
  }
  const want = Buffer.from(expected.split(",")[1] ?? "", "utf8");
  const match = signature.split(" ").some((s) => {
    const [version, sig] = s.split(",");
    if (version !== "v1" || sig === undefined) return false;
    const got = Buffer.from(sig, "utf8");
    return got.length === want.length && timingSafeEqual(got, want);
  });
  if (!match) return { ok: false, reason: "webhook_signature_invalid" };
  try {
    return { ok: true, payload: JSON.parse(input.rawBody) as unknown };
  } catch {
    return { ok: false, reason: "webhook_body_invalid" };
  }
}
