/**
 * @module Fault injection shared by the local provider servers (Telegram, Discord, WhatsApp): what a real API, or the
 * proxy in front of it, does when it misbehaves — an HTML error page instead of JSON, an empty 500, a connection
 * closed after the request was read (processed or not), closed half-way through the body, or closed while idle
 * after a keep-alive answer. Each server keeps its own matching (API method, "METHOD /path"); this file holds the
 * fault shapes and the socket-level mechanics, so a new fault or a new route is added in one place.
 */
import http from "node:http";

/** A fault a test or a bench plans for one request (`setFaultPlan`), decided from the recorded request. */
export type PlannedFault =
  /** An error status with the server's own JSON error envelope (or `body`, serialized as JSON). */
  | { kind: "fail"; status: number; body?: unknown; headers?: Record<string, string> }
  /** An error status with a body sent byte for byte: an HTML proxy page, nothing at all, truncated JSON. */
  | { kind: "raw"; status: number; body: string | Buffer; contentType?: string; headers?: Record<string, string> }
  /** Answer normally, `ms` later. */
  | { kind: "delay"; ms: number }
  /** Read the whole request, then close the connection without processing it. */
  | { kind: "reset" }
  /** Read and process the whole request (the message is created), then close the connection instead of answering. */
  | { kind: "drop" }
  /** Answer normally (keep-alive), then close the connection: the client's pooled socket is now stale. */
  | { kind: "close_after" };

/** Every fault kind: the planned ones, plus `reset_mid_body` (decided before the body is read, so never planned). */
export type FaultKind = PlannedFault["kind"] | "reset_mid_body";

/** What the server recorded about the fault it applied to a request (`rec.fault`). */
export type AppliedFault = FaultKind;

/** Faults a test queued for the next matching requests, each used `remaining` times. */
export interface QueuedFault<M> {
  kind: FaultKind;
  match?: M;
  remaining: number;
  status?: number;
  body?: unknown;
  raw?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
  ms?: number;
}

/**
 * A queue of faults matched by `matches(fault.match)`. `takeEarly` is asked before the body is read and only
 * answers `reset_mid_body`; `take` answers every other kind once the request is recorded. `X` carries a server's own
 * extra fields (Discord's rate-limit headers).
 */
export class FaultQueue<M, R, X extends object = object> {
  readonly items: (QueuedFault<M> & Partial<X>)[] = [];
  plan: ((rec: R) => PlannedFault | undefined) | null = null;

  constructor(private readonly matches: (match: M | undefined, rec: R) => boolean) {}

  push(f: QueuedFault<M> & Partial<X>): void {
    this.items.push(f);
  }

  private takeWhere(rec: R, early: boolean): (QueuedFault<M> & Partial<X>) | undefined {
    const i = this.items.findIndex((f) => (f.kind === "reset_mid_body") === early && this.matches(f.match, rec));
    if (i < 0) return undefined;
    const f = this.items[i]!;
    if (--f.remaining <= 0) this.items.splice(i, 1);
    return f;
  }

  /** The `reset_mid_body` fault for a request whose body has not been read yet. */
  takeEarly(rec: R): (QueuedFault<M> & Partial<X>) | undefined {
    return this.takeWhere(rec, true);
  }

  /** The queued fault for this request, else the plan's decision. */
  take(rec: R): (QueuedFault<M> & Partial<X>) | undefined {
    const queued = this.takeWhere(rec, false);
    if (queued) return queued;
    const p = this.plan?.(rec);
    if (!p) return undefined;
    const f: QueuedFault<M> =
      p.kind === "fail"
        ? { kind: "fail", remaining: 0, status: p.status, body: p.body, headers: p.headers }
        : p.kind === "raw"
          ? { kind: "raw", remaining: 0, status: p.status, raw: p.body, contentType: p.contentType, headers: p.headers }
          : p.kind === "delay"
            ? { kind: "delay", remaining: 0, ms: p.ms }
            : { kind: p.kind, remaining: 0 };
    return f as QueuedFault<M> & Partial<X>;
  }

  clear(): void {
    this.items.length = 0;
    this.plan = null;
  }
}

/**
 * The page nginx serves for an upstream failure (what grammY, axios or undici get from a proxy during an outage).
 * @see https://github.com/nginx/nginx/blob/master/src/http/ngx_http_special_response.c
 */
export function htmlErrorPage(status: number): string {
  const title = `${status} ${http.STATUS_CODES[status] ?? "Error"}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
}

/** Send `body` as is (no JSON envelope), with `content-length` so a truncated JSON body reaches the client whole. */
export function sendRaw(
  res: http.ServerResponse,
  status: number,
  body: string | Buffer,
  contentType: string | undefined,
  headers: Record<string, string> = {},
): void {
  if (res.writableEnded || res.destroyed) return;
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8");
  res.writeHead(status, { ...(contentType ? { "content-type": contentType } : {}), "content-length": String(bytes.length), ...headers });
  res.end(bytes);
}

/** After the answer has been written, close the connection (the keep-alive socket the client pooled goes stale). */
export function closeAfterAnswer(res: http.ServerResponse): void {
  // Taken now: by the time `finish` listeners run, the server has already detached the socket from the response.
  const socket = res.socket;
  res.once("finish", () => socket?.destroy());
}

/**
 * Close the connection as soon as the first body bytes arrive, before the body is complete (when the first chunk
 * already holds the whole body, it is closed all the same). Calls `onClosed` with what had arrived.
 */
export function resetMidBody(req: http.IncomingMessage, onClosed: (received: Buffer) => void): void {
  let done = false;
  const close = (received: Buffer) => {
    if (done) return;
    done = true;
    req.socket.destroy();
    onClosed(received);
  };
  req.once("data", (chunk: Buffer) => close(chunk));
  req.once("end", () => close(Buffer.alloc(0)));
}
