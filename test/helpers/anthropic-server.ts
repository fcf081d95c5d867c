/**
 * @module Local node:http server speaking the slice of Anthropic's Messages API tau uses (PROVIDERS.md §9.4, §9.8), so the
 * real `@anthropic-ai/sdk` can be pointed at it (`baseURL` without `/v1`). It enforces what the real API enforces and a
 * lenient fake would let slip: the auth header (Bearer or `x-api-key`), the `anthropic-version` header, 400 for
 * `temperature`/`top_p`/`top_k` under 2026-10-21, a required `max_tokens`, tool_use/tool_result pairing, base64 image
 * blocks (jpeg/png/gif/webp, valid base64, at most 5 MB of base64 text each, recorded decoded); and it answers
 * with the real shapes: `{type:"error",error:{type,message},request_id}` bodies, a `request-id` header, SSE frames with
 * their mandatory `event:` line in the exact order, `input_json_delta` fragments, cumulative `output_tokens`.
 * Faults are scripted per request (FIFO): status errors with `retry-after`, hangs, resets, `event: error`, truncation.
 */
import http from "node:http";

export const ANTHROPIC_VERSIONS = ["2026-10-21", "2023-06-01"] as const;

/** One scripted model answer. */
export interface AnthropicAnswer {
  text?: string;
  toolCalls?: { name: string; input: Record<string, unknown>; id?: string }[];
  /** Default `tool_use` when there are tool calls, else `end_turn`. */
  stopReason?: string;
  /** Defaults: input ≈ request chars / 4, output ≈ answer chars / 4 (at least 1), cache 0. */
  usage?: { inputTokens?: number; outputTokens?: number; cacheReadInputTokens?: number; cacheCreationInputTokens?: number };
  /** Wait before the response headers (timers are cleared by `close`). */
  delayMs?: number;
}

/** A scripted error response; body defaults to Anthropic's error body for the status. */
export interface AnthropicFailure {
  status: number;
  /** Error `type` / `message` for the default body. */
  type?: string;
  message?: string;
  /** Sent instead of the default body (a string verbatim). */
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
  /** How many consecutive requests get it. Default 1. */
  times?: number;
}

/** One image block a request carried, decoded. */
export interface AnthropicRecordedImage {
  /** Index of the message and of the block in its content. */
  message: number;
  block: number;
  mediaType: string;
  bytes: Buffer;
}

/** One request as received (every request, rejected ones included). */
export interface AnthropicRequestRecord {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
  /** Parsed JSON body, null when absent or not JSON. */
  body: Record<string, unknown> | null;
  /** The base64 image blocks of the request, decoded (empty when none). */
  images: AnthropicRecordedImage[];
  /** `x-stainless-retry-count` as a number (0 on first attempts), null when not sent. */
  retryCount: number | null;
  requestId: string;
  /** Status sent, null while hanging or when the socket was reset. */
  status: number | null;
  /** The SSE text written so far ("" for JSON answers). */
  sse: string;
}

export interface AnthropicServerHandle {
  /** Pass as `baseURL` (no `/v1`). */
  url: string;
  port: number;
  apiKey: string;
  requests: AnthropicRequestRecord[];
  /** Answer the next POST /v1/messages with this. */
  reply(answer: AnthropicAnswer): void;
  failNext(failure: AnthropicFailure): void;
  /** Accept and never answer (`midStream`: send headers, `message_start` and one delta, then stall). */
  hangNext(opts?: { midStream?: boolean; times?: number }): void;
  /** Destroy the socket without a response. */
  resetNext(opts?: { times?: number }): void;
  /** 200 stream with a block and a delta, then `event: error` (default `overloaded_error`). */
  midStreamErrorNext(opts?: { type?: string; message?: string }): void;
  /** 200 stream that ends (cleanly) before `message_delta` / `message_stop`. */
  cutStreamNext(): void;
  /** The answer when nothing is scripted (default: `echo: <last user text>`). */
  setDefault(fn: (body: Record<string, unknown>) => AnthropicAnswer): void;
  close(): Promise<void>;
}

