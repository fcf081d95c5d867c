/**
 * @module Twilio adapter: the only importer of `twilio`. Sends SMS through the real SDK (pointed at
 * `providers.twilio.api_root` with a RequestClient that rewrites the origin), maps `RestException`s and network
 * errors to reason codes, probes credentials, and checks `X-Twilio-Signature` on inbound webhooks. The RequestClient
 * also keeps each call's response head, so a send is classified by its HTTP status even when the SDK then fails on
 * the body (a 201 with a truncated body was accepted: never reported as failed), and a 429's `Retry-After` is kept.
 * Twilio has no idempotency key: a network failure not proven to precede the request (connection refused, DNS, TLS)
 * is ambiguous (`status: "timeout"`: the SMS may have been sent).
 * @see PROVIDERS.md §8.1 (no base-URL option: `ClientOpts.httpClient` is the supported hook)
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { performance } from "node:perf_hooks";
import twilio from "twilio";
import type RequestClient from "twilio/lib/base/RequestClient.js";
import type * as TwilioResponseModule from "twilio/lib/http/response.js";
import { scrub, type ProbeOutcome, type ProviderCode, type SendOutcome, type SmsMessage, type SmsSender } from "./provider-ports.ts";

type TwilioResponse<T> = TwilioResponseModule.default<T>;

/**
 * The SDK's own RequestClient (axios, auth, form encoding) with each request's origin replaced by `apiRoot`
 * (path prefix kept), so self-hosted proxies and local test servers work. With a custom httpClient the
 * client-level `autoRetry` is ignored; tau does not auto-retry sends (dead letters are replayed by an operator).
 */
class OriginRewritingRequestClient extends twilio.RequestClient {
  private readonly root: URL;

  constructor(apiRoot: string, opts: RequestClient.RequestClientOptions = {}) {
    super(opts);
    this.root = new URL(apiRoot);
  }

  override async request<TData>(opts: RequestClient.RequestOptions<TData>): Promise<TwilioResponse<TData>> {
    const u = new URL(opts.uri);
    const prefix = this.root.pathname.replace(/\/+$/, "");
    const rewritten = `${this.root.protocol}//${this.root.host}${prefix}${u.pathname}${u.search}`;
    const res = await super.request({ ...opts, uri: rewritten });
    const head = responseHead.getStore();
    if (head) head.value = { status: res.statusCode, headers: lowerHeaders(res.headers) };
    return res;
  }
}

/** The status and headers of the response a call got, set by the RequestClient before the SDK reads the body. */
const responseHead = new AsyncLocalStorage<{ value: { status: number; headers: Record<string, string> } | null }>();

function lowerHeaders(h: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((h ?? {}) as Record<string, unknown>)) if (v !== undefined) out[k.toLowerCase()] = String(v);
  return out;
}

/** `Retry-After` in delay-seconds (decimals accepted), in ms; null when absent or not a number. */
function retryAfterMs(headers: Record<string, string> | undefined): number | null {
  const v = headers?.["retry-after"]?.trim();
  return v && /^\d+(\.\d+)?$/.test(v) ? Math.ceil(Number(v) * 1000) : null;
}

/**
 * Network errors that prove the request never left: no connection, no name, no TLS session. Anything else
 * (a reset, a hang-up, a timeout) may have come after Twilio read the request.
 */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "CERT_HAS_EXPIRED",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
]);

export interface TwilioAdapterConfig {
  accountSid: string;
  authToken: string;
  apiRoot: string;
  timeoutMs: number;
}

interface TwilioErrorLike {
  status?: number;
  code?: number | string;
  message?: string;
}

const VALIDATION_CODES = new Set([21211, 21212, 21602, 21603, 21604, 21606, 21614, 21617, 21408]);

/**
 * Reason code for something the SDK threw: a `RestException` (status + Twilio code) or an axios network error;
 * `wireStatus` is the status the response head carried, for errors the SDK raised while reading the body.
 */
function toTwilioReason(
  err: unknown,
  wireStatus: number | null = null,
): { reason: ProviderCode; status: "failed" | "timeout"; http: number | null; code: string | null } {
  const e = (err ?? {}) as TwilioErrorLike;
  const http = typeof e.status === "number" ? e.status : wireStatus;
  const code = e.code === undefined ? null : String(e.code);
  if (http === null) {
    // No HTTP answer: axios ECONNABORTED/ETIMEDOUT are our deadline (the request may have arrived).
    const timeout = code === "ECONNABORTED" || code === "ETIMEDOUT" || /timeout/i.test(e.message ?? "");
    if (timeout) return { reason: "provider_timeout", status: "timeout", http, code };
    // Proven unsent → a plain failure; any other network error may have come after Twilio took the SMS: ambiguous.
    return { reason: "provider_unavailable", status: code !== null && NOT_SENT_CODES.has(code) ? "failed" : "timeout", http, code };
  }
  const n = Number(code);
  if (n === 21610) return { reason: "provider_recipient_unsubscribed", status: "failed", http, code };
  if (http === 429 || n === 20429) return { reason: "provider_rate_limited", status: "failed", http, code };
  if (http === 401 || http === 403 || n === 20003) return { reason: "provider_auth_failed", status: "failed", http, code };
  if (http >= 500) return { reason: "provider_unavailable", status: "failed", http, code };
  if (VALIDATION_CODES.has(n) || http >= 400) return { reason: "provider_validation_failed", status: "failed", http, code };
  return { reason: "provider_unavailable", status: "failed", http, code };
}

