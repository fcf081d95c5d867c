/**
 * @module A local Gemini Developer API (`v1beta`) for the real `@google/genai` SDK, written from PROVIDERS.md §9.5 and
 * §9.8: `:generateContent`, `:streamGenerateContent?alt=sse` (only `data: <json>\r\n\r\n` frames, no `event:` lines, no
 * `[DONE]`, the last chunk carrying `finishReason` and `usageMetadata`), `GET /v1beta/models[/{model}]`, and Google's
 * error bodies (a bad `x-goog-api-key` is 400 `INVALID_ARGUMENT` with `ErrorInfo.reason: API_KEY_INVALID`, a 429 carries
 * `RetryInfo.retryDelay`). It enforces what Google enforces where a tau bug would otherwise pass: unknown top-level
 * fields, roles other than user/model, function responses that do not answer the calls of the turn before, and
 * `inlineData` parts (a MIME type from the inline-data docs, valid base64; recorded decoded). Answers and faults are
 * scripted per request, in order; with the queue empty it echoes the last user text, or, when the last user turn
 * carries inline media, says what it received: `transcript: <n> bytes of <mime>` for audio, `image: <mime> <n> bytes`
 * for an image, `video: <mime> <n> bytes` for a video.
 */
import http from "node:http";

/** A request part or answer part, as Gemini's JSON carries it. */
export type GeminiPart = Record<string, unknown>;

/** One scripted model answer. Text is streamed in several chunks; function calls come whole in the last one. */
export interface GeminiReply {
  text?: string;
  functionCalls?: Array<{ name: string; args?: Record<string, unknown>; id?: string }>;
  /** Raw model parts, sent as they are in one chunk (overrides text and functionCalls). */
  parts?: GeminiPart[];
  /** Put on every function call part (and on the first text part when there is no call), as thinking models do. */
  thoughtSignature?: string;
  finishReason?: string;
  /** `usageMetadata` fields of the last chunk (defaults: rough counts of the request and answer JSON). */
  usage?: Partial<
    Record<"promptTokenCount" | "candidatesTokenCount" | "thoughtsTokenCount" | "cachedContentTokenCount" | "totalTokenCount", number>
  >;
  /** Wait before the response head. */
  delayMs?: number;
  /** Wait between stream chunks. */
  chunkDelayMs?: number;
}

/** A canned error response. */
export interface GeminiFailure {
  status: number;
  /** Default: Google's body for the status (429 with `RetryInfo.retryDelay: "7s"`). A string is sent verbatim. */
  body?: unknown;
  headers?: Record<string, string>;
}

type Step =
  | { kind: "reply"; reply: GeminiReply }
  | { kind: "fail"; failure: GeminiFailure }
  | { kind: "block"; reason: string }
  | { kind: "hang" }
  | { kind: "reset" }
  | { kind: "midStreamError"; reply: GeminiReply }
  | { kind: "cut"; reply: GeminiReply };

/** One request as received (rejected ones too). */
export interface GeminiRequestRecord {
  method: string;
  /** Path and query, e.g. `/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse`. */
  path: string;
  /** `generateContent`, `streamGenerateContent`, `list`, `get` or `unknown`. */
  action: string;
  model: string | null;
  headers: http.IncomingHttpHeaders;
  raw: string;
  /** The parsed JSON body (undefined for GET or bad JSON). */
  body: any;
  /** The valid `inlineData` parts of the request, decoded (empty when none). */
  inline: GeminiInlineRecord[];
}

/** One `inlineData` part a request carried, decoded. */
export interface GeminiInlineRecord {
  /** Index of the content and of the part in it. */
  content: number;
  part: number;
  mimeType: string;
  bytes: Buffer;
}

/** The MIME types Gemini takes as inline data (image, audio and video understanding docs, plus common aliases). */
export const GEMINI_INLINE_TYPES: ReadonlySet<string> = new Set([
  ...["image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"],
  ...["audio/wav", "audio/x-wav", "audio/mp3", "audio/mpeg", "audio/aiff", "audio/x-aiff", "audio/aac", "audio/ogg", "audio/flac"],
  ...["audio/x-flac", "audio/webm", "audio/mp4", "audio/m4a", "audio/x-m4a"],
  ...["video/mp4", "video/mpeg", "video/mpg", "video/mov", "video/quicktime", "video/avi", "video/x-msvideo", "video/x-flv"],
  ...["video/webm", "video/wmv", "video/x-ms-wmv", "video/3gpp"],
  ...["application/pdf", "text/plain"],
]);

