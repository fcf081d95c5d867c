/**
 * @module The webhook responder: POST the admitted envelope (no secrets, no raw provider payload), its route and
 * session key to a URL (n8n, a small service), signed with HMAC-SHA256 of the raw body in `X-Tau-Signature:
 * sha256=<hex>`; the JSON answer's `text` is the reply. `X-Tau-Job-Id` is stable across attempts, so a receiver
 * can drop a repeat. Only answers that cannot have run the work (429, 502, 503, 504, refused connections) are retried.
 */
import { createHmac } from "node:crypto";
import type { Envelope } from "../contracts/envelope.ts";
import type { RouteInfo } from "../contracts/event-context.ts";
import type { WebhookResponderConfig } from "../config/index.ts";

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface WebhookResult {
  ok: boolean;
  /** `responder_replied`, `responder_no_reply`, or a `responder_webhook_*` failure. */
  reason: string;
  text: string;
  retryable: boolean;
  retryAfterMs: number | null;
  status: number | null;
}

/** The body and headers of the POST (the signature needs the key; `describe` leaves it out). */
export function webhookRequest(
  config: WebhookResponderConfig,
  job: { job_id: string; responder: string; session_key: string },
  env: Envelope,
  route: RouteInfo,
  key: string | null,
): WebhookRequest {
  const { raw: _raw, ...envelope } = env as Envelope & { raw?: unknown };
  const body = JSON.stringify({ v: 1, job_id: job.job_id, responder: job.responder, session_key: job.session_key, route, envelope });
  const headers: Record<string, string> = { "content-type": "application/json", "x-tau-job-id": job.job_id };
  headers["x-tau-signature"] = key === null ? "<redacted>" : `sha256=${createHmac("sha256", key).update(body).digest("hex")}`;
  return { url: config.url, headers, body };
}

const RETRYABLE = new Set([429, 502, 503, 504]);

function retryAfterOf(res: Response): number | null {
  const v = res.headers.get("retry-after");
  if (!v) return null;
  const s = Number(v);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  // An HTTP date is measured against the response's own Date header; without one, tau's backoff decides.
  const at = Date.parse(v);
  const sent = Date.parse(res.headers.get("date") ?? "");
  return Number.isFinite(at) && Number.isFinite(sent) ? Math.max(0, at - sent) : null;
}

/** POST and read the answer; never throws. */
export async function callWebhook(req: WebhookRequest, timeoutMs: number, signal: AbortSignal): Promise<WebhookResult> {
  const fail = (reason: string, retryable: boolean, status: number | null, retryAfterMs: number | null = null): WebhookResult => ({
    ok: false,
    reason,
    text: "",
    retryable,
    retryAfterMs,
    status,
  });
  let res: Response;
  try {
    // No redirects: a signed body goes to the configured URL only.
    res = await fetch(req.url, {
      method: "POST",
      redirect: "error",
      headers: req.headers,
      body: req.body,
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    });
  } catch (err) {
    if (signal.aborted) return fail("responder_model_aborted", true, null);
    const e = err as Error & { cause?: { code?: string } };
    if (e.name === "TimeoutError") return fail("responder_webhook_timeout", false, null);
    // Refused before anything was sent: the receiver never saw it.
    if (e.cause?.code === "ECONNREFUSED") return fail("responder_webhook_unavailable", true, null);
    return fail("responder_webhook_unavailable", false, null);
  }
  let text: string;
  try {
    text = await res.text();
  } catch {
    return fail("responder_webhook_bad_answer", false, res.status);
  }
  if (!res.ok) {
    if (res.status === 401 || res.status === 403) return fail("responder_webhook_rejected", false, res.status);
    return fail(
      RETRYABLE.has(res.status) ? "responder_webhook_unavailable" : "responder_webhook_rejected",
      RETRYABLE.has(res.status),
      res.status,
      retryAfterOf(res),
    );
  }
  if (text.trim() === "")
    return { ok: true, reason: "responder_no_reply", text: "", retryable: false, retryAfterMs: null, status: res.status };
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    return fail("responder_webhook_bad_answer", false, res.status);
  }
  const reply = answer && typeof answer === "object" ? (answer as { text?: unknown }).text : undefined;
  if (reply === undefined || reply === null || reply === "")
    return { ok: true, reason: "responder_no_reply", text: "", retryable: false, retryAfterMs: null, status: res.status };
  if (typeof reply !== "string") return fail("responder_webhook_bad_answer", false, res.status);
  return { ok: true, reason: "responder_replied", text: reply, retryable: false, retryAfterMs: null, status: res.status };
}
