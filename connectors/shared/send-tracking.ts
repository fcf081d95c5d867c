/**
 * @module Did a failed HTTP request reach the wire? A send that failed before its body was written can be
 * retried safely (`delivery_transport_error`); one that failed after (reset, timeout) may have been delivered
 * (`delivery_ambiguous`). Node's own diagnostics channels tell us, for node:http (grammY's node-fetch, axios)
 * and for undici (@discordjs/rest), without patching any client. Also: token redaction for every detail.
 * @see https://nodejs.org/docs/latest-v20.x/api/diagnostics_channel.html#built-in-channels
 */
import { AsyncLocalStorage } from "node:async_hooks";
import dc from "node:diagnostics_channel";
import type { ClientRequest } from "node:http";
import type { SendFailure } from "../../src/contracts/delivery.ts";

interface WriteState {
  /** Requests the tracked call started. */
  started: number;
  /** At least one request body was completely handed to the socket. */
  written: boolean;
}

const scope = new AsyncLocalStorage<WriteState>();
const undiciRequests = new WeakMap<object, WriteState>();
let subscribed = false;

function subscribe(): void {
  if (subscribed) return;
  subscribed = true;
  // Published synchronously in the ClientRequest constructor, i.e. inside the caller's async context.
  dc.subscribe("http.client.request.start", (message) => {
    const state = scope.getStore();
    if (!state) return;
    state.started += 1;
    (message as { request: ClientRequest }).request.once("finish", () => {
      state.written = true;
    });
  });
  dc.subscribe("undici:request:create", (message) => {
    const state = scope.getStore();
    if (!state) return;
    state.started += 1;
    undiciRequests.set((message as { request: object }).request, state);
  });
  dc.subscribe("undici:request:bodySent", (message) => {
    const state = undiciRequests.get((message as { request: object }).request);
    if (state) state.written = true;
  });
}

/** Run `fn`, reporting whether any HTTP request it made had its body written before it failed. */
export async function trackWrites<T>(
  fn: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown; written: boolean }> {
  subscribe();
  const state: WriteState = { started: 0, written: false };
  try {
    return { ok: true, value: await scope.run(state, fn) };
  } catch (error) {
    return { ok: false, error, written: state.written };
  }
}

/** Replace every occurrence of each secret with `<redacted>`, plus any Bot API token path or Bearer value. */
export function redact(text: string, secrets: readonly (string | null | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join("<redacted>");
  // Belt and braces: Bot API URLs carry the token in the path.
  return out.replace(/\/bot\d+:[A-Za-z0-9_-]+/g, "/bot<redacted>").replace(/Bearer\s+[A-Za-z0-9._-]+/gi, "Bearer <redacted>");
}

/** `name: message (code)` of an error and its causes (`cause`, grammY's `error`), one line, at most 300 chars. */
export function describeCause(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth += 1) {
    if (e instanceof Error) {
      const code = (e as { code?: unknown }).code;
      parts.push(`${e.name}: ${e.message}${code !== undefined ? ` (${String(code)})` : ""}`);
      e = (e as { cause?: unknown; error?: unknown }).cause ?? (e as { error?: unknown }).error;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join(" <- ").replace(/\s+/g, " ").slice(0, 300);
}

/**
 * A network failure without an HTTP response. Not written → `delivery_transport_error`, retryable. Written →
 * `delivery_ambiguous`: retried only when the sender is idempotent (Discord nonce), else left to the operator.
 */
export function networkFailure(written: boolean, idempotent: boolean, detail: string): SendFailure {
  if (!written)
    return { ok: false, code: "delivery_transport_error", retryable: true, ambiguous: false, retry_after_ms: null, status: null, detail };
  return { ok: false, code: "delivery_ambiguous", retryable: idempotent, ambiguous: true, retry_after_ms: null, status: null, detail };
}

/** A failure with an HTTP response, classified by the sender. */
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

/** The outcome when the transport's credential is not configured. Retryable: fixing the secret needs no new request. */
export function missingCredential(code: SendFailure["code"], what: string): SendFailure {
  return { ok: false, code, retryable: true, ambiguous: false, retry_after_ms: null, status: null, detail: `${what} is not configured` };
}

/** True when the error (or a cause) is a client-side timeout or abort. */
export function isTimeout(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth += 1) {
    if (!(e instanceof Error)) return false;
    const code = String((e as { code?: unknown }).code ?? "");
    const type = String((e as { type?: unknown }).type ?? "");
    if (e.name === "AbortError" || e.name === "TimeoutError" || type === "request-timeout" || type === "aborted") return true;
    if (code === "ETIMEDOUT" || code === "ECONNABORTED" || /^UND_ERR_.*TIMEOUT$/.test(code)) return true;
    if (/timed out|timeout/i.test(e.message)) return true;
    e = (e as { cause?: unknown }).cause ?? (e as { error?: unknown }).error;
  }
  return false;
}