/** Base64 as protobuf JSON reads `bytes` (standard or URL-safe alphabet, padding optional): the bytes, or null. */
function decodeProtoBase64(s: string): Buffer | null {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(s) || s.replace(/=+$/, "").length % 4 === 1) return null;
  return Buffer.from(s.replace(/-/g, "+").replace(/_/g, "/"), "base64");
}

/** The valid inline parts of a body, decoded. */
function inlineOf(body: any): GeminiInlineRecord[] {
  const out: GeminiInlineRecord[] = [];
  const contents: any[] = Array.isArray(body?.contents) ? body.contents : [];
  contents.forEach((c, content) =>
    (Array.isArray(c?.parts) ? c.parts : []).forEach((p: any, part: number) => {
      const d = p?.inlineData;
      const bytes = d && typeof d.data === "string" ? decodeProtoBase64(d.data) : null;
      if (bytes && typeof d.mimeType === "string") out.push({ content, part, mimeType: d.mimeType, bytes });
    }),
  );
  return out;
}

/** What the default answer says about inline media: one line per part. */
export function describeInline(parts: GeminiInlineRecord[]): string {
  return parts
    .map(({ mimeType, bytes }) =>
      mimeType.startsWith("audio/")
        ? `transcript: ${bytes.length} bytes of ${mimeType}`
        : mimeType.startsWith("video/")
          ? `video: ${mimeType} ${bytes.length} bytes`
          : `image: ${mimeType} ${bytes.length} bytes`,
    )
    .join("\n");
}

export interface StartGeminiServerOptions {
  /** The only key accepted in `x-goog-api-key`. Default `gemini-test-key`. */
  apiKey?: string;
  /** Models served (without `models/`). Default `gemini-2.5-flash`, `gemini-2.5-pro`. */
  models?: string[];
}

export interface GeminiServerHandle {
  /** Pass as `httpOptions.baseUrl` (the SDK adds `/v1beta`). */
  url: string;
  apiKey: string;
  requests: GeminiRequestRecord[];
  /** Queue an answer for the next generate request. */
  reply(reply: GeminiReply): void;
  /** Next generate request: a blocked prompt (`promptFeedback.blockReason`, no candidates). Default `SAFETY`. */
  blockNext(reason?: string): void;
  failNext(failure: GeminiFailure): void;
  /** Next generate request: read it, never answer (client timeouts). */
  hangNext(): void;
  /** Next generate request: reset the connection before any response byte. */
  resetNext(): void;
  /** Next stream: the first text chunk, then `data: {"error":{code:500,…,status:"INTERNAL"}}`, then EOF. */
  midStreamErrorNext(reply?: GeminiReply): void;
  /** Next stream: the text chunks, then a final frame cut in the middle of its JSON, then EOF. */
  cutStreamNext(reply?: GeminiReply): void;
  /** The answer when the queue is empty (default: echo of the last user text). */
  setDefault(fn: (req: GeminiRequestRecord) => GeminiReply): void;
  close(): Promise<void>;
}

const RPC: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};
const MESSAGES: Record<number, string> = {
  429: "You exceeded your current quota, please check your plan and billing details.",
  500: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
  503: "The model is overloaded. Please try again later.",
  504: "Deadline expired before operation could complete.",
};

/** Google's error body: `{error:{code,message,status,details?}}`. */
export function googleError(code: number, message?: string, details?: unknown[]): { error: Record<string, unknown> } {
  const error: Record<string, unknown> = { code, message: message ?? MESSAGES[code] ?? "Request failed.", status: RPC[code] ?? "UNKNOWN" };
  if (details) error.details = details;
  return { error };
}

/** The 429 body with `QuotaFailure` and `RetryInfo`, as the Gemini API sends it. */
export function rateLimitedBody(retryDelay = "7s", model = "gemini-2.5-flash") {
  return googleError(429, undefined, [
    {
      "@type": "type.googleapis.com/google.rpc.QuotaFailure",
      violations: [
        {
          quotaMetric: "generativelanguage.googleapis.com/generate_content_free_tier_requests",
          quotaId: "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
          quotaDimensions: { location: "global", model },
          quotaValue: "10",
        },
      ],
    },
    { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay },
  ]);
}