type Script =
  | { kind: "answer"; answer: AnthropicAnswer }
  | { kind: "fail"; failure: AnthropicFailure }
  | { kind: "hang"; midStream: boolean }
  | { kind: "reset" }
  | { kind: "midStreamError"; type: string; message: string }
  | { kind: "cut" };

const ERROR_TYPES: Record<number, [string, string]> = {
  400: ["invalid_request_error", "Invalid request."],
  401: ["authentication_error", "invalid x-api-key"],
  402: ["billing_error", "Your credit balance is too low to access the Anthropic API."],
  403: ["permission_error", "Your API key does not have permission to use the specified resource."],
  404: ["not_found_error", "Not found."],
  413: ["request_too_large", "Request exceeds the maximum allowed number of bytes."],
  429: ["rate_limit_error", "This request would exceed the rate limit for your organization."],
  500: ["api_error", "Internal server error"],
  504: ["timeout_error", "Request timed out"],
  529: ["overloaded_error", "Overloaded"],
};

/** Anthropic's error body. */
export function anthropicErrorBody(type: string, message: string, requestId: string) {
  return { type: "error", error: { type, message }, request_id: requestId };
}

function rateLimitHeaders(retryAfter: string): Record<string, string> {
  const reset = new Date(Date.now() + 60_000).toISOString();
  const h: Record<string, string> = { "retry-after": retryAfter };
  for (const k of ["requests", "input-tokens", "output-tokens", "tokens"]) {
    h[`anthropic-ratelimit-${k}-limit`] = "50";
    h[`anthropic-ratelimit-${k}-remaining`] = "0";
    h[`anthropic-ratelimit-${k}-reset`] = reset;
  }
  return h;
}

const TOOL_NAME_RE = /^[a-zA-Z0-9_-]{1,128}$/;
const IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"];
/** Anthropic's per-image cap, measured on the base64 text (not the decoded bytes). */
export const MAX_IMAGE_BASE64_BYTES = 5 * 1024 * 1024;

/** Strict base64 (standard alphabet, padded, canonical): the bytes, or null when `s` is not base64. */
function decodeBase64Strict(s: string): Buffer | null {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
  const bytes = Buffer.from(s, "base64");
  return bytes.toString("base64") === s ? bytes : null;
}

/** The 400 message for an image block, or null when it is valid. */
function invalidImage(blk: Record<string, unknown>, at: string): string | null {
  const src = blk.source;
  if (!isObj(src)) return `${at}.image.source: Field required`;
  if (src.type !== "base64") {
    return `${at}.image.source: Input tag '${String(src.type)}' found using 'type' does not match any of the expected tags: 'base64' (fake anthropic: url and file sources are not served)`;
  }
  if (!IMAGE_TYPES.includes(String(src.media_type))) {
    return `${at}.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'`;
  }
  if (typeof src.data !== "string" || !decodeBase64Strict(src.data)) return `${at}.image.source.base64.data: invalid base64 data`;
  if (src.data.length > MAX_IMAGE_BASE64_BYTES) {
    return `${at}.image.source.base64: image exceeds 5 MB maximum: ${src.data.length} bytes > ${MAX_IMAGE_BASE64_BYTES} bytes`;
  }
  return null;
}

/** The (valid) base64 images of a body, decoded, in message order. */
export function imagesOf(body: Record<string, unknown> | null): AnthropicRecordedImage[] {
  const msgs = body && Array.isArray(body.messages) ? (body.messages as unknown[]) : [];
  const out: AnthropicRecordedImage[] = [];
  msgs.forEach((m, message) => {
    if (!isObj(m) || !Array.isArray(m.content)) return;
    m.content.forEach((blk: unknown, block) => {
      const src = isObj(blk) && blk.type === "image" && isObj(blk.source) ? blk.source : null;
      const bytes = src && src.type === "base64" && typeof src.data === "string" ? decodeBase64Strict(src.data) : null;
      if (src && bytes) out.push({ message, block, mediaType: String(src.media_type), bytes });
    });
  });
  return out;
}
const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);
const blocksOf = (c: unknown): Record<string, unknown>[] =>
  typeof c === "string" ? [{ type: "text", text: c }] : Array.isArray(c) ? c.filter(isObj) : [];

