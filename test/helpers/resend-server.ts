// Local node:http server speaking the slice of Resend's REST contract tau uses, for the real `resend` SDK; plus Svix webhook signing.
import http from "node:http";
import crypto from "node:crypto";

/** Options for {@link startResendServer}. */
export interface StartResendServerOptions {
  /** The only API key accepted (`Authorization: Bearer <key>`). Default `re_test_123`. */
  apiKey?: string;
  /** Listen port on 127.0.0.1. Default 0 (free port). */
  port?: number;
  /**
   * Enforce a requests-per-second limit (sliding 1 s window) with 429 `rate_limit_exceeded`. Default: not
   * enforced; the `ratelimit-*` headers are still sent on every response, reporting a limit of 2 (Resend's default).
   */
  rateLimitPerSecond?: number;
}

/** One email the server accepted. */
export interface ResendEmailRecord {
  id: string;
  /** Parsed JSON body as sent by the SDK (snake_case: reply_to, scheduled_at, ...). */
  body: Record<string, unknown>;
  idempotencyKey: string | null;
  headers: http.IncomingHttpHeaders;
  createdAt: Date;
  /** Reported as `last_event` by `GET /emails/{id}`; tests may change it. Default `sent`. */
  lastEvent: string;
}

/** One request as received (all requests, including rejected ones). */
export interface ResendRequestRecord {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
  status: number;
}

/** A canned response for fault injection. */
export interface CannedResponse {
  status: number;
  /** JSON-serialised unless a string (a string is sent verbatim, e.g. an HTML 502 page). */
  body?: unknown;
  headers?: Record<string, string>;
}

/** A running local Resend API. */
export interface ResendServerHandle {
  /** Pass as `new Resend(key, { baseUrl: url })`. */
  url: string;
  port: number;
  apiKey: string;
  emails: ResendEmailRecord[];
  requests: ResendRequestRecord[];
  /** Answer the next authenticated request(s) with this response instead of handling them (FIFO). */
  failNext(res: CannedResponse): void;
  /** Queue `count` (default 1) 429 `rate_limit_exceeded` answers with `retry-after` and `ratelimit-*` headers. */
  rateLimitNext(opts?: { retryAfterSeconds?: number; count?: number }): void;
  /** Queue `count` (default 1) 5xx answers (default 500 `internal_server_error`). */
  serverErrorNext(opts?: { status?: number; count?: number }): void;
  close(): Promise<void>;
}

const EMAIL_RE = /^[^\s@<>"(),:;]+@[^\s@<>"(),:;]+\.[^\s@<>"(),:;]+$/;
const DEFAULT_LIMIT = 2;
const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** `a@b.c` or `Name <a@b.c>` (what Resend accepts for from/to/cc/bcc/reply_to). */
function validAddress(v: unknown): boolean {
  if (typeof v !== "string") return false;
  const m = /^\s*(?:"?[^"<>]*"?\s*)<([^<>]+)>\s*$/.exec(v);
  return EMAIL_RE.test((m ? m[1]! : v).trim());
}

/** Key-order-independent serialisation, so "same body" means same JSON value. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

function err(status: number, name: string, message: string): CannedResponse {
  return { status, body: { statusCode: status, message, name } };
}

const ADDRESS_FORMAT = "The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.";

/** Validate one email payload as POST /emails does; null when valid. */
function validateEmail(body: unknown): CannedResponse | null {
  if (!body || typeof body !== "object" || Array.isArray(body)) return err(422, "validation_error", "Invalid request body.");
  const b = body as Record<string, unknown>;
  for (const f of ["from", "to", "subject"]) {
    const v = b[f];
    if (v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0)) {
      return err(422, "missing_required_field", `Missing \`${f}\` field.`);
    }
  }
  if (!validAddress(b.from)) return err(422, "validation_error", `Invalid \`from\` field. ${ADDRESS_FORMAT}`);
  for (const f of ["to", "cc", "bcc", "reply_to"]) {
    const v = b[f];
    if (v === undefined || v === null) continue;
    const list = Array.isArray(v) ? v : [v];
    if (!list.every(validAddress)) return err(422, "validation_error", `Invalid \`${f}\` field. ${ADDRESS_FORMAT}`);
    if (f === "to" && list.length > 50)
      return err(422, "validation_error", "Too many recipients. The `to` field supports a maximum of 50 recipients.");
  }
  if (typeof b.subject !== "string") return err(422, "validation_error", "Invalid `subject` field.");
  if (!b.html && !b.text && !b.template && !b.react) return err(422, "validation_error", "Missing `html` or `text` field.");
  return null;
}