const BAD_KEY = googleError(400, "API key not valid. Please pass a valid API key.", [
  {
    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
    reason: "API_KEY_INVALID",
    domain: "googleapis.com",
    metadata: { service: "generativelanguage.googleapis.com" },
  },
]);
const NO_KEY = googleError(
  403,
  "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
);
const TOP_LEVEL = new Set(["contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "safetySettings", "cachedContent"]);

/** What Google answers 400 to, for the checks a tau bug could trip; null when the body is acceptable. */
function invalid(body: any): string | null {
  if (!body || typeof body !== "object" || Array.isArray(body)) return "Invalid JSON payload received.";
  for (const k of Object.keys(body)) if (!TOP_LEVEL.has(k)) return `Invalid JSON payload received. Unknown name "${k}": Cannot find field.`;
  if (!Array.isArray(body.contents) || body.contents.length === 0) return "* GenerateContentRequest.contents: contents is not specified";
  let prevCalls = 0;
  for (const [i, c] of body.contents.entries()) {
    if (c.role !== undefined && c.role !== "user" && c.role !== "model") return `Please use a valid role: user, model.`;
    if (!Array.isArray(c.parts) || c.parts.length === 0)
      return `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.`;
    for (const [j, p] of c.parts.entries()) {
      const d = (p as GeminiPart).inlineData as { mimeType?: unknown; data?: unknown } | undefined;
      if (d === undefined) continue;
      const at = `contents[${i}].parts[${j}].inline_data`;
      if (typeof d.mimeType !== "string" || d.mimeType === "")
        return `* GenerateContentRequest.${at}.mime_type: mime_type must be specified.`;
      if (!GEMINI_INLINE_TYPES.has(d.mimeType)) return `Unsupported MIME type: ${d.mimeType}`;
      if (typeof d.data !== "string" || !decodeProtoBase64(d.data)) {
        return `Invalid value at '${at}.data' (TYPE_BYTES), Base64 decoding failed for "${String(d.data).slice(0, 40)}"`;
      }
    }
    const responses = c.parts.filter((p: GeminiPart) => p.functionResponse).length;
    if (responses > 0 && responses !== prevCalls) {
      return "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.";
    }
    prevCalls = c.role === "model" ? c.parts.filter((p: GeminiPart) => p.functionCall).length : 0;
  }
  return null;
}

/** Split text into about three chunks, as a real stream arrives. */
function split(text: string): string[] {
  if (text.length < 3) return [text];
  const size = Math.ceil(text.length / 3);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

const tokens = (s: string) => Math.max(1, Math.ceil(s.length / 4));

/** Start a local Gemini API on 127.0.0.1 (a free port). */
export async function startGeminiServer(opts: StartGeminiServerOptions = {}): Promise<GeminiServerHandle> {
  const apiKey = opts.apiKey ?? "gemini-test-key";
  const models = opts.models ?? ["gemini-2.5-flash", "gemini-2.5-pro"];
  const requests: GeminiRequestRecord[] = [];
  const queue: Step[] = [];
  /** Pending waits; `close()` clears them and lets their handlers finish (they then see a dead socket). */
  const timers = new Map<NodeJS.Timeout, () => void>();
  let responseSeq = 0;
  let makeDefault = (req: GeminiRequestRecord): GeminiReply => {
    const turns = (req.body?.contents ?? []).filter((c: any) => c.role === "user" && !c.parts?.some((p: GeminiPart) => p.functionResponse));
    const lastTurn = turns.length - 1;
    const media = req.inline.filter((x) => req.body.contents[x.content] === turns[lastTurn]);
    if (media.length > 0) return { text: describeInline(media) };
    const users = (req.body?.contents ?? []).filter(
      (c: any) => c.role === "user" && c.parts?.some((p: GeminiPart) => typeof p.text === "string"),
    );
    const last = users[users.length - 1];
    return { text: last ? last.parts.map((p: GeminiPart) => p.text ?? "").join("") : "" };
  };

  const later = (ms: number) =>
    new Promise<void>((resolve) => {
      if (ms <= 0) return resolve();
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.set(t, resolve);
    });
  const modelInfo = (name: string) => ({
    name: `models/${name}`,
    version: "001",
    displayName: name,
    inputTokenLimit: 1048576,
    outputTokenLimit: 65536,
    supportedGenerationMethods: ["generateContent", "countTokens"],
  });
  const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    const type = typeof body === "string" ? "text/html; charset=UTF-8" : "application/json; charset=UTF-8";
    res.writeHead(status, { "content-type": type, vary: "Origin, X-Origin, Referer", ...headers });
    res.end(text);
  };

  /** The response chunks of an answer: text over several chunks, calls and finish in the last. */
  const chunks = (reply: GeminiReply, req: GeminiRequestRecord): Array<Record<string, unknown>> => {
    const responseId = `resp-${++responseSeq}`;
    const prompt = tokens(JSON.stringify(req.body?.contents ?? []));
    const texts = reply.parts ? [] : split(reply.text ?? "");
    const calls: GeminiPart[] = (reply.functionCalls ?? []).map((c) => {
      const functionCall: Record<string, unknown> = { name: c.name, args: c.args ?? {} };
      if (c.id) functionCall.id = c.id;
      return reply.thoughtSignature ? { functionCall, thoughtSignature: reply.thoughtSignature } : { functionCall };
    });
    const groups: GeminiPart[][] = reply.parts ? [reply.parts] : texts.map((t) => [{ text: t }]);
    if (!reply.parts && calls.length > 0) {
      if (texts.length === 1 && texts[0] === "") groups.pop();
      groups.push(calls);
    } else if (reply.thoughtSignature && groups[0]?.[0]) groups[0][0] = { ...groups[0][0], thoughtSignature: reply.thoughtSignature };
    const candidatesTokenCount = tokens(JSON.stringify(groups));
    const counts = { promptTokenCount: prompt, candidatesTokenCount, ...reply.usage };
    const total = counts.promptTokenCount + counts.candidatesTokenCount + (counts.thoughtsTokenCount ?? 0);
    const usage = { ...counts, totalTokenCount: total, promptTokensDetails: [{ modality: "TEXT", tokenCount: prompt }], ...reply.usage };
    return groups.map((parts, i) => {
      const last = i === groups.length - 1;
      const candidate: Record<string, unknown> = { content: { parts, role: "model" } };
      if (last) candidate.finishReason = reply.finishReason ?? "STOP";
      candidate.index = 0;
      return {
        candidates: [candidate],
        usageMetadata: last ? usage : { promptTokenCount: prompt, totalTokenCount: prompt },
        modelVersion: req.model,
        responseId,
      };
    });
  };

  const answer = async (req: GeminiRequestRecord, res: http.ServerResponse, step: Step) => {
    if (step.kind === "hang") return;
    if (step.kind === "reset") return void res.socket?.resetAndDestroy();
    if (step.kind === "fail") {
      const f = step.failure;
      return json(
        res,
        f.status,
        f.body ?? (f.status === 429 ? rateLimitedBody("7s", req.model ?? undefined) : googleError(f.status)),
        f.headers,
      );
    }
    if (step.kind === "block") {
      const body = {
        promptFeedback: { blockReason: step.reason, safetyRatings: [] },
        usageMetadata: { promptTokenCount: 5, totalTokenCount: 5 },
        modelVersion: req.model,
        responseId: `resp-${++responseSeq}`,
      };
      if (req.action === "generateContent") return json(res, 200, body);
      res.writeHead(200, { "content-type": "text/event-stream" });
      return void res.end(`data: ${JSON.stringify(body)}\r\n\r\n`);
    }
    const reply = step.reply;
    const gone = () => res.destroyed || !res.socket || res.socket.destroyed;
    await later(reply.delayMs ?? 0);
    if (gone()) return;
    const parts = chunks(reply, req);
    if (req.action === "generateContent") {
      const merged = parts[parts.length - 1]!;
      const all = parts.flatMap((c) => (c.candidates as any)[0].content.parts);
      (merged.candidates as any)[0].content.parts = all;
      return json(res, 200, merged);
    }
    res.writeHead(200, { "content-type": "text/event-stream", "x-content-type-options": "nosniff" });
    if (step.kind === "midStreamError") {
      const first = structuredClone(parts[0]!) as any;
      delete first.candidates[0].finishReason;
      first.usageMetadata = {
        promptTokenCount: first.usageMetadata.promptTokenCount,
        totalTokenCount: first.usageMetadata.promptTokenCount,
      };
      res.write(`data: ${JSON.stringify(first)}\r\n\r\n`);
      await later(reply.chunkDelayMs ?? 0);
      if (!gone()) res.end(`data: ${JSON.stringify(googleError(500))}\r\n\r\n`);
      return;
    }
    for (const [i, c] of parts.entries()) {
      if (gone()) return;
      const frame = `data: ${JSON.stringify(c)}\r\n\r\n`;
      if (step.kind === "cut" && i === parts.length - 1) return void res.end(frame.slice(0, Math.floor(frame.length / 2)));
      res.write(frame);
      if (i < parts.length - 1) await later(reply.chunkDelayMs ?? 0);
    }
    res.end();
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, raw: string) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const m = /^\/v1beta\/models(?:\/([^/:]+)(?::([A-Za-z]+))?)?$/.exec(url.pathname);
    const action = !m ? "unknown" : m[2] ? m[2] : m[1] ? "get" : "list";
    let body: any;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = undefined;
    }
    const rec: GeminiRequestRecord = {
      method: req.method ?? "",
      path: req.url ?? "",
      action,
      model: m?.[1] ?? null,
      headers: req.headers,
      raw,
      body,
      inline: inlineOf(body),
    };
    requests.push(rec);
    const key = req.headers["x-goog-api-key"];
    if (!key) return json(res, 403, NO_KEY);
    if (key !== apiKey) return json(res, 400, BAD_KEY);
    if (!m) return json(res, 404, googleError(404, `Requested entity was not found.`));
    if (action === "list" || action === "get") {
      if (req.method !== "GET") return json(res, 405, googleError(400, "Method not allowed."));
      if (action === "list") return json(res, 200, { models: models.map(modelInfo) });
      return models.includes(m[1]!) ? json(res, 200, modelInfo(m[1]!)) : json(res, 404, googleError(404, `models/${m[1]} is not found.`));
    }
    if (req.method !== "POST" || (action !== "generateContent" && action !== "streamGenerateContent")) {
      return json(res, 404, googleError(404, `Requested entity was not found.`));
    }
    if (!models.includes(m[1]!)) {
      return json(
        res,
        404,
        googleError(
          404,
          `models/${m[1]} is not found for API version v1beta, or is not supported for ${action}. Call ListModels to see the list of available models and their supported methods.`,
        ),
      );
    }
    if (action === "streamGenerateContent" && url.searchParams.get("alt") !== "sse") {
      return json(
        res,
        400,
        googleError(400, "fake gemini: streamGenerateContent without alt=sse (JSON array streaming) is not implemented"),
      );
    }
    if (raw && body === undefined) return json(res, 400, googleError(400, "Invalid JSON payload received. Unexpected token."));
    const why = invalid(body);
    if (why) return json(res, 400, googleError(400, why));
    await answer(rec, res, queue.shift() ?? { kind: "reply", reply: makeDefault(rec) });
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      handle(req, res, Buffer.concat(chunks).toString("utf8")).catch((e: Error) => {
        if (!res.headersSent) json(res, 500, googleError(500, `fake gemini crashed: ${e.message}`));
        else res.destroy();
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;

  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    requests,
    reply: (reply) => void queue.push({ kind: "reply", reply }),
    blockNext: (reason = "SAFETY") => void queue.push({ kind: "block", reason }),
    failNext: (failure) => void queue.push({ kind: "fail", failure }),
    hangNext: () => void queue.push({ kind: "hang" }),
    resetNext: () => void queue.push({ kind: "reset" }),
    midStreamErrorNext: (reply = { text: "partial answer that breaks" }) => void queue.push({ kind: "midStreamError", reply }),
    cutStreamNext: (reply = { text: "an answer whose stream is cut" }) => void queue.push({ kind: "cut", reply }),
    setDefault(fn) {
      makeDefault = fn;
    },
    close() {
      for (const [t, resolve] of timers) {
        clearTimeout(t);
        resolve();
      }
      timers.clear();
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
