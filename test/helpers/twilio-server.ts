// Local node:http server speaking Twilio's Messages REST contract, a real-SDK client wired to it, and webhook signing.
import http from "node:http";
import crypto from "node:crypto";
import twilio from "twilio";
import type RequestClient from "twilio/lib/base/RequestClient.js";
import type * as TwilioResponseModule from "twilio/lib/http/response.js";

type TwilioResponse<T> = TwilioResponseModule.default<T>;

/** Options for {@link startTwilioServer}. */
export interface StartTwilioServerOptions {
  /** Account SID (must start with `AC`). Default `AC` + 32 zeros. */
  accountSid?: string;
  /** Auth token checked with HTTP Basic auth. Default `test_auth_token`. */
  authToken?: string;
  /** Optional API keys (`SK…` → secret) also accepted as Basic auth credentials for `accountSid`. */
  apiKeys?: Record<string, string>;
  /** Listen port on 127.0.0.1. Default 0 (free port). */
  port?: number;
}

/** A Message resource as the API returns it (snake_case JSON). */
export interface TwilioMessageJson {
  account_sid: string;
  api_version: string;
  body: string;
  date_created: string;
  date_sent: string | null;
  date_updated: string;
  direction: string;
  error_code: number | null;
  error_message: string | null;
  from: string | null;
  messaging_service_sid: string | null;
  num_media: string;
  num_segments: string;
  price: string | null;
  price_unit: string;
  sid: string;
  status: string;
  subresource_uris: Record<string, string>;
  to: string;
  uri: string;
}

/** One message the server created, with the raw form as posted. */
export interface TwilioMessageRecord {
  json: TwilioMessageJson;
  form: Record<string, string | string[]>;
  headers: http.IncomingHttpHeaders;
}

/** A canned response for fault injection. */
export interface TwilioCannedResponse {
  status: number;
  /** JSON-serialised unless a string. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** One request as received (all requests, including rejected ones). */
export interface TwilioRequestRecord {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
  status: number;
}

/** A running local Twilio API. */
export interface TwilioServerHandle {
  /** Origin to rewrite `https://api.twilio.com` to, e.g. `http://127.0.0.1:PORT`. */
  url: string;
  port: number;
  accountSid: string;
  authToken: string;
  messages: TwilioMessageRecord[];
  requests: TwilioRequestRecord[];
  /** Mark a recipient as having replied STOP: sends to it fail with 400 / 21610. */
  optOut(number: string): void;
  /** Undo {@link TwilioServerHandle.optOut} (recipient replied START). */
  optIn(number: string): void;
  /** Answer the next authenticated request(s) with this response (FIFO). */
  failNext(res: TwilioCannedResponse): void;
  /** Queue `count` (default 1) 429 / code 20429 answers. */
  rateLimitNext(opts?: { count?: number }): void;
  /** Queue `count` (default 1) 5xx answers (500 → 20500, 503 → 20503). */
  serverErrorNext(opts?: { status?: number; count?: number }): void;
  /**
   * The next request's connection is closed instead of answered: `drop` after processing it (the SMS exists),
   * `reset` without processing it. Either way the client cannot tell whether Twilio took the SMS.
   */
  closeNext(kind: "drop" | "reset"): void;
  close(): Promise<void>;
}

const E164 = /^\+[1-9]\d{1,14}$/;
const MORE_INFO = (code: number) => `https://www.twilio.com/docs/errors/${code}`;

function twilioError(status: number, code: number, message: string): TwilioCannedResponse {
  return { status, body: { code, message, more_info: MORE_INFO(code), status } };
}

/** Twilio's date format: RFC 2822 with a numeric zone. */
function rfc2822(d: Date): string {
  return d.toUTCString().replace("GMT", "+0000");
}

// GSM 03.38 basic set (1 septet) and extension table (escape + char = 2 septets).
const GSM_BASIC = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
);
const GSM_EXT = new Set("^{}\\[~]|€\f");

