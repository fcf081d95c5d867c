/** Local WhatsApp Cloud API (Graph) server on node:http for the real axios sender, plus webhook body/signature helpers; PROVIDERS.md §3 and §5. */
import http from "node:http";
import crypto from "node:crypto";
import type { AddressInfo } from "node:net";
import { DEFAULT_DISPLAY_NUMBER, DEFAULT_PHONE_NUMBER_ID } from "./whatsapp-graph-server-webhooks.ts";
import { fail, fbtrace, GraphError, graphError, invalidParam, recipientKey, WhatsAppMessages } from "./whatsapp-graph-server-messages.ts";
import { closeAfterAnswer, FaultQueue, htmlErrorPage, resetMidBody, sendRaw, type FaultKind, type PlannedFault } from "./http-faults.ts";
import type { WhatsAppRateLimits } from "./rate-limits.ts";

export * from "./whatsapp-graph-server-webhooks.ts";
export { graphError } from "./whatsapp-graph-server-messages.ts";
export type { WhatsAppReadReceipt, WhatsAppSentMessage } from "./whatsapp-graph-server-messages.ts";
export type { PlannedFault } from "./http-faults.ts";

type Json = Record<string, unknown>;

export interface WhatsAppRecordedRequest {
  method: string;
  path: string;
  /** Graph version segment, e.g. "v23.0" (null for media downloads). */
  version: string | null;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  body: unknown;
  at: number;
  status?: number;
  response?: unknown;
  /** The injected fault this request met (`failNext`, `dropNext`, a fault plan, …), if any. */
  fault?: FaultKind;
}
export interface WhatsAppPhoneNumber {
  id: string;
  display_phone_number: string;
  verified_name?: string;
}
/** string = substring of "METHOD /path" (path below the version), e.g. "POST /106540352242922/messages". */
export type WhatsAppMatch = string | ((r: WhatsAppRecordedRequest) => boolean);
export interface WhatsAppFaultMatch {
  match?: WhatsAppMatch;
  count?: number;
}
export interface WhatsAppFault extends WhatsAppFaultMatch {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}
export interface WhatsAppServerOptions {
  accessTokens?: string[];
  phoneNumbers?: WhatsAppPhoneNumber[];
  /** Clock in ms for the 24-hour window and media URL expiry; default Date.now() + advanceTime offset. */
  now?: () => number;
  /** Enforce the customer-service window (§3.6, error 131047). Default true. */
  enforceWindow?: boolean;
  /** Lifetime of media download URLs (§3.8 says ~5 min). */
  mediaUrlTtlMs?: number;
  /** Listen on this port (default: any free one), e.g. where a client was refused before the server started. */
  port?: number;
}

export const DEFAULT_ACCESS_TOKEN = "EAAGtauTestAccessToken0123456789";

