/**
 * @module What a failed HTTP send left behind on the wire. A send whose bytes never reached a connected socket can
 * be retried safely (`delivery_transport_error`); once any byte of its request may have reached the socket, it may
 * have been delivered (`delivery_ambiguous`). The verdict is taken when the request is handed to the socket — never
 * from the `finish` event, which can come after a reset has already been reported (issue 14). Also captured: the
 * status and headers of any response whose head arrived, so a send is classified by its HTTP status even when the
 * client then fails on the body (grammY on an HTML 502, a truncated JSON 4xx). Node's own diagnostics channels tell us,
 * for node:http (grammY's node-fetch, axios) and undici (@discordjs/rest, global fetch), without patching any client.
 * Assumes the caller's requests get their sockets in its own async context: true for the agents the senders use
 * (`maxSockets: Infinity`, so no request waits in an agent's queue for another call's socket). node:http reports a
 * request when its whole body is handed over, so a streamed upload that fails half-way would not be seen: the
 * senders send buffered JSON bodies only. Also: token redaction and one-line causes for every detail.
 * @see https://nodejs.org/docs/latest-v20.x/api/diagnostics_channel.html#built-in-channels
 */
import { AsyncLocalStorage } from "node:async_hooks";
import dc from "node:diagnostics_channel";
import type { ClientRequest, IncomingMessage } from "node:http";
import type { Socket } from "node:net";

/** The head of a response: status and lower-cased headers (repeated ones joined with ", "). */
export interface ResponseHead {
  status: number;
  headers: Record<string, string>;
}

/** What one tracked call's requests came to on the wire. */
export interface SendEvidence {
  /** Requests the call handed to a connection (or tried to). */
  requests: number;
  /** Some byte of a request was handed to a connected socket: it may have reached the provider. */
  handed: boolean;
  /** The head of the last response that arrived, even when its body could not be read. */
  response: ResponseHead | null;
}

export type Tracked<T> = { ok: true; value: T; evidence: SendEvidence } | { ok: false; error: unknown; evidence: SendEvidence };

const scope = new AsyncLocalStorage<SendEvidence>();
const byRequest = new WeakMap<object, SendEvidence>();
let subscribed = false;

/** A TLS socket whose handshake is still running sends no request byte before `secureConnect`. */
function handshaking(socket: Socket): boolean {
  // `_secureEstablished` is TLSSocket's own flag; if Node ever drops it, count the socket as ready (ambiguous).
  return (
    (socket as { encrypted?: boolean }).encrypted === true && (socket as { _secureEstablished?: boolean })._secureEstablished === false
  );
}

/** The server already closed this pooled connection: Node refuses writes after the peer's FIN (`writeAfterFIN`). */
const closedByPeer = (socket: Socket) => socket.readableEnded && !socket.allowHalfOpen;

/**
 * The request's bytes were just given to `socket` (node:http calls `_finish` right after flushing into it; undici
 * publishes `sendHeaders` right before writing). A destroyed or ended socket takes nothing, nor does one the server
 * already closed (a stale keep-alive socket). A socket still connecting (or in its TLS handshake) holds the bytes
 * until it is connected: a refused connection, a DNS or TLS failure never sends them. Otherwise they are on their way.
 */
function handedTo(state: SendEvidence, socket: Socket | null | undefined): void {
  if (!socket || socket.destroyed || socket.writableEnded || closedByPeer(socket)) return;
  if (socket.connecting) {
    socket.once("connect", () => handedTo(state, socket));
    return;
  }
  if (handshaking(socket)) {
    socket.once("secureConnect", () => {
      state.handed = true;
    });
    return;
  }
  state.handed = true;
}

function headersOf(raw: IncomingMessage["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

/** undici passes headers as a flat array of name/value buffers. */
function undiciHeaders(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(raw)) return out;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = String(raw[i]).toLowerCase();
    const v = String(raw[i + 1]);
    out[k] = out[k] === undefined ? v : `${out[k]}, ${v}`;
  }
  return out;
}

function subscribe(): void {
  if (subscribed) return;
  subscribed = true;
  // node:http — published in ClientRequest#_finish, in the async context of the call that made the request, right
  // after the request was flushed into its socket (a socket that is not writable is never flushed into: no publish).
  dc.subscribe("http.client.request.start", (message) => {
    const state = scope.getStore();
    if (!state) return;
    const request = (message as { request: ClientRequest }).request;
    state.requests += 1;
    byRequest.set(request, state);
    handedTo(state, request.socket);
  });
  // Published when the response head is parsed, before any body byte is read.
  dc.subscribe("http.client.response.finish", (message) => {
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
    const state = byRequest.get(request);
    if (state && response.statusCode !== undefined) state.response = { status: response.statusCode, headers: headersOf(response.headers) };
  });
  // undici — the request is created synchronously in the caller's context; it writes only to a connected socket.
  dc.subscribe("undici:request:create", (message) => {
    const state = scope.getStore();
    if (!state) return;
    state.requests += 1;
    byRequest.set((message as { request: object }).request, state);
  });
  dc.subscribe("undici:client:sendHeaders", (message) => {
    const { request, socket } = message as { request: object; socket: Socket };
    const state = byRequest.get(request);
    if (state) handedTo(state, socket);
  });
  dc.subscribe("undici:request:headers", (message) => {
    const { request, response } = message as { request: object; response: { statusCode: number; headers: unknown } };
    const state = byRequest.get(request);
    if (state) state.response = { status: response.statusCode, headers: undiciHeaders(response.headers) };
  });
}

/** Tracked calls in flight: while there is none the scope is disabled (see `trackSend`). */
let inFlight = 0;

/**
 * Run `fn` (one provider call), reporting what its HTTP requests came to on the wire, whether it failed or not. On
 * Node 20 an enabled AsyncLocalStorage puts a hook on every promise the process creates (model streams, webhooks,
 * the store's async units): the scope is disabled again when the last tracked call ends, and `run` enables it for
 * the next — a call's own requests are all started inside its `run`, so none is missed.
 */
export async function trackSend<T>(fn: () => Promise<T>): Promise<Tracked<T>> {
  subscribe();
  const evidence: SendEvidence = { requests: 0, handed: false, response: null };
  inFlight += 1;
  try {
    return { ok: true, value: await scope.run(evidence, fn), evidence };
  } catch (error) {
    return { ok: false, error, evidence };
  } finally {
    inFlight -= 1;
    if (inFlight === 0) scope.disable();
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