/**
 * SMS segments for a body: GSM-7 → 160 septets single / 153 per part; otherwise UCS-2 → 70 UTF-16 units / 67 per part.
 */
export function countSmsSegments(body: string): { encoding: "GSM-7" | "UCS-2"; segments: number } {
  if (body.length === 0) return { encoding: "GSM-7", segments: 1 };
  let septets = 0;
  let gsm = true;
  for (const ch of body) {
    if (GSM_BASIC.has(ch)) septets += 1;
    else if (GSM_EXT.has(ch)) septets += 2;
    else {
      gsm = false;
      break;
    }
  }
  if (gsm) return { encoding: "GSM-7", segments: septets <= 160 ? 1 : Math.ceil(septets / 153) };
  return { encoding: "UCS-2", segments: body.length <= 70 ? 1 : Math.ceil(body.length / 67) };
}

/** A phone number, `whatsapp:`/`messenger:` channel address, short code or alphanumeric sender ID. */
function validFrom(v: string): boolean {
  const bare = v.replace(/^(whatsapp|messenger|rcs):/, "");
  return E164.test(bare) || /^\d{5,6}$/.test(bare) || (/^[A-Za-z0-9 ]{1,11}$/.test(bare) && /[A-Za-z]/.test(bare));
}

/**
 * Start a local Twilio REST API on 127.0.0.1: `POST /2010-04-01/Accounts/{Sid}/Messages.json` and
 * `GET …/Messages/{MessageSid}.json`. Basic auth (401 / 20003); account mismatch → 404 / 20404; `To` missing
 * 21604, not E.164 21211; no `From`/`MessagingServiceSid` 21603; bad `From` 21212; no `Body`/`MediaUrl`/`ContentSid`
 * 21602; body over 1600 characters 21617; opted-out recipient 21610. Success: 201 with the Message JSON
 * (`sid` SM…, `status` queued — accepted when only a Messaging Service is given —, `num_segments`).
 * Error bodies use Twilio's legacy shape `{code,message,more_info,status}` (the SDK throws `RestException`).
 */
