/**
 * @module How a failed provider send is classified, for every sender alike (PRODUCT.md §7). A response with an HTTP
 * status is classified by that status, whatever its body (HTML from a proxy, empty, truncated JSON): 429 waits
 * (`Retry-After` header or the provider's body value), 5xx is retried, 401/403 are credential problems and final, other
 * 4xx are final. A failure without a response is retried only when no byte of the request reached a connected socket;
 * otherwise it is ambiguous — retried only by an idempotent sender (Discord nonce), else left to the operator.
 * @see https://www.rfc-editor.org/rfc/rfc9110#field.retry-after
 */
import type { SendFailure } from "../../src/contracts/delivery.ts";
import type { ResponseHead, SendEvidence } from "./send-tracking.ts";

/** Why a status maps to its code: the detail says it, so an operator sees what the decision rested on. */
export type StatusBasis = "rate_limited" | "server_error" | "credential_rejected" | "client_error" | "unexpected_status";

/** The delivery code, retryability and basis of an HTTP error status (the body plays no part). */
export function decideStatus(status: number): { code: SendFailure["code"]; retryable: boolean; basis: StatusBasis } {
  if (status === 429) return { code: "delivery_rate_limited", retryable: true, basis: "rate_limited" };
  if (status >= 500 && status <= 599) return { code: "delivery_provider_unavailable", retryable: true, basis: "server_error" };
  if (status === 401 || status === 403) return { code: "delivery_request_rejected", retryable: false, basis: "credential_rejected" };
  if (status >= 400 && status <= 499) return { code: "delivery_request_rejected", retryable: false, basis: "client_error" };
  // 1xx/3xx (a redirect tau does not follow): the request was not taken; sending it again changes nothing.
  return { code: "delivery_request_rejected", retryable: false, basis: "unexpected_status" };
}

/**
 * The wait a response asks for, in ms: `Retry-After` as delay-seconds (decimals accepted, as Discord sends them) or
 * as an HTTP-date measured against the response's own `Date`; null when absent or unreadable.
 */
export function retryAfterMs(headers: Record<string, string> | undefined): number | null {
  const v = headers?.["retry-after"]?.trim();
  if (!v) return null;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.ceil(Number(v) * 1000);
  const at = Date.parse(v);
  const date = Date.parse(headers?.["date"] ?? "");
  return Number.isFinite(at) && Number.isFinite(date) ? Math.max(0, at - date) : null;
}

/** A failure with an HTTP response, with the code the sender chose (which may refine the status: 403 blocked, 131047). */
export function httpFailure(
  code: SendFailure["code"],
  status: number | null,
  detail: string,
  extra: { retryable?: boolean; retry_after_ms?: number | null; migrate_to?: string } = {},
): SendFailure {
  const retryable = extra.retryable ?? (code === "delivery_rate_limited" || code === "delivery_provider_unavailable");
  return {
    ok: false,
    code,
    retryable,
    ambiguous: false,
    retry_after_ms: extra.retry_after_ms ?? null,
    status,
    detail,
    ...(extra.migrate_to !== undefined ? { migrate_to: extra.migrate_to } : {}),
  };
}

/**
 * A response whose body the client could not read as the provider's own answer: classified by its status alone.
 * `bodyRetryAfterMs` is the provider's body value when one was read (Telegram `parameters.retry_after`).
 */
export function statusFailure(head: ResponseHead, detail: string, bodyRetryAfterMs: number | null = null): SendFailure {
  const d = decideStatus(head.status);
  const wait = d.code === "delivery_rate_limited" ? (bodyRetryAfterMs ?? retryAfterMs(head.headers)) : null;
  return httpFailure(d.code, head.status, `${head.status} ${d.basis}: ${detail}`, { retryable: d.retryable, retry_after_ms: wait });
}

/**
 * A failure without a response. Nothing reached a connected socket → `delivery_transport_error`, retryable (a
 * refused connection, DNS, a TLS handshake, a pooled socket found closed before writing). Otherwise
 * `delivery_ambiguous`: retried only when the sender is idempotent (Discord nonce), else left to the operator.
 */
export function networkFailure(evidence: Pick<SendEvidence, "handed">, idempotent: boolean, detail: string): SendFailure {
  if (!evidence.handed)
    return {
      ok: false,
      code: "delivery_transport_error",
      retryable: true,
      ambiguous: false,
      retry_after_ms: null,
      status: null,
      detail: `not sent (no byte reached the connection): ${detail}`,
    };
  return {
    ok: false,
    code: "delivery_ambiguous",
    retryable: idempotent,
    ambiguous: true,
    retry_after_ms: null,
    status: null,
    detail: `may have been delivered (the request reached the connection, no answer came): ${detail}`,
  };
}

/** The outcome when the transport's credential is not configured. Retryable: fixing the secret needs no new request. */
export function missingCredential(code: SendFailure["code"], what: string): SendFailure {
  return { ok: false, code, retryable: true, ambiguous: false, retry_after_ms: null, status: null, detail: `${what} is not configured` };
}

/** True for a 2xx status: the provider accepted the request, even if its answer could not be read. */
export const accepted = (head: ResponseHead | null): head is ResponseHead => head !== null && head.status >= 200 && head.status <= 299;