/**
 * Start a local Resend API on 127.0.0.1 implementing PROVIDERS.md §8.1 and Resend's documented error table:
 * `POST /emails`, `POST /emails/batch`, `GET /emails/{id}`. Auth: no/malformed Bearer header → 401
 * `missing_api_key`; wrong key → 403 `invalid_api_key` (Resend's documented statuses). Missing from/to/subject →
 * 422 `missing_required_field`; malformed address / no html|text → 422 `validation_error`. `Idempotency-Key`
 * (1–256 chars, else 400 `invalid_idempotency_key`): same key + same body → the original id, same key + other
 * body → 409 `invalid_idempotent_request`; kept 24 h. Every response carries `ratelimit-limit/-remaining/-reset`.
 */
export async function startResendServer(opts: StartResendServerOptions = {}): Promise<ResendServerHandle> {
  const apiKey = opts.apiKey ?? "re_test_123";
  const limit = opts.rateLimitPerSecond ?? DEFAULT_LIMIT;
  const emails: ResendEmailRecord[] = [];
  const requests: ResendRequestRecord[] = [];
  const queued: CannedResponse[] = [];
  const hits: number[] = [];
  const idem = new Map<string, { canonical: string; response: CannedResponse; at: number }>();

  const rateHeaders = (): Record<string, string> => {
    const now = Date.now();
    while (hits.length && now - hits[0]! >= 1000) hits.shift();
    return {
      "ratelimit-limit": String(limit),
      "ratelimit-remaining": String(Math.max(0, limit - hits.length)),
      "ratelimit-reset": "1",
    };
  };
  const rateLimited = (retryAfter: number): CannedResponse => ({
    status: 429,
    body: {
      statusCode: 429,
      message: `Too many requests. You can only make ${limit} requests per second. See rate limit response headers for more information. Or contact support to increase rate limit.`,
      name: "rate_limit_exceeded",
    },
    headers: {
      "retry-after": String(retryAfter),
      "ratelimit-limit": String(limit),
      "ratelimit-remaining": "0",
      "ratelimit-reset": String(retryAfter),
    },
  });

  const createEmail = (body: Record<string, unknown>, headers: http.IncomingHttpHeaders, key: string | null) => {
    const rec: ResendEmailRecord = {
      id: crypto.randomUUID(),
      body,
      idempotencyKey: key,
      headers,
      createdAt: new Date(),
      lastEvent: "sent",
    };
    emails.push(rec);
    return rec;
  };

  const handle = (req: http.IncomingMessage, raw: string): CannedResponse => {
    const auth = req.headers.authorization ?? "";
    const m = /^Bearer\s+(\S+)$/.exec(auth);
    if (!m) {
      return err(
        401,
        "missing_api_key",
        "Missing API key in the authorization header. Include the following header in the request: Authorization: Bearer YOUR_API_KEY",
      );
    }
    if (m[1] !== apiKey) return err(403, "invalid_api_key", "API key is invalid");
    const canned = queued.shift();
    if (canned) return canned;
    if (opts.rateLimitPerSecond !== undefined) {
      rateHeaders();
      if (hits.length >= limit) return rateLimited(1);
    }
    hits.push(Date.now());

    const url = new URL(req.url ?? "/", "http://localhost");
    const method = req.method ?? "GET";
    let body: unknown;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        return err(400, "validation_error", "Invalid JSON in request body.");
      }
    }

    if (url.pathname === "/emails") {
      if (method !== "POST") return err(405, "method_not_allowed", "Method is not allowed for the requested path.");
      const invalid = validateEmail(body);
      if (invalid) return invalid;
      const keyHeader = req.headers["idempotency-key"];
      const key = typeof keyHeader === "string" ? keyHeader : null;
      if (key !== null) {
        if (key.length < 1 || key.length > 256) return err(400, "invalid_idempotency_key", "The key must be between 1-256 chars.");
        const prev = idem.get(key);
        const c = canonical(body);
        if (prev && Date.now() - prev.at < IDEMPOTENCY_TTL_MS) {
          if (prev.canonical !== c) {
            return err(409, "invalid_idempotent_request", "Same idempotency key used with a different request payload.");
          }
          return prev.response;
        }
        const rec = createEmail(body as Record<string, unknown>, req.headers, key);
        const response: CannedResponse = { status: 200, body: { id: rec.id } };
        idem.set(key, { canonical: c, response, at: Date.now() });
        return response;
      }
      return { status: 200, body: { id: createEmail(body as Record<string, unknown>, req.headers, null).id } };
    }

    if (url.pathname === "/emails/batch") {
      if (method !== "POST") return err(405, "method_not_allowed", "Method is not allowed for the requested path.");
      if (!Array.isArray(body)) return err(422, "validation_error", "The request body must be an array of emails.");
      if (body.length > 100) return err(422, "validation_error", "Too many emails. The batch endpoint supports a maximum of 100 emails.");
      for (const b of body) {
        const invalid = validateEmail(b);
        if (invalid) return invalid;
      }
      return { status: 200, body: { data: body.map((b) => ({ id: createEmail(b as Record<string, unknown>, req.headers, null).id })) } };
    }

    const one = /^\/emails\/([^/]+)$/.exec(url.pathname);
    if (one) {
      if (method !== "GET") return err(405, "method_not_allowed", "Method is not allowed for the requested path.");
      const rec = emails.find((e) => e.id === one[1]);
      if (!rec) return err(404, "not_found", "Email not found");
      const b = rec.body;
      const list = (v: unknown) => (v === undefined || v === null ? null : Array.isArray(v) ? v : [v]);
      return {
        status: 200,
        body: {
          object: "email",
          id: rec.id,
          to: list(b.to),
          from: b.from,
          created_at: rec.createdAt.toISOString(),
          subject: b.subject,
          html: b.html ?? null,
          text: b.text ?? null,
          bcc: list(b.bcc),
          cc: list(b.cc),
          reply_to: list(b.reply_to),
          last_event: rec.lastEvent,
          scheduled_at: b.scheduled_at ?? null,
        },
      };
    }
    return err(404, "not_found", "The requested endpoint does not exist.");
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      let r: CannedResponse;
      try {
        r = handle(req, raw);
      } catch (e) {
        r = err(500, "internal_server_error", `fake resend crashed: ${(e as Error).message}`);
      }
      const data = typeof r.body === "string" ? r.body : JSON.stringify(r.body ?? null);
      requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, raw, status: r.status });
      res.writeHead(r.status, {
        "content-type": typeof r.body === "string" ? "text/html; charset=utf-8" : "application/json; charset=utf-8",
        ...rateHeaders(),
        ...(r.headers ?? {}),
      });
      res.end(data);
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
    apiKey,
    emails,
    requests,
    failNext(res) {
      queued.push(res);
    },
    rateLimitNext({ retryAfterSeconds = 1, count = 1 } = {}) {
      for (let i = 0; i < count; i++) queued.push(rateLimited(retryAfterSeconds));
    },
    serverErrorNext({ status = 500, count = 1 } = {}) {
      for (let i = 0; i < count; i++) {
        queued.push(
          status === 500
            ? err(500, "internal_server_error", "An unexpected error occurred.")
            : err(status, "application_error", "An unexpected error occurred."),
        );
      }
    },
    close() {
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------- Svix webhooks
/** The three headers Resend (via Svix) puts on a webhook request. */
export interface SvixHeaders {
  "svix-id": string;
  "svix-timestamp": string;
  "svix-signature": string;
}

/** A fresh random webhook signing secret in Resend/Svix format (`whsec_` + base64 of 24 random bytes). */
export function makeSvixSecret(): string {
  return `whsec_${crypto.randomBytes(24).toString("base64")}`;
}

/**
 * Sign a webhook like Svix/Resend: `svix-signature: v1,<base64(HMAC-SHA256(key, "${id}.${timestamp}.${rawBody}"))>`
 * where `key` is the base64-decoded secret after `whsec_`. `timestamp` is unix seconds (a Date is converted).
 * Verify the *raw* body string: re-serialised JSON will not match.
 */
export function signSvixWebhook(secret: string, id: string, timestamp: number | Date, rawBody: string): SvixHeaders {
  const ts = timestamp instanceof Date ? Math.floor(timestamp.getTime() / 1000) : Math.floor(timestamp);
  const key = Buffer.from(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret, "base64");
  const sig = crypto.createHmac("sha256", key).update(`${id}.${ts}.${rawBody}`).digest("base64");
  return { "svix-id": id, "svix-timestamp": String(ts), "svix-signature": `v1,${sig}` };
}

/**
 * POST a signed Resend webhook (e.g. `{type:"email.delivered", created_at, data:{email_id,...}}`) to `url`, as Resend
 * would. Returns the receiver's status and body plus what was sent.
 */
export async function deliverResendWebhook(
  url: string,
  secret: string,
  payload: unknown,
  opts: { id?: string; timestamp?: number | Date } = {},
): Promise<{ status: number; text: string; rawBody: string; headers: SvixHeaders }> {
  const rawBody = JSON.stringify(payload);
  const headers = signSvixWebhook(
    secret,
    opts.id ?? `msg_${crypto.randomBytes(12).toString("hex")}`,
    opts.timestamp ?? new Date(),
    rawBody,
  );
  const r = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "user-agent": "Svix-Webhooks/1.0", ...headers },
    body: rawBody,
  });
  return { status: r.status, text: await r.text(), rawBody, headers };
}