/** The 400 message the API would give this body, or null when it is valid. */
export function validateMessagesBody(b: Record<string, unknown>, version: string): string | null {
  if (typeof b.model !== "string" || !b.model) return "model: Field required";
  if (b.max_tokens === undefined) return "max_tokens: Field required";
  if (!Number.isInteger(b.max_tokens) || (b.max_tokens as number) < 1) return "max_tokens: Input should be a positive integer";
  if (version === "2026-10-21") {
    for (const k of ["temperature", "top_p", "top_k"]) {
      if (k in b) return `${k}: Extra inputs are not permitted with anthropic-version 2026-10-21; sampling parameters were removed`;
    }
  }
  if (b.system !== undefined && typeof b.system !== "string" && !Array.isArray(b.system)) return "system: Input should be a valid string";
  if (!Array.isArray(b.messages) || b.messages.length === 0) return "messages: at least one message is required";
  const msgs = b.messages as unknown[];
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i];
    if (!isObj(m) || (m.role !== "user" && m.role !== "assistant")) return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    const blocks = blocksOf(m.content);
    if (blocks.length === 0 && !(m.role === "assistant" && i === msgs.length - 1)) {
      return `messages.${i}: all messages must have non-empty content except for the optional final assistant message`;
    }
    for (const [j, blk] of blocks.entries()) {
      if (blk.type === "text" && (typeof blk.text !== "string" || !blk.text))
        return `messages.${i}.content.${j}.text: text content blocks must be non-empty`;
      if (
        blk.type === "tool_use" &&
        (m.role !== "assistant" || typeof blk.id !== "string" || !TOOL_NAME_RE.test(String(blk.name)) || !isObj(blk.input))
      ) {
        return `messages.${i}.content.${j}: invalid tool_use block`;
      }
      if (blk.type === "tool_result" && (m.role !== "user" || typeof blk.tool_use_id !== "string"))
        return `messages.${i}.content.${j}: invalid tool_result block`;
      if (blk.type === "image") {
        const why = invalidImage(blk, `messages.${i}.content.${j}`);
        if (why) return why;
      }
    }
    const prev = i > 0 && isObj(msgs[i - 1]) ? (msgs[i - 1] as Record<string, unknown>) : null;
    const asked =
      prev?.role === "assistant"
        ? blocksOf(prev.content)
            .filter((x) => x.type === "tool_use")
            .map((x) => x.id)
        : [];
    const answered = blocks.filter((x) => x.type === "tool_result").map((x) => x.tool_use_id);
    const stray = answered.filter((id) => !asked.includes(id));
    if (stray.length) {
      return `messages.${i}.content: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${stray.join(", ")}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
    }
    const missing = m.role === "user" ? asked.filter((id) => !answered.includes(id)) : asked;
    if (missing.length) {
      return `messages.${i - 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(", ")}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
    }
  }
  if (b.tools !== undefined) {
    if (!Array.isArray(b.tools)) return "tools: Input should be a valid list";
    for (const [k, t] of (b.tools as unknown[]).entries()) {
      if (!isObj(t) || !TOOL_NAME_RE.test(String(t.name)))
        return `tools.${k}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`;
      if (!isObj(t.input_schema) || t.input_schema.type !== "object")
        return `tools.${k}.custom.input_schema.type: Input should be 'object'`;
    }
  }
  return null;
}

/** The text of the last user text block, for the default echo answer. */
export function lastUserText(body: Record<string, unknown>): string {
  const msgs = Array.isArray(body.messages) ? (body.messages as unknown[]).filter(isObj) : [];
  for (const m of msgs.reverse()) {
    if (m.role !== "user") continue;
    const t = blocksOf(m.content).find((b) => b.type === "text");
    if (t) return String(t.text);
  }
  return "";
}

/** Split into pieces of `n` characters (code points kept whole). */
function pieces(s: string, n: number): string[] {
  const cps = [...s];
  const out: string[] = [];
  for (let i = 0; i < cps.length; i += n) out.push(cps.slice(i, i + n).join(""));
  return out;
}

