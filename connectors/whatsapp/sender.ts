/**
 * @module WhatsApp Cloud API provider sender: axios with `baseURL` = apiRoot and a Bearer token, sending exactly
 * the text-message request dry-run shows (reply `context` on the first chunk). When the body is Graph's error
 * envelope, Meta's error `code` decides the delivery code (its HTTP status is unreliable, PROVIDERS.md §3.7); any
 * other answer (a proxy's HTML page, an empty or truncated body) is classified by its HTTP status. A 200 only means accepted:
 * delivered/read/failed arrive later as status webhooks (see src/outbound/receipts.ts). `typing` marks the inbound
 * message read and shows the typing indicator in one `messages` POST (PROVIDERS.md §9.6).
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/typing-indicators
 */
import axios, { type AxiosInstance } from "axios";
import type { ProbeOutcome, ProviderSender, SendFailure } from "../../src/contracts/delivery.ts";
import type { ReplyTarget } from "../../src/contracts/outbound.ts";
import { probeKindForStatus, typingFailure } from "../../src/contracts/delivery.ts";
import {
  accepted,
  decideStatus,
  httpFailure,
  missingCredential,
  networkFailure,
  retryAfterMs,
  statusFailure,
} from "../shared/classify-failure.ts";
import { describeCause, isTimeout, redact, trackSend, type SendEvidence } from "../shared/send-tracking.ts";
import { buildWhatsAppTextMessage } from "./request.ts";

interface WhatsAppSenderOptions {
  /** Graph root with version, e.g. https://graph.facebook.com/v23.0. */
  apiRoot: string;
  /** The access token, read at each send; null when unset. */
  token(): string | null;
  /** Fallback business phone number id when a reply target has no account id (alerts); null when unset. */
  phoneNumberId?(): string | null;
  timeoutMs?: number;
}

/** Throughput (130429), pair rate (131056) and API-call limits (80007, 4). */
const RATE_LIMIT_CODES = new Set([130429, 131056, 80007, 4]);
/** Generic and temporary service errors. */
const UNAVAILABLE_CODES = new Set([1, 2, 131000, 131016]);

interface GraphErrorBody {
  error?: { code?: number; message?: string; error_data?: { details?: string } };
}

/** axios response headers as plain lower-cased strings (what `retryAfterMs` reads). */
function plainHeaders(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((headers ?? {}) as Record<string, unknown>)) if (typeof v === "string") out[k.toLowerCase()] = v;
  return out;
}

/** Graph's own error object, when the body is its JSON error envelope (not an HTML page, a string, nothing). */
function graphErrorOf(data: unknown): GraphErrorBody["error"] | undefined {
  const e = data !== null && typeof data === "object" ? (data as GraphErrorBody).error : undefined;
  return e !== null && typeof e === "object" ? e : undefined;
}

/**
 * Map an axios failure to a delivery outcome (PROVIDERS.md §3.7). Graph's error `code` decides when the body is its
 * error envelope (Meta: the HTTP status is not a reliable discriminator); any other answer is classified by status.
 */
function toWhatsAppOutcome(err: unknown, evidence: SendEvidence, token: string): SendFailure {
  if (axios.isAxiosError(err) && err.response) {
    const status = err.response.status;
    const headers = plainHeaders(err.response.headers);
    const e = graphErrorOf(err.response.data);
    const code = e?.code;
    const detail = redact(
      `${status} ${code ?? "-"}: ${e?.message ?? err.message}${e?.error_data?.details ? ` — ${e.error_data.details}` : ""}`,
      [token],
    );
    if (code !== undefined && RATE_LIMIT_CODES.has(code))
      return httpFailure("delivery_rate_limited", status, detail, { retry_after_ms: retryAfterMs(headers) });
    if (code === 131047) return httpFailure("delivery_window_closed", status, detail);
    // 131026 "Message undeliverable": not on WhatsApp, an old client, or the business is blocked; stop sending there.
    if (code === 131026) return httpFailure("delivery_recipient_blocked", status, detail);
    if (code !== undefined && UNAVAILABLE_CODES.has(code)) return httpFailure("delivery_provider_unavailable", status, detail);
    const d = decideStatus(status);
    return httpFailure(d.code, status, detail, {
      retryable: d.retryable,
      retry_after_ms: d.code === "delivery_rate_limited" ? retryAfterMs(headers) : null,
    });
  }
  // Never describe the axios error itself beyond name/message/code: its config holds the Authorization header.
  const detail = redact(describeCause(err), [token]);
  // The head arrived but the body broke off: the status still decides.
  if (evidence.response) return statusFailure(evidence.response, detail);
  return networkFailure(evidence, false, detail);
}