export async function startWhatsAppGraphServer(
  options: WhatsAppServerOptions & {
    /** Pair rate and throughput limits (test/helpers/rate-limits.ts); off when absent. */
    rateLimits?: WhatsAppRateLimits;
  } = {},
) {
  const tokens = new Set(options.accessTokens ?? [DEFAULT_ACCESS_TOKEN]);
  const expiredTokens = new Set<string>();
  const phoneNumbers = new Map(
    (options.phoneNumbers ?? [{ id: DEFAULT_PHONE_NUMBER_ID, display_phone_number: DEFAULT_DISPLAY_NUMBER }]).map((p) => [p.id, p]),
  );
  let timeOffset = 0;
  const now = options.now ?? (() => Date.now() + timeOffset);
  const enforceWindow = options.enforceWindow ?? true;

  const requests: WhatsAppRecordedRequest[] = [];
  const messages = new WhatsAppMessages(now, enforceWindow);
  const { sentMessages, readReceipts, lastInbound, undeliverable } = messages;

  const listeners = new Set<() => void>();
  const changed = () => {
    for (const l of [...listeners]) l();
  };
  function waitUntil<T>(cond: () => T | undefined | null | false, timeoutMs = 5000, what = "condition"): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      const check = () => {
        try {
          const v = cond();
          if (v !== undefined && v !== null && v !== false) {
            cleanup();
            resolve(v);
          }
        } catch (e) {
          cleanup();
          reject(e);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`whatsapp server: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  }

  // ---- media (§3.8): GET /{media-id} → JSON with a short-lived url on this server; GET that url with the same Bearer.
  const media = new Map<string, { id: string; content: Buffer; mime_type: string; sha256: string }>();
  const mediaUrls = new Map<string, { mediaId: string; expiresAt: number }>();
  function addMedia(m: { id?: string; content: Buffer | string; mime_type?: string }) {
    const content = Buffer.isBuffer(m.content) ? m.content : Buffer.from(m.content);
    const entry = {
      id: m.id ?? String(1_000_000_000_000_000n + BigInt(crypto.randomInt(1, 2 ** 47))),
      content,
      mime_type: m.mime_type ?? "image/jpeg",
      sha256: crypto.createHash("sha256").update(content).digest("hex"),
    };
    media.set(entry.id, entry);
    return { id: entry.id, mime_type: entry.mime_type, sha256: entry.sha256, file_size: content.length };
  }

  // ---- fault injection
  const matches = (m: WhatsAppMatch | undefined, r: WhatsAppRecordedRequest) =>
    m === undefined || (typeof m === "string" ? `${r.method} ${r.path}`.includes(m) : m(r));
  const faults = new FaultQueue<WhatsAppMatch, WhatsAppRecordedRequest>(matches);
  const faultMatch = (m: WhatsAppFaultMatch) => ({ remaining: m.count ?? 1, ...(m.match !== undefined ? { match: m.match } : {}) });
  /** Responses whose request was processed but whose connection is closed instead of answered ("drop"). */
  const dropping = new WeakSet<http.ServerResponse>();

  function reply(
    res: http.ServerResponse,
    rec: WhatsAppRecordedRequest,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) {
    rec.status = status;
    rec.response = body;
    if (dropping.has(res)) {
      // Processed, but the answer never leaves: the client cannot tell whether the message was accepted.
      res.socket?.destroy();
    } else if (!res.writableEnded && !res.destroyed) {
      if (Buffer.isBuffer(body)) res.writeHead(status, headers).end(body);
      else
        res
          .writeHead(status, { "content-type": "application/json; charset=UTF-8", "x-fb-trace-id": fbtrace(), ...headers })
          .end(JSON.stringify(body));
    }
    changed();
  }

  function authenticate(req: http.IncomingMessage) {
    const h = req.headers["authorization"] ?? "";
    const m = /^Bearer\s+(.+)$/i.exec(h);
    const tok = m?.[1]?.trim();
    const www = {
      "www-authenticate": 'OAuth "Facebook Platform" "invalid_token" "Invalid OAuth access token - Cannot parse access token"',
    };
    if (tok && expiredTokens.has(tok)) {
      const e = graphError(190, {
        message:
          "Error validating access token: Session has expired on Friday, 01-Jan-21 00:00:00 PST. The current time is Saturday, 02-Jan-21 00:00:00 PST.",
        subcode: 463,
      });
      throw new GraphError(e.status, e.body, www);
    }
    if (!tok || !tokens.has(tok)) {
      const e = graphError(190);
      throw new GraphError(e.status, e.body, www);
    }
  }

  function unknownObject(id: string, method: string) {
    return fail(100, {
      subcode: 33,
      message: `Unsupported ${method.toLowerCase()} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
    });
  }

  /** The recorded request (body not parsed yet). */
  function recordOf(req: http.IncomingMessage, raw: Buffer): WhatsAppRecordedRequest {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const vm = /^\/(v\d+\.\d+)(\/.*)$/.exec(url.pathname);
    return {
      method: req.method ?? "GET",
      path: vm ? vm[2]! : url.pathname,
      version: vm ? vm[1]! : null,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      rawBody: raw.toString("utf8"),
      body: undefined,
      at: now(),
    };
  }
  const server = http.createServer((req, res) => {
    const early = faults.takeEarly(recordOf(req, Buffer.alloc(0)));
    if (early) {
      resetMidBody(req, (received) => {
        requests.push({ ...recordOf(req, received), status: 0, fault: "reset_mid_body" });
        changed();
      });
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void handle(req, res, Buffer.concat(chunks));
    });
  });
  async function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer) {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const method = req.method ?? "GET";
    const vm = /^\/(v\d+\.\d+)(\/.*)$/.exec(url.pathname);
    const rec = recordOf(req, raw);
    requests.push(rec);
    changed();
    try {
      // Media download: GET /media/<id>?ext=…&hash=… with the same Bearer header (§3.8).
      const dl = method === "GET" ? /^\/media\/([^/]+)$/.exec(url.pathname) : null;
      if (!dl && !vm) throw fail(100, { subcode: 33, message: "Unknown path components" });
      authenticate(req);
      const fault = faults.take(rec);
      if (fault) rec.fault = fault.kind;
      if (fault?.kind === "reset") {
        req.socket.destroy();
        rec.status = 0;
        changed();
        return;
      }
      if (fault?.kind === "drop") dropping.add(res);
      if (fault?.kind === "close_after") closeAfterAnswer(res);
      if (fault?.kind === "delay") await new Promise((r) => setTimeout(r, fault.ms));
      if (fault?.kind === "raw") {
        rec.status = fault.status!;
        rec.response = Buffer.isBuffer(fault.raw) ? fault.raw.toString("utf8") : fault.raw;
        sendRaw(res, fault.status!, fault.raw ?? "", fault.contentType, fault.headers);
        changed();
        return;
      }
      if (fault?.kind === "fail") {
        const e = graphError(1);
        return reply(res, rec, fault.status ?? e.status, fault.body ?? e.body, fault.headers);
      }
      if (dl) {
        const link = mediaUrls.get(url.searchParams.get("hash") ?? "");
        const item = media.get(dl[1]!);
        if (!link || link.mediaId !== dl[1] || !item || now() > link.expiresAt) {
          return reply(res, rec, 404, Buffer.from("URL signature expired"), { "content-type": "text/plain" });
        }
        return reply(res, rec, 200, item.content, { "content-type": item.mime_type, "content-length": String(item.content.length) });
      }
      const parts = rec.path.split("/").filter(Boolean);
      if (method === "POST" && parts.length === 2 && parts[1] === "messages") {
        const pnid = parts[0]!;
        if (!phoneNumbers.has(pnid)) throw unknownObject(pnid, "post");
        let body: Json;
        const ct = (req.headers["content-type"] ?? "").toLowerCase();
        try {
          body = ct.startsWith("application/x-www-form-urlencoded")
            ? Object.fromEntries(new URLSearchParams(rec.rawBody))
            : (JSON.parse(rec.rawBody) as Json);
        } catch {
          throw invalidParam("Request body is not valid JSON.");
        }
        rec.body = body;
        // The pair rate limit counts per addressee: `to`, or a BSUID in `recipient` (§10.3.3).
        const addressee = typeof body["to"] === "string" ? body["to"] : typeof body["recipient"] === "string" ? body["recipient"] : null;
        const limited = body["status"] === undefined && addressee !== null ? options.rateLimits?.admit(pnid, addressee, now()) : null;
        if (limited) throw fail(limited);
        return reply(res, rec, 200, messages.send(pnid, body));
      }
      if (method === "GET" && parts.length === 1) {
        const id = parts[0]!;
        const phone = phoneNumbers.get(id);
        if (phone) {
          return reply(res, rec, 200, {
            verified_name: phone.verified_name ?? "Tau Test",
            code_verification_status: "VERIFIED",
            display_phone_number: phone.display_phone_number,
            quality_rating: "GREEN",
            platform_type: "CLOUD_API",
            throughput: { level: "STANDARD" },
            id: phone.id,
          });
        }
        const item = media.get(id);
        if (item) {
          const hash = crypto.randomBytes(16).toString("hex");
          mediaUrls.set(hash, { mediaId: id, expiresAt: now() + (options.mediaUrlTtlMs ?? 5 * 60_000) });
          return reply(res, rec, 200, {
            messaging_product: "whatsapp",
            url: `${baseUrl}/media/${id}?ext=${Math.floor(now() / 1000) + 300}&hash=${hash}`,
            mime_type: item.mime_type,
            sha256: item.sha256,
            file_size: item.content.length,
            id,
          });
        }
        throw unknownObject(id, "get");
      }
      throw unknownObject(parts[0] ?? "", method);
    } catch (e) {
      if (e instanceof GraphError) return reply(res, rec, e.status, e.body, e.headers);
      const g = graphError(1);
      return reply(res, rec, g.status, g.body);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    /** Origin; give axios `baseURL: server.url + "/v23.0"`. */
    url: baseUrl,
    port,
    accessToken: [...tokens][0]!,
    phoneNumberId: [...phoneNumbers.keys()][0]!,
    requests,
    sentMessages,
    /** Accepted mark-read calls, with or without a typing indicator. */
    readReceipts,
    /** The mark-read calls that also showed the typing indicator (§9.6). */
    typingIndicators: () => readReceipts.filter((r) => r.typing_indicator !== undefined),
    waitUntil,
    waitForRequest(pred: (r: WhatsAppRecordedRequest) => boolean, timeoutMs = 5000) {
      return waitUntil(() => requests.find(pred), timeoutMs, "matching request");
    },
    /** The user wrote to us at atMs (default now): opens the 24-hour window for free-form messages (§3.6). */
    recordInbound(waId: string, atMs: number = now()) {
      lastInbound.set(recipientKey(waId), atMs);
    },
    /** Closes the customer-service window for this user (next free-form send → 131047). */
    closeWindow(waId: string) {
      lastInbound.delete(recipientKey(waId));
    },
    /** Sends to this user fail with 131026 (not on WhatsApp). */
    markUndeliverable(waId: string) {
      undeliverable.add(recipientKey(waId));
    },
    addMedia,
    addAccessToken(t: string) {
      tokens.add(t);
    },
    /** The token now gets 190 / subcode 463 "Session has expired". */
    expireToken(t: string) {
      expiredTokens.add(t);
    },
    failNext(f: WhatsAppFault) {
      faults.push({
        kind: "fail",
        ...faultMatch(f),
        ...(f.status !== undefined ? { status: f.status } : {}),
        body: f.body,
        headers: f.headers,
      });
    },
    /** The next matching request gets the Graph error envelope for `code` (131056, 130429, 80007, 131000, …; §3.7). */
    failNextWithCode(code: number, o: WhatsAppFaultMatch & { status?: number; details?: string; subcode?: number } = {}) {
      const e = graphError(code, {
        ...(o.details !== undefined ? { details: o.details } : {}),
        ...(o.subcode !== undefined ? { subcode: o.subcode } : {}),
      });
      faults.push({ kind: "fail", ...faultMatch(o), status: o.status ?? e.status, body: e.body });
    },
    /** An error answered with a body sent byte for byte (empty, truncated JSON, plain text). */
    failRawNext(f: WhatsAppFaultMatch & { status: number; body: string | Buffer; contentType?: string; headers?: Record<string, string> }) {
      faults.push({ kind: "raw", ...faultMatch(f), status: f.status, raw: f.body, contentType: f.contentType, headers: f.headers });
    },
    /** The HTML error page a proxy in front of graph.facebook.com serves during an outage (502, 503, 504). */
    htmlErrorNext(status: number, m: WhatsAppFaultMatch & { headers?: Record<string, string> } = {}) {
      faults.push({ kind: "raw", ...faultMatch(m), status, raw: htmlErrorPage(status), contentType: "text/html", headers: m.headers });
    },
    /** Processes the request (the message is accepted), then closes the connection instead of answering. */
    dropNext(m: WhatsAppFaultMatch = {}) {
      faults.push({ kind: "drop", ...faultMatch(m) });
    },
    /** Closes the connection as soon as the first body bytes arrive (string matches only: the body is not read yet). */
    resetMidBodyNext(m: WhatsAppFaultMatch = {}) {
      faults.push({ kind: "reset_mid_body", ...faultMatch(m) });
    },
    /** Answers, then closes the keep-alive connection (the client's pooled socket goes stale). */
    closeAfterNext(m: WhatsAppFaultMatch = {}) {
      faults.push({ kind: "close_after", ...faultMatch(m) });
    },
    /** Decide a fault per request (after the queued ones); null removes the plan. For fault-mix runs. */
    setFaultPlan(plan: ((rec: WhatsAppRecordedRequest) => PlannedFault | undefined) | null) {
      faults.plan = plan;
    },
    delayNext(ms: number, m: WhatsAppFaultMatch = {}) {
      faults.push({ kind: "delay", ms, ...faultMatch(m) });
    },
    resetNext(m: WhatsAppFaultMatch = {}) {
      faults.push({ kind: "reset", ...faultMatch(m) });
    },
    clearFaults() {
      faults.clear();
    },
    advanceTime(ms: number) {
      timeOffset += ms;
    },
    now,
    close(): Promise<void> {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

export type WhatsAppGraphServer = Awaited<ReturnType<typeof startWhatsAppGraphServer>>;