export async function startTwilioServer(opts: StartTwilioServerOptions = {}): Promise<TwilioServerHandle> {
  const accountSid = opts.accountSid ?? `AC${"0".repeat(32)}`;
  const authToken = opts.authToken ?? "test_auth_token";
  if (!accountSid.startsWith("AC")) throw new Error("twilio-server: accountSid must start with AC");
  const messages: TwilioMessageRecord[] = [];
  const requests: TwilioRequestRecord[] = [];
  const queued: TwilioCannedResponse[] = [];
  const closing: ("drop" | "reset")[] = [];
  const optedOut = new Set<string>();
  const credentials = new Map<string, string>([[accountSid, authToken], ...Object.entries(opts.apiKeys ?? {})]);

  const handle = (req: http.IncomingMessage, raw: string): TwilioCannedResponse => {
    const m = /^Basic\s+(\S+)$/.exec(req.headers.authorization ?? "");
    const decoded = m ? Buffer.from(m[1]!, "base64").toString("utf8") : "";
    const colon = decoded.indexOf(":");
    const user = colon >= 0 ? decoded.slice(0, colon) : "";
    const pass = colon >= 0 ? decoded.slice(colon + 1) : "";
    if (!m || credentials.get(user) !== pass) {
      const r = twilioError(401, 20003, "Authenticate");
      r.headers = { "www-authenticate": 'Basic realm="Twilio API"' };
      return r;
    }
    const canned = queued.shift();
    if (canned) return canned;

    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const notFound = () => twilioError(404, 20404, `The requested resource ${path} was not found`);
    const list = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(path);
    const one = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\/(SM[0-9a-f]{32})\.json$/.exec(path);
    const acct = list?.[1] ?? one?.[1];
    if (!acct || acct !== accountSid) return notFound();

    if (one) {
      if (req.method !== "GET") return twilioError(405, 20004, "Method not allowed");
      const rec = messages.find((x) => x.json.sid === one[2]);
      return rec ? { status: 200, body: rec.json } : notFound();
    }
    if (req.method !== "POST") return twilioError(405, 20004, "Method not allowed");

    const form = new URLSearchParams(raw);
    const to = form.get("To");
    const from = form.get("From");
    const mss = form.get("MessagingServiceSid");
    const body = form.get("Body") ?? "";
    const media = form.getAll("MediaUrl");
    if (!to) return twilioError(400, 21604, "A 'To' phone number is required.");
    if (!E164.test(to.replace(/^(whatsapp|messenger|rcs):/, ""))) return twilioError(400, 21211, `Invalid 'To' Phone Number: ${to}`);
    if (!from && !mss) return twilioError(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message");
    if (from && !validFrom(from)) return twilioError(400, 21212, `Invalid From Number (caller ID): ${from}`);
    if (!body && media.length === 0 && !form.get("ContentSid")) return twilioError(400, 21602, "Message body is required.");
    if ([...body].length > 1600) return twilioError(400, 21617, "The concatenated message body exceeds the 1600 character limit.");
    if (optedOut.has(to.replace(/^(whatsapp|messenger|rcs):/, "")))
      return twilioError(400, 21610, "Attempt to send to unsubscribed recipient");

    const sid = `SM${crypto.randomBytes(16).toString("hex")}`;
    const now = rfc2822(new Date());
    const json: TwilioMessageJson = {
      account_sid: accountSid,
      api_version: "2010-04-01",
      body,
      date_created: now,
      date_sent: null,
      date_updated: now,
      direction: "outbound-api",
      error_code: null,
      error_message: null,
      from: from ?? null,
      messaging_service_sid: mss ?? null,
      num_media: String(media.length),
      num_segments: String(countSmsSegments(body).segments),
      price: null,
      price_unit: "USD",
      sid,
      status: from ? "queued" : "accepted",
      subresource_uris: { media: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}/Media.json` },
      to,
      uri: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`,
    };
    const formObj: Record<string, string | string[]> = {};
    for (const k of new Set(form.keys())) {
      const all = form.getAll(k);
      formObj[k] = all.length > 1 ? all : all[0]!;
    }
    messages.push({ json, form: formObj, headers: req.headers });
    return { status: 201, body: json };
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const close = closing.shift();
      if (close === "reset") {
        requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, raw, status: 0 });
        req.socket.destroy();
        return;
      }
      let r: TwilioCannedResponse;
      try {
        r = handle(req, raw);
      } catch (e) {
        r = twilioError(500, 20500, `fake twilio crashed: ${(e as Error).message}`);
      }
      requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, raw, status: close ? 0 : r.status });
      if (close === "drop") {
        req.socket.destroy();
        return;
      }
      res.writeHead(r.status, {
        "content-type": typeof r.body === "string" ? "text/html; charset=utf-8" : "application/json; charset=utf-8",
        "twilio-request-id": `RQ${crypto.randomBytes(16).toString("hex")}`,
        ...(r.headers ?? {}),
      });
      res.end(typeof r.body === "string" ? r.body : JSON.stringify(r.body ?? null));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    accountSid,
    authToken,
    messages,
    requests,
    optOut(number) {
      optedOut.add(number);
    },
    optIn(number) {
      optedOut.delete(number);
    },
    failNext(res) {
      queued.push(res);
    },
    rateLimitNext({ count = 1 } = {}) {
      for (let i = 0; i < count; i++) queued.push(twilioError(429, 20429, "Too Many Requests"));
    },
    serverErrorNext({ status = 500, count = 1 } = {}) {
      for (let i = 0; i < count; i++) {
        queued.push(status === 503 ? twilioError(503, 20503, "Service Unavailable") : twilioError(status, 20500, "Internal Server Error"));
      }
    },
    closeNext(kind) {
      closing.push(kind);
    },
    close() {
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------- SDK wiring
/**
 * The SDK's own RequestClient (axios, auth, form encoding, 429 auto-retry) with every request's origin rewritten
 * to a local server. twilio has no base-URL option; `ClientOpts.httpClient` is the supported hook.
 * Note: with a custom httpClient the client-level `autoRetry`/`maxRetries` are ignored; pass them here.
 */
export class LocalTwilioRequestClient extends twilio.RequestClient {
  private readonly localBase: URL;

  constructor(baseUrl: string, opts: RequestClient.RequestClientOptions = {}) {
    super(opts);
    this.localBase = new URL(baseUrl);
  }

  override request<TData>(opts: RequestClient.RequestOptions<TData>): Promise<TwilioResponse<TData>> {
    const u = new URL(opts.uri);
    u.protocol = this.localBase.protocol;
    u.hostname = this.localBase.hostname;
    u.port = this.localBase.port;
    return super.request({ ...opts, uri: u.toString() });
  }
}

/**
 * A real `twilio` client whose requests go to the local server (`server.url` or an origin string).
 * `opts` go to the RequestClient (e.g. `{ autoRetry: true, maxRetries: 2, maxRetryDelay: 50 }`).
 */
export function createLocalTwilioClient(
  accountSid: string,
  authToken: string,
  server: Pick<TwilioServerHandle, "url"> | string,
  opts: RequestClient.RequestClientOptions = {},
): twilio.Twilio {
  const url = typeof server === "string" ? server : server.url;
  return twilio(accountSid, authToken, { httpClient: new LocalTwilioRequestClient(url, opts) });
}

// ---------------------------------------------------------------------------------------------- webhooks
/**
 * `X-Twilio-Signature` for a form-encoded webhook: base64(HMAC-SHA1(authToken, url + Σ sorted keys (key + value))),
 * array values deduplicated and sorted. `url` must be the exact public URL Twilio is configured with.
 */
export function signTwilioWebhook(authToken: string, url: string, params: Record<string, string | string[]>): string {
  let data = url;
  for (const key of Object.keys(params).sort()) {
    const v = params[key]!;
    const values = Array.isArray(v) ? [...new Set(v)].sort() : [v];
    for (const val of values) data += key + val;
  }
  return crypto.createHmac("sha1", authToken).update(Buffer.from(data, "utf8")).digest("base64");
}

/**
 * POST a signed inbound-SMS webhook to `webhookUrl` as Twilio would (form body, `X-Twilio-Signature`).
 * `signUrl` defaults to `webhookUrl` (set it to the public URL when the receiver sits behind a proxy).
 */
export async function deliverInboundSms(
  webhookUrl: string,
  authToken: string,
  msg: { accountSid: string; from: string; to: string; body: string; extra?: Record<string, string>; signUrl?: string },
): Promise<{ status: number; text: string; params: Record<string, string>; signature: string }> {
  const params: Record<string, string> = {
    ToCountry: "US",
    SmsMessageSid: "",
    NumMedia: "0",
    SmsSid: "",
    SmsStatus: "received",
    Body: msg.body,
    To: msg.to,
    NumSegments: String(countSmsSegments(msg.body).segments),
    MessageSid: `SM${crypto.randomBytes(16).toString("hex")}`,
    AccountSid: msg.accountSid,
    From: msg.from,
    ApiVersion: "2010-04-01",
    ...(msg.extra ?? {}),
  };
  params.SmsMessageSid = params.MessageSid!;
  params.SmsSid = params.MessageSid!;
  const signature = signTwilioWebhook(authToken, msg.signUrl ?? webhookUrl, params);
  const r = await fetch(webhookUrl, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-twilio-signature": signature,
      "user-agent": "TwilioProxy/1.1",
      "i-twilio-idempotency-token": crypto.randomUUID(),
    },
    body: new URLSearchParams(params).toString(),
  });
  return { status: r.status, text: await r.text(), params, signature };
}
