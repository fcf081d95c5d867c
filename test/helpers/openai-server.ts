/**
 * @module A local node:http server speaking OpenAI's `/v1/chat/completions`, `/v1/models` and
 * `/v1/audio/transcriptions` (PROVIDERS.md §9.8), so the real `openai` SDK runs against it in tests and in the demo:
 * bearer auth, JSON and SSE answers with the exact chunk sequence, tool-call pairing checks, vision input checked and
 * decoded (`openai-server-media.ts`), multipart transcription with scripted transcripts, request recording (with
 * `x-stainless-retry-count`), and a script queue for faults (status errors with retry headers, hangs, resets,
 * mid-stream errors, cut streams, slow models). With nothing scripted it answers deterministically, so load tests
 * need no scripting. `mode` switches to the Ollama, old-vLLM or whisper.cpp deviations of §9.2 2.5 and §9.3.
 */
import http from "node:http";
import type { RecordedImage, ScriptedTranscript, TranscriptionRequest } from "./openai-server-media.ts";
import {
  defaultTranscript,
  imagesOf,
  readTranscriptionRequest,
  transcriptionResponse,
  validateContentParts,
  validateTranscription,
} from "./openai-server-media.ts";
import type { ChatBody, FailSpec, OpenAIServerMode, ScriptedReply } from "./openai-server-sse.ts";
import { chunkMaker, completionBody, errorBody, openingFrames, planAnswer, splitWords, streamFrames } from "./openai-server-sse.ts";

export type { ChatBody, FailSpec, OpenAIServerMode, ScriptedReply, ScriptedToolCall } from "./openai-server-sse.ts";
export { contextFailure, htmlFailure, quotaFailure, rateLimitFailure } from "./openai-server-sse.ts";
export type { RecordedImage, ScriptedTranscript, TranscriptionFormat, TranscriptionRequest } from "./openai-server-media.ts";

/** Options for {@link startOpenAIServer}. */
export interface StartOpenAIServerOptions {
  /** The only key accepted (`authorization: Bearer <key>`); Ollama and whisper.cpp modes accept any. Default `sk-test-123`. */
  apiKey?: string;
  mode?: OpenAIServerMode;
  /** Listed by `GET /v1/models`. Default `["gpt-test"]`. */
  models?: string[];
}

/** One request as received; `status` is null while unanswered and for hangs and resets. */
export interface OpenAIRequestRecord {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The body as UTF-8 text (lossy for multipart audio; see `bytes`). */
  raw: string;
  /** The body exactly as received. */
  bytes: Buffer;
  /** The parsed JSON body, or null. */
  body: ChatBody | null;
  /** The images of a chat request, decoded from their `data:` URLs (empty when none). */
  images: RecordedImage[];
  /** A transcription request as parsed from its multipart body; null for other requests or an unparseable body. */
  transcription: TranscriptionRequest | null;
  /** `x-stainless-retry-count` as a number (0 on a first attempt), null when absent. */
  retryCount: number | null;
  status: number | null;
}

/** What the next authenticated request gets instead of the default answer. */
export type OpenAIScript =
  | { kind: "reply"; reply: ScriptedReply }
  | { kind: "fail"; fail: FailSpec }
  | { kind: "hang" }
  | { kind: "reset" }
  | { kind: "midStreamError"; text: string; error: { message: string; type: string; code: string | null } }
  | { kind: "cutStream"; text: string; destroy: boolean };

/** Computes the answer when the script queue is empty. */
export type DefaultResponder = (body: ChatBody) => ScriptedReply;