/** An SMS sender over the real SDK. */
export function createTwilioAdapter(cfg: TwilioAdapterConfig): SmsSender {
  const client = twilio(cfg.accountSid, cfg.authToken, {
    httpClient: new OriginRewritingRequestClient(cfg.apiRoot, { timeout: cfg.timeoutMs }),
    // An empty env: the SDK must not pick up TWILIO_* variables behind tau's secret lookup.
    env: {},
  });
  const secrets = [cfg.authToken];

  return {
    provider: "twilio",
    async send(msg: SmsMessage): Promise<SendOutcome> {
      const t0 = performance.now();
      const head: { value: { status: number; headers: Record<string, string> } | null } = { value: null };
      try {
        const m = await responseHead.run(head, () =>
          client.messages.create({
            to: msg.to,
            body: msg.body,
            ...(msg.from ? { from: msg.from } : {}),
            ...(msg.messagingServiceSid ? { messagingServiceSid: msg.messagingServiceSid } : {}),
            ...(msg.statusCallback ? { statusCallback: msg.statusCallback } : {}),
          }),
        );
        const segments = Number(m.numSegments);
        return {
          ok: true,
          status: "sent",
          reason_code: "delivery_sent",
          provider_id: m.sid,
          latency_ms: Math.round(performance.now() - t0),
          segments: Number.isFinite(segments) ? segments : null,
        };
      } catch (err) {
        const latency_ms = Math.round(performance.now() - t0);
        const got = head.value;
        // Accepted (2xx) but the body could not be read: the SMS exists; sending it again would duplicate it.
        if (got && got.status >= 200 && got.status <= 299)
          return {
            ok: true,
            status: "sent",
            reason_code: "delivery_sent",
            provider_id: `unknown:${got.status}`,
            latency_ms,
            segments: null,
          };
        // The status on the wire wins over whatever the SDK made of the body.
        const r = toTwilioReason(err, got?.status ?? null);
        return {
          ok: false,
          status: r.status,
          reason_code: r.reason,
          http_status: r.http,
          provider_code: r.code,
          retry_after_ms: r.reason === "provider_rate_limited" ? retryAfterMs(got?.headers) : null,
          latency_ms,
          detail: scrub(`twilio messages.create: ${r.code ?? "error"}: ${(err as Error)?.message ?? String(err)}`, secrets),
        };
      }
    },
    /**
     * Fetch a well-formed message SID that cannot exist: 404 (20404) after authentication proves the account
     * SID and token, with no side effect; 401 (20003) means they are wrong.
     */
    async probe(): Promise<ProbeOutcome> {
      const t0 = performance.now();
      try {
        await client.messages(`SM${"0".repeat(32)}`).fetch();
        return {
          ok: true,
          reason_code: "probe_ok",
          http_status: 200,
          latency_ms: Math.round(performance.now() - t0),
          detail: "twilio accepted the credentials",
        };
      } catch (err) {
        const r = toTwilioReason(err);
        const latency = Math.round(performance.now() - t0);
        if (r.http === 404)
          return { ok: true, reason_code: "probe_ok", http_status: 404, latency_ms: latency, detail: "twilio accepted the credentials" };
        return {
          ok: false,
          reason_code: r.reason,
          http_status: r.http,
          latency_ms: latency,
          detail: scrub(`twilio: ${r.code ?? "error"}: ${(err as Error)?.message ?? String(err)}`, secrets),
        };
      }
    },
  };
}

/**
 * `X-Twilio-Signature` check (HMAC-SHA1 over the exact PUBLIC url + sorted form params, constant time).
 * `url` must be what Twilio was configured with (scheme, host, path, query), not what a proxy forwarded.
 * @see https://www.twilio.com/docs/usage/webhooks/webhooks-security
 */
export function verifyTwilioSignature(
  authToken: string,
  signature: string,
  url: string,
  params: Record<string, string | string[]>,
): boolean {
  if (signature === "" || authToken === "") return false;
  return twilio.validateRequest(authToken, signature, url, params);
}