function createClient(apiRoot: string, timeoutMs: number): AxiosInstance {
  // maxRedirects 0: plain node:http (no follow-redirects wrapper), and a Bearer token never follows a redirect.
  return axios.create({ baseURL: apiRoot, timeout: timeoutMs, maxRedirects: 0 });
}

/** Create the WhatsApp sender. */
export function createWhatsAppSender(opts: WhatsAppSenderOptions): ProviderSender {
  const apiRoot = opts.apiRoot.replace(/\/+$/, "");
  const client = createClient(apiRoot, opts.timeoutMs ?? 10_000);
  /** The token and the business phone number to send from, or the missing-credential failure. */
  const credentials = (target: ReplyTarget): { token: string; phoneNumberId: string } | SendFailure => {
    const token = opts.token();
    if (!token)
      return missingCredential(
        "delivery_missing_whatsapp_access_token",
        "the WhatsApp access token (TAU_WHATSAPP_ACCESS_TOKEN or secret whatsapp-access-token)",
      );
    const phoneNumberId = target.account_id || opts.phoneNumberId?.() || null;
    if (!phoneNumberId)
      return missingCredential(
        "delivery_missing_whatsapp_phone_number_id",
        "the WhatsApp phone number id (TAU_WHATSAPP_PHONE_NUMBER_ID or secret whatsapp-phone-number-id)",
      );
    return { token, phoneNumberId };
  };
  const post = (phoneNumberId: string, token: string, body: Record<string, unknown>) =>
    trackSend(() =>
      client.post(`/${encodeURIComponent(phoneNumberId)}/messages`, body, {
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      }),
    );
  return {
    transport: "whatsapp",
    idempotent: false,
    async send(job) {
      const creds = credentials(job.target);
      if ("ok" in creds) return creds;
      const { token, phoneNumberId } = creds;
      const request = buildWhatsAppTextMessage(apiRoot, { ...job, target: { ...job.target, account_id: phoneNumberId } });
      const r = await post(phoneNumberId, token, request.body);
      if (r.ok) {
        const id = (r.value.data as { messages?: { id?: unknown }[] } | undefined)?.messages?.[0]?.id;
        if (typeof id === "string") return { ok: true, provider_message_id: id };
        // Accepted without an id we can match receipts on: it was sent; don't send it again.
        return { ok: true, provider_message_id: `unknown:${r.value.status}` };
      }
      if (accepted(r.evidence.response)) return { ok: true, provider_message_id: `unknown:${r.evidence.response.status}` };
      return toWhatsAppOutcome(r.error, r.evidence, token);
    },
    async typing(target, inboundMessageId) {
      // The indicator hangs off the message being answered (and marks it read): no wamid, no indicator.
      if (!inboundMessageId) return { ok: false, code: "delivery_request_rejected", status: null, detail: "no inbound message id" };
      const creds = credentials(target);
      if ("ok" in creds) return typingFailure(creds);
      const { token, phoneNumberId } = creds;
      const r = await post(phoneNumberId, token, {
        messaging_product: "whatsapp",
        status: "read",
        message_id: inboundMessageId,
        typing_indicator: { type: "text" },
      });
      if (r.ok || accepted(r.evidence.response)) return { ok: true };
      return typingFailure(toWhatsAppOutcome(r.error, r.evidence, token));
    },
  };
}

/** Online probe: `GET /{phone_number_id}` with the token. */
export async function probeWhatsApp(opts: {
  apiRoot: string;
  token: string;
  phoneNumberId: string;
  timeoutMs?: number;
}): Promise<ProbeOutcome> {
  const client = createClient(opts.apiRoot.replace(/\/+$/, ""), opts.timeoutMs ?? 10_000);
  try {
    const r = await client.get(`/${encodeURIComponent(opts.phoneNumberId)}`, { headers: { Authorization: `Bearer ${opts.token}` } });
    const d = r.data as { display_phone_number?: string; verified_name?: string };
    return { ok: true, detail: `${d.verified_name ?? "phone number"} ${d.display_phone_number ?? opts.phoneNumberId}` };
  } catch (err) {
    if (axios.isAxiosError(err) && err.response) {
      const e = (err.response.data as GraphErrorBody | undefined)?.error;
      const kind = e?.code !== undefined && RATE_LIMIT_CODES.has(e.code) ? "rate_limited" : probeKindForStatus(err.response.status);
      return {
        ok: false,
        kind,
        status: err.response.status,
        detail: redact(`GET /{phone_number_id} ${err.response.status} ${e?.code ?? "-"}: ${e?.message ?? err.message}`, [opts.token]),
      };
    }
    return {
      ok: false,
      kind: isTimeout(err) ? "timeout" : "transport_error",
      status: null,
      detail: redact(describeCause(err), [opts.token]),
    };
  }
}