/** Start the fake on 127.0.0.1. `apiKey` default `sk-ant-test-key`; `models` are listed by GET /v1/models. */
export async function startAnthropicServer(
  opts: { apiKey?: string; port?: number; models?: string[]; pings?: boolean } = {},
): Promise<AnthropicServerHandle> {
  const apiKey = opts.apiKey ?? "sk-ant-test-key";
  const models = opts.models ?? ["claude-test"];
  const requests: AnthropicRequestRecord[] = [];
  const queue: Script[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const hanging = new Set<http.ServerResponse>();
  let seq = 0;
  let defaultAnswer = (body: Record<string, unknown>): AnthropicAnswer => ({ text: `echo: ${lastUserText(body)}` });
  const later = (ms: number, fn: () => void) => {
    if (!ms) return fn();
    const t = setTimeout(() => (timers.delete(t), fn()), ms);
    timers.add(t);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handle(req, res, Buffer.concat(chunks).toString("utf8")));
  });

  function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: string) {
    const requestId = `req_${String(++seq).padStart(6, "0")}`;
    let body: Record<string, unknown> | null = null;
    try {
      const v: unknown = raw ? JSON.parse(raw) : null;
      body = isObj(v) ? v : null;
    } catch {
      body = null;
    }
    const rc = req.headers["x-stainless-retry-count"];
    const rec: AnthropicRequestRecord = {
      method: req.method ?? "",
      path: req.url ?? "",
      headers: req.headers,
      raw,
      body,
      images: imagesOf(body),
      retryCount: typeof rc === "string" ? Number(rc) : null,
      requestId,
      status: null,
      sse: "",
    };
    requests.push(rec);
    const json = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      rec.status = status;
      const text = typeof payload === "string" ? payload : JSON.stringify(payload);
      res.writeHead(status, { "content-type": "application/json", "request-id": requestId, ...headers });
      res.end(text);
    };
    const fail = (status: number, type: string, message: string) => json(status, anthropicErrorBody(type, message, requestId));

    const auth = req.headers.authorization;
    const key = req.headers["x-api-key"] ?? (typeof auth === "string" ? /^Bearer\s+(\S+)$/i.exec(auth)?.[1] : undefined);
    if (!key) return fail(401, "authentication_error", "x-api-key header is required");
    if (key !== apiKey) return fail(401, "authentication_error", "invalid x-api-key");
    const version = String(req.headers["anthropic-version"] ?? "");
    if (!version) return fail(400, "invalid_request_error", "anthropic-version: header is required");
    if (!(ANTHROPIC_VERSIONS as readonly string[]).includes(version)) {
      return fail(400, "invalid_request_error", `anthropic-version: invalid version '${version}'`);
    }
    const url = new URL(req.url ?? "/", "http://localhost");

    if (url.pathname === "/v1/models" && req.method === "GET") {
      const limit = Math.max(1, Math.min(1000, Number(url.searchParams.get("limit") ?? 20)));
      const data = models.slice(0, limit).map((id) => ({ type: "model", id, display_name: id, created_at: "2026-01-01T00:00:00Z" }));
      return json(200, { data, has_more: models.length > limit, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
    }
    if (url.pathname !== "/v1/messages") return fail(404, "not_found_error", `Not found: ${req.method} ${url.pathname}`);
    if (req.method !== "POST") return fail(405, "invalid_request_error", `Method ${req.method} not allowed`);

    // Faults come before validation, as a real rate limiter or a broken proxy would.
    const head = queue[0];
    if (head && head.kind !== "answer") {
      queue.shift();
      if (head.kind === "reset") return req.socket.destroy();
      if (head.kind === "fail") {
        const f = head.failure;
        const [type, message] = ERROR_TYPES[f.status] ?? ["api_error", "Internal server error"];
        const payload = f.body ?? anthropicErrorBody(f.type ?? type, f.message ?? message, requestId);
        const headers = { ...(f.status === 429 ? rateLimitHeaders("1") : {}), ...(f.headers ?? {}) };
        return later(f.delayMs ?? 0, () => json(f.status, payload, headers));
      }
      if (head.kind === "hang" && !head.midStream) return void hanging.add(res);
    }
    if (!body) return fail(400, "invalid_request_error", "There was an error parsing the body of your request as JSON");
    const invalid = validateMessagesBody(body, version);
    if (invalid) return fail(400, "invalid_request_error", invalid);

    const model = String(body.model);
    if (head && head.kind !== "answer") return brokenStream(head, model);
    const script = head?.kind === "answer" ? (queue.shift(), head.answer) : defaultAnswer(body);
    later(script.delayMs ?? 0, () => answer(script, model, body.stream === true));

    function answer(a: AnthropicAnswer, model: string, stream: boolean) {
      const calls = (a.toolCalls ?? []).map((c, i) => ({ ...c, id: c.id ?? `toolu_${requestId.slice(4)}_${i}` }));
      const text = a.text ?? "";
      const stop = a.stopReason ?? (calls.length ? "tool_use" : "end_turn");
      const outChars = text.length + calls.reduce((n, c) => n + c.name.length + JSON.stringify(c.input).length, 0);
      const usage = {
        input_tokens: a.usage?.inputTokens ?? Math.max(1, Math.ceil(raw.length / 4)),
        output_tokens: a.usage?.outputTokens ?? Math.max(1, Math.ceil(outChars / 4)),
        cache_creation_input_tokens: a.usage?.cacheCreationInputTokens ?? 0,
        cache_read_input_tokens: a.usage?.cacheReadInputTokens ?? 0,
        service_tier: "standard",
      };
      const content = [
        ...(text ? [{ type: "text", text }] : []),
        ...calls.map((c) => ({ type: "tool_use", id: c.id, name: c.name, input: c.input })),
      ];
      const msgId = `msg_${requestId.slice(4)}`;
      if (!stream) {
        const message = { id: msgId, type: "message", role: "assistant", model, content, stop_reason: stop, stop_sequence: null, usage };
        return json(200, message);
      }
      const send = startStream(msgId, model, usage.input_tokens, usage.cache_read_input_tokens);
      content.forEach((block, index) => {
        if (block.type === "text") {
          send("content_block_start", { index, content_block: { type: "text", text: "" } });
          if (opts.pings !== false && index === 0) send("ping", {});
          for (const p of pieces(text, 8)) send("content_block_delta", { index, delta: { type: "text_delta", text: p } });
        } else {
          const c = block as { id: string; name: string; input: unknown };
          send("content_block_start", { index, content_block: { type: "tool_use", id: c.id, name: c.name, input: {} } });
          for (const p of ["", ...pieces(JSON.stringify(c.input), 10)]) {
            send("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: p } });
          }
        }
        send("content_block_stop", { index });
      });
      send("message_delta", { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
      send("message_stop", {});
      res.end();
    }

    function startStream(msgId: string, model: string, inputTokens: number, cacheRead: number) {
      rec.status = 200;
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "request-id": requestId });
      const send = (event: string, data: Record<string, unknown>) => {
        const frame = `event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`;
        rec.sse += frame;
        res.write(frame);
      };
      const usage = { input_tokens: inputTokens, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: cacheRead };
      const message = { id: msgId, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage };
      send("message_start", { message });
      return send;
    }

    function brokenStream(s: Script, model: string) {
      const send = startStream(`msg_${requestId.slice(4)}`, model, 10, 0);
      send("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
      send("content_block_delta", { index: 0, delta: { type: "text_delta", text: "Partial" } });
      if (s.kind === "hang") return void hanging.add(res);
      if (s.kind === "midStreamError") send("error", { error: { type: s.type, message: s.message } });
      res.end();
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  const times = (n: number | undefined, s: Script) => {
    for (let i = 0; i < (n ?? 1); i++) queue.push(s);
  };

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    apiKey,
    requests,
    reply: (answer) => void queue.push({ kind: "answer", answer }),
    failNext: (failure) => times(failure.times, { kind: "fail", failure }),
    hangNext: (o = {}) => times(o.times, { kind: "hang", midStream: o.midStream ?? false }),
    resetNext: (o = {}) => times(o.times, { kind: "reset" }),
    midStreamErrorNext: (o = {}) =>
      void queue.push({ kind: "midStreamError", type: o.type ?? "overloaded_error", message: o.message ?? "Overloaded" }),
    cutStreamNext: () => void queue.push({ kind: "cut" }),
    setDefault: (fn) => void (defaultAnswer = fn),
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const r of hanging) r.destroy();
      hanging.clear();
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