/** A running fake. */
export interface OpenAIServerHandle {
  /** The SDK's `baseURL` (includes `/v1`). */
  url: string;
  port: number;
  apiKey: string;
  mode: OpenAIServerMode;
  /** Every request, in arrival order (rejected, hung and reset ones too). */
  requests: OpenAIRequestRecord[];
  /** The `/v1/chat/completions` requests only. */
  chatRequests(): OpenAIRequestRecord[];
  /** The transcription requests only (`/v1/audio/transcriptions`, and `/inference` in whisper.cpp mode). */
  transcriptionRequests(): OpenAIRequestRecord[];
  /**
   * Queue a scripted answer. Scripts are FIFO, each used by the next authenticated request to a known route
   * (`GET /v1/models` too: failures, hangs and resets apply there; an answer script there is a test bug, sent back as a 500).
   */
  reply(reply: ScriptedReply): void;
  /**
   * Queue a transcript for the next transcription request. Transcripts have their own FIFO, so chat replies and
   * transcripts queued together never steal each other's turn; faults (`failNext`, `hangNext`, `resetNext`) sit in
   * the shared queue and hit whichever request comes next, a transcription included.
   */
  transcribeNext(t: ScriptedTranscript): void;
  /** Replace the default transcript (`transcript of <filename> (<bytes> bytes)`). */
  setDefaultTranscript(fn: (req: TranscriptionRequest) => ScriptedTranscript): void;
  /** Queue `count` (default 1) copies of an HTTP failure. */
  failNext(fail: FailSpec, count?: number): void;
  /** The next request never gets an answer; it ends when the client disconnects or the server closes. */
  hangNext(): void;
  /** The next request's socket is destroyed without a response. */
  resetNext(): void;
  /** Stream `text`, then a `data: {"error":…}` event, then end (OpenRouter's HTTP-200 errors). */
  midStreamErrorNext(opts?: { text?: string; message?: string; type?: string; code?: string | null }): void;
  /** Stream the role chunk and `text`, then end without finish, usage or `[DONE]`; `destroy` kills the socket instead. */
  cutStreamNext(opts?: { text?: string; destroy?: boolean }): void;
  /** Replace the default answer (default: `echo: <last user text>`). */
  setDefault(fn: DefaultResponder): void;
  /** Scripts not yet used (transcripts included). */
  pending(): number;
  close(): Promise<void>;
}

/** The text of the last user message (string content or text parts). */
export function lastUserText(body: ChatBody): string {
  const messages = Array.isArray(body.messages) ? (body.messages as Array<{ role?: unknown; content?: unknown }>) : [];
  const last = [...messages].reverse().find((m) => m.role === "user");
  if (!last) return "";
  if (typeof last.content === "string") return last.content;
  if (!Array.isArray(last.content)) return "";
  return (last.content as Array<{ type?: unknown; text?: unknown }>)
    .map((p) => (p.type === "text" && typeof p.text === "string" ? p.text : ""))
    .join("");
}

const echo: DefaultResponder = (body) => ({ text: `echo: ${lastUserText(body)}` });

/** OpenAI's 400s for a malformed conversation; null when the body is acceptable. */
function validateChat(body: ChatBody | null): FailSpec | null {
  const bad = (message: string, param: string | null = null): FailSpec => ({ status: 400, message, param, type: "invalid_request_error" });
  if (!body || typeof body !== "object") return bad("We could not parse the JSON body of your request.");
  if (typeof body.model !== "string" || body.model === "") return bad("you must provide a model parameter");
  if (!Array.isArray(body.messages) || body.messages.length === 0) return bad("[] is too short - 'messages'", "messages");
  const parts = validateContentParts(body);
  if (parts) return parts;
  const messages = body.messages as Array<{ role?: unknown; tool_calls?: Array<{ id?: unknown }>; tool_call_id?: unknown }>;
  let open: Set<unknown> | null = null;
  for (const [i, m] of messages.entries()) {
    if (m.role === "tool") {
      if (!open || !open.has(m.tool_call_id)) {
        return bad(
          "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
          `messages.[${i}].role`,
        );
      }
      open.delete(m.tool_call_id);
      continue;
    }
    if (open && open.size > 0) {
      const ids = [...open].join(", ");
      return bad(
        `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${ids}`,
        `messages.[${i}].role`,
      );
    }
    open = m.role === "assistant" && Array.isArray(m.tool_calls) ? new Set(m.tool_calls.map((c) => c.id)) : null;
  }
  return null;
}

/** Start the fake on 127.0.0.1 (a free port). */
export async function startOpenAIServer(opts: StartOpenAIServerOptions = {}): Promise<OpenAIServerHandle> {
  const apiKey = opts.apiKey ?? "sk-test-123";
  const mode = opts.mode ?? "openai";
  const models = opts.models ?? ["gpt-test"];
  const requests: OpenAIRequestRecord[] = [];
  const queue: OpenAIScript[] = [];
  const transcripts: ScriptedTranscript[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let respondDefault: DefaultResponder = echo;
  let transcriptDefault = defaultTranscript;
  let seq = 0;
  let callSeq = 0;

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  const sendJson = (
    res: http.ServerResponse,
    rec: OpenAIRequestRecord,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    rec.status = status;
    const html = typeof body === "string";
    res.writeHead(status, { "content-type": html ? "text/html; charset=utf-8" : "application/json", ...headers });
    res.end(html ? body : JSON.stringify(body));
  };
  const sendFail = (res: http.ServerResponse, rec: OpenAIRequestRecord, f: FailSpec, requestId: string) =>
    sendJson(res, rec, f.status, errorBody(mode, f), { "x-request-id": requestId, ...(f.headers ?? {}) });

  /** Write SSE frames one by one (with the slow-model pause), stopping quietly if the client went away. */
  const writeFrames = async (res: http.ServerResponse, frames: unknown[], chunkDelayMs: number, done: boolean) => {
    for (const [i, f] of frames.entries()) {
      if (i > 0 && chunkDelayMs > 0) await pause(chunkDelayMs);
      if (res.destroyed) return;
      res.write(`data: ${JSON.stringify(f)}\n\n`);
    }
    if (res.destroyed) return;
    if (done) res.write("data: [DONE]\n\n");
    res.end();
  };

  const chat = async (res: http.ServerResponse, rec: OpenAIRequestRecord, script: OpenAIScript | undefined, requestId: string) => {
    const body = rec.body as ChatBody;
    const invalid = mode === "ollama" ? null : validateChat(rec.body);
    if (invalid) return sendFail(res, rec, invalid, requestId);
    const reply = script?.kind === "reply" ? script.reply : script ? {} : respondDefault(body);
    if (reply.delayMs) await pause(reply.delayMs);
    if (res.destroyed) return;
    const id = `chatcmpl-${seq}`;
    const model = body.model as string;
    const created = Math.floor(Date.now() / 1000);
    const stream = body.stream === true;
    const headers = { "x-request-id": requestId, "openai-processing-ms": "1" };
    if (!stream) {
      if (script?.kind === "cutStream") return void res.socket?.destroy();
      if (script?.kind === "midStreamError") return sendFail(res, rec, { status: 500, message: script.error.message }, requestId);
      return sendJson(
        res,
        rec,
        200,
        completionBody(
          id,
          model,
          created,
          planAnswer(mode, reply, body, () => `call_${++callSeq}`),
        ),
        headers,
      );
    }
    const includeUsage = body.stream_options?.include_usage === true;
    const make = chunkMaker(id, model, created, includeUsage);
    rec.status = 200;
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", ...headers });
    if (script?.kind === "cutStream" || script?.kind === "midStreamError") {
      const frames: unknown[] = openingFrames(mode, make, { deltas: splitWords(script.text), reasoning: "" });
      if (script.kind === "midStreamError") frames.push({ error: { ...script.error, param: null } });
      res.write(frames.map((f) => `data: ${JSON.stringify(f)}\n\n`).join(""));
      // Let the frames reach the client before the socket dies, so the cut is mid-body.
      if (script.kind === "cutStream" && script.destroy) return void setImmediate(() => res.socket?.destroy());
      return void res.end();
    }
    const planned = planAnswer(mode, reply, body, () => `call_${++callSeq}`);
    await writeFrames(res, streamFrames(mode, make, planned, includeUsage, reply.argumentChunk), reply.chunkDelayMs ?? 0, true);
  };

  /** `/v1/audio/transcriptions` (and whisper.cpp's `/inference`): parse, check, answer a transcript or a fault. */
  const transcribe = async (req: http.IncomingMessage, res: http.ServerResponse, rec: OpenAIRequestRecord, requestId: string) => {
    const parsed = readTranscriptionRequest(rec.bytes, req.headers["content-type"]);
    if (typeof parsed === "string") return sendFail(res, rec, { status: 400, message: parsed }, requestId);
    rec.transcription = parsed;
    const invalid = validateTranscription(mode, parsed);
    if (invalid) return sendFail(res, rec, invalid, requestId);
    const t = transcripts.shift() ?? transcriptDefault(parsed);
    if (t.delayMs) await pause(t.delayMs);
    if (res.destroyed) return;
    const answer = transcriptionResponse(mode, parsed, t);
    rec.status = 200;
    res.writeHead(200, { "content-type": answer.contentType, "x-request-id": requestId });
    res.end(answer.body);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, rec: OpenAIRequestRecord) => {
    const requestId = `req_${++seq}`;
    const auth = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    if (mode !== "ollama" && mode !== "whisper.cpp" && (!auth || auth[1] !== apiKey)) {
      const shown = auth ? `${auth[1]!.slice(0, 5)}***${auth[1]!.slice(-3)}` : "";
      const message = auth
        ? `Incorrect API key provided: ${shown}. You can find your API key at https://platform.openai.com/account/api-keys.`
        : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
      return sendFail(res, rec, { status: 401, message, code: auth ? "invalid_api_key" : null }, requestId);
    }
    const route = `${req.method} ${rec.path.split("?")[0]}`;
    const stt = route === "POST /v1/audio/transcriptions" || (mode === "whisper.cpp" && route === "POST /inference");
    const known = stt || (mode !== "whisper.cpp" && (route === "POST /v1/chat/completions" || route === "GET /v1/models"));
    if (!known) return sendFail(res, rec, { status: 404, message: `Invalid URL (${route})` }, requestId);
    // A transcription takes only faults from the shared queue; chat answers stay for the chat requests.
    const head = queue[0]?.kind;
    const script = !stt || head === "fail" || head === "hang" || head === "reset" ? queue.shift() : undefined;
    if (script?.kind === "hang") return;
    if (script?.kind === "reset") return void res.socket?.destroy();
    if (script?.kind === "fail") return sendFail(res, rec, script.fail, requestId);
    if (stt) return transcribe(req, res, rec, requestId);
    if (route === "GET /v1/models") {
      if (script)
        return sendFail(res, rec, { status: 500, message: `fake: a ${script.kind} script was consumed by GET /v1/models` }, requestId);
      const data = models.map((id) => ({ id, object: "model", created: 1700000000, owned_by: mode === "ollama" ? "library" : "system" }));
      return sendJson(res, rec, 200, { object: "list", data }, { "x-request-id": requestId });
    }
    await chat(res, rec, script, requestId);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const bytes = Buffer.concat(chunks);
      const raw = bytes.toString("utf8");
      let body: ChatBody | null = null;
      try {
        body = raw && !/^multipart\//i.test(req.headers["content-type"] ?? "") ? (JSON.parse(raw) as ChatBody) : null;
      } catch {
        body = null;
      }
      const retry = req.headers["x-stainless-retry-count"];
      const rec: OpenAIRequestRecord = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        raw,
        bytes,
        body,
        images: imagesOf(body),
        transcription: null,
        retryCount: typeof retry === "string" ? Number(retry) : null,
        status: null,
      };
      requests.push(rec);
      handle(req, res, rec).catch((e: unknown) => {
        if (!res.headersSent) sendJson(res, rec, 500, errorBody(mode, { status: 500, message: `fake openai crashed: ${String(e)}` }));
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
    url: `http://127.0.0.1:${port}/v1`,
    port,
    apiKey,
    mode,
    requests,
    chatRequests: () => requests.filter((r) => r.path.startsWith("/v1/chat/completions")),
    transcriptionRequests: () => requests.filter((r) => /^\/(v1\/audio\/transcriptions|inference)(\?|$)/.test(r.path)),
    reply: (reply) => void queue.push({ kind: "reply", reply }),
    transcribeNext: (t) => void transcripts.push(t),
    setDefaultTranscript(fn) {
      transcriptDefault = fn;
    },
    failNext(fail, count = 1) {
      for (let i = 0; i < count; i++) queue.push({ kind: "fail", fail });
    },
    hangNext: () => void queue.push({ kind: "hang" }),
    resetNext: () => void queue.push({ kind: "reset" }),
    midStreamErrorNext: ({
      text = "Partial ",
      message = "The server had an error while processing your request.",
      type = "server_error",
      code = null,
    } = {}) => void queue.push({ kind: "midStreamError", text, error: { message, type, code } }),
    cutStreamNext: ({ text = "", destroy = false } = {}) => void queue.push({ kind: "cutStream", text, destroy }),
    setDefault(fn) {
      respondDefault = fn;
    },
    pending: () => queue.length + transcripts.length,
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
