/**
 * @module OpenAI Chat Completions adapter (`POST {baseUrl}/chat/completions`), also what Ollama, vLLM, llama.cpp,
 * LM Studio, OpenRouter and Groq speak (PROVIDERS.md §9.2). It uses the real `openai` SDK, loaded on first use so
 * a tau that never calls a model never pays for it; this is the only file in `src` that imports it.
 *
 * Why the raw stream and not `.stream()`: the helper throws on a missing `finish_reason`, a missing `role` or a
 * tool call without `type`, all of which compatible servers send; accumulating raw chunks here keeps those answers.
 *
 * Why our own timers: the SDK's per-request `timeout` only covers the wait for the response headers (it is
 * cleared once `fetch` resolves), so a stream that stalls mid-body would hang forever; we re-arm an idle timer
 * of `timeoutMs` on every chunk. And the SDK's retry back-off sleep ignores the abort signal, so `complete` races
 * the caller's signal itself and rejects at once.
 *
 * Media: images (png, jpeg, gif, webp) go as `image_url` parts with a `data:` URL after the text part (§9.2 2.1;
 * Ollama takes data URLs only, and a platform URL would carry the bot token). Speech to text is here too
 * (`createOpenAITranscriptionClient`, §9.3): the same SDK posts multipart to `{baseUrl}/audio/transcriptions`, which
 * OpenAI, whisper.cpp (`--inference-path /v1/audio/transcriptions`) and faster-whisper/speaches all serve.
 */
import { randomUUID } from "node:crypto";
import type { OpenAI } from "openai";
import type {
  CallOptions,
  ChatMessage,
  DescribedRequest,
  FinishReason,
  ModelAnswer,
  ModelClient,
  ModelClientOptions,
  ModelRequest,
  ModelUsage,
  ToolCall,
  TranscriptionClient,
} from "./model-client.ts";
import { ModelError, reasonForStatus, redactKey } from "./model-client.ts";

/** `GET /models` gets at most this long (probes must be quick even when `timeoutMs` is generous). */
const PROBE_TIMEOUT_MS = 10_000;

/** The JSON body sent to `/chat/completions`; `describe()` returns exactly this. */
export interface OpenAIChatBody {
  model: string;
  messages: Array<Record<string, unknown>>;
  tools?: Array<{ type: "function"; function: { name: string; description: string; parameters: Record<string, unknown> } }>;
  max_completion_tokens: number;
  stream: true;
  stream_options: { include_usage: true };
}

/** The image types OpenAI vision takes; anything else is a 400 `invalid_image_format`. */
export const OPENAI_IMAGE_TYPES: ReadonlySet<string> = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

/** `Image/PNG; x=y` → `image/png`: the media type without parameters, lower case. */
const baseMime = (mime: string): string => (mime.split(";")[0] ?? "").trim().toLowerCase();

/** Refuse, before any call, a request carrying media this adapter cannot send (the caller should have asked `acceptsMedia`). */
function assertMedia(req: ModelRequest): void {
  for (const m of req.messages) {
    if (m.role !== "user") continue;
    for (const x of m.media ?? []) {
      if (!OPENAI_IMAGE_TYPES.has(baseMime(x.mime))) {
        throw new ModelError(
          "responder_model_bad_request",
          `openai: ${x.mime} is not an input type this model takes (png, jpeg, gif, webp)`,
        );
      }
    }
  }
}

/** One neutral message as an OpenAI chat message (PROVIDERS.md §9.2 2.1): with media, a text part then one `image_url` part each. */
function toOpenAIMessage(m: ChatMessage): Record<string, unknown> {
  if (m.role === "user") {
    if (!m.media?.length) return { role: "user", content: m.text };
    const content: Array<Record<string, unknown>> = m.text === "" ? [] : [{ type: "text", text: m.text }];
    for (const x of m.media) content.push({ type: "image_url", image_url: { url: `data:${baseMime(x.mime)};base64,${x.base64}` } });
    return { role: "user", content };
  }
  if (m.role === "tool") return { role: "tool", tool_call_id: m.callId, content: m.content };
  const calls = m.toolCalls ?? [];
  if (calls.length === 0) return { role: "assistant", content: m.text };
  return {
    role: "assistant",
    // OpenAI's own transcripts carry `content: null` on a tool-call-only turn.
    content: m.text === "" ? null : m.text,
    tool_calls: calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.argumentsJson } })),
  };
}

/**
 * The request body for one turn: system message first (omitted when empty), `tools` only when there are some,
 * no `tool_choice` (its default with tools is `"auto"`, and Ollama/vLLM reject or ignore an explicit one),
 * `max_completion_tokens`, and always streamed with usage. Throws the `bad_request` ModelError for media not accepted.
 */
export function buildChatBody(req: ModelRequest): OpenAIChatBody {
  assertMedia(req);
  const messages = req.messages.map(toOpenAIMessage);
  if (req.system !== "") messages.unshift({ role: "system", content: req.system });
  const body: OpenAIChatBody = {
    model: req.model,
    messages,
    max_completion_tokens: req.maxOutputTokens,
    stream: true,
    stream_options: { include_usage: true },
  };
  if (req.tools.length > 0) {
    body.tools = req.tools.map((t) => ({
      type: "function",
      function: { name: t.name, description: t.description, parameters: t.parameters },
    }));
  }
  return body;
}

const FINISH: Record<string, FinishReason> = { stop: "stop", length: "length", tool_calls: "tool_calls", content_filter: "content_filter" };

/** Folds raw `chat.completion.chunk`s (choice 0) into one answer: text, tool calls joined by `index`, finish, usage. */
export class ChatStreamAccumulator {
  private text = "";
  private readonly calls = new Map<number, { id: string; name: string; args: string }>();
  private lastIndex = -1;
  private finishRaw: string | null = null;
  private usage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };
  private started = false;

  constructor(private readonly onFirstToken?: () => void) {}

  private first(): void {
    if (this.started) return;
    this.started = true;
    this.onFirstToken?.();
  }

  add(chunk: OpenAI.ChatCompletionChunk): void {
    const u = chunk.usage;
    if (u) {
      this.usage = {
        inputTokens: u.prompt_tokens ?? 0,
        outputTokens: u.completion_tokens ?? 0,
        cachedInputTokens: u.prompt_tokens_details?.cached_tokens ?? 0,
      };
    }
    for (const choice of chunk.choices ?? []) {
      if ((choice.index ?? 0) !== 0) continue;
      const delta = choice.delta ?? {};
      if (typeof delta.content === "string" && delta.content !== "") {
        this.first();
        this.text += delta.content;
      }
      for (const tc of delta.tool_calls ?? []) {
        // A server that omits `index` opens a new call with an `id` and continues the last one without.
        const index = typeof tc.index === "number" ? tc.index : tc.id ? this.calls.size : Math.max(this.lastIndex, 0);
        this.lastIndex = index;
        let slot = this.calls.get(index);
        if (!slot) {
          slot = { id: "", name: "", args: "" };
          this.calls.set(index, slot);
        }
        if (tc.id) slot.id = tc.id;
        if (tc.function?.name && !slot.name) slot.name = tc.function.name;
        if (tc.function?.arguments) slot.args += tc.function.arguments;
        if (tc.id || tc.function?.name || tc.function?.arguments) this.first();
      }
      if (choice.finish_reason) this.finishRaw = choice.finish_reason;
    }
  }

  /**
   * The whole answer. A stream that ended without `finish_reason` (cut, no `[DONE]`) is a stream error when it
   * carried nothing or any tool call (half a tool call must never run); partial text comes back as `other`.
   */
  answer(requestId: string | null): ModelAnswer {
    const toolCalls: ToolCall[] = [...this.calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, c]) => ({ id: c.id || `call_${randomUUID()}`, name: c.name, argumentsJson: c.args === "" ? "{}" : c.args }));
    if (this.finishRaw === null && (toolCalls.length > 0 || this.text === "")) {
      throw new ModelError("responder_model_stream_error", "openai: the stream ended without a finish_reason", { retryable: true });
    }
    const finish: FinishReason = this.finishRaw === null ? "other" : (FINISH[this.finishRaw] ?? "other");
    return { text: this.text, toolCalls, finish, usage: this.usage, requestId };
  }
}

/** The wait a 429/503 asked for: `retry-after-ms`, else `retry-after` in seconds or as an HTTP date. */
export function retryAfterMsOf(headers: { get(name: string): string | null } | undefined): number | null {
  const ms = headers?.get("retry-after-ms");
  if (ms && Number.isFinite(Number.parseFloat(ms))) return Math.max(0, Number.parseFloat(ms));
  const after = headers?.get("retry-after");
  if (!after) return null;
  const s = Number.parseFloat(after);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  // An HTTP date is measured against the response's own `Date` header (the server's clock, not ours).
  const at = Date.parse(after);
  const sent = Date.parse(headers?.get("date") ?? "");
  return Number.isNaN(at) || Number.isNaN(sent) ? null : Math.max(0, at - sent);
}

/** What we know about the call when it failed, beyond the error itself. */
export interface FailureContext {
  apiKey: string;
  /** The caller's signal. */
  signal: AbortSignal;
  /** Our idle timer fired while the body was streaming. */
  idleTimedOut?: boolean;
  /** The response headers had arrived (an unknown error now is a broken stream). */
  streaming?: boolean;
}

/** SDK errors are told apart by class name: `instanceof` would need the lazily loaded module in scope. */
type SdkError = Error & {
  status?: number;
  code?: unknown;
  type?: unknown;
  headers?: { get(name: string): string | null };
  requestID?: string;
};

const CONTEXT_MESSAGE = /context length|maximum context|too long/i;

/** Map anything the SDK (or our timers) threw to a ModelError; the API key never survives into the message. */
export function toModelError(err: unknown, ctx: FailureContext): ModelError {
  if (err instanceof ModelError) return err;
  const e = (err instanceof Error ? err : new Error(String(err))) as SdkError;
  const msg = (text: string) => redactKey(`openai: ${text}${e.requestID ? ` (request id ${e.requestID})` : ""}`, ctx.apiKey);
  const name = e.constructor?.name ?? e.name;
  if (ctx.signal.aborted) return new ModelError("responder_model_aborted", msg("the call was aborted"));
  if (ctx.idleTimedOut) return new ModelError("responder_model_timeout", msg(`no stream data for the timeout`), { retryable: true });
  if (name === "APIUserAbortError") return new ModelError("responder_model_aborted", msg("the call was aborted"));
  if (name === "APIConnectionTimeoutError") return new ModelError("responder_model_timeout", msg(e.message), { retryable: true });
  if (name === "APIConnectionError") {
    const cause = (e as { cause?: unknown }).cause;
    const detail = cause instanceof Error ? `${e.message} (${cause.message})` : e.message;
    return new ModelError("responder_model_unavailable", msg(detail), { retryable: true });
  }
  const status = typeof e.status === "number" ? e.status : null;
  if (status === null) {
    // An `error` object inside a 200 stream (APIError without status), or the body broke off mid-stream.
    if (name === "APIError") return new ModelError("responder_model_stream_error", msg(e.message), { retryable: false });
    if (ctx.streaming) return new ModelError("responder_model_stream_error", msg(e.message), { retryable: true });
    return new ModelError("responder_model_unavailable", msg(e.message), { retryable: false });
  }
  const code = typeof e.code === "string" ? e.code : null;
  const type = typeof e.type === "string" ? e.type : null;
  if (status === 429 && (code === "insufficient_quota" || type === "insufficient_quota")) {
    return new ModelError("responder_model_quota_exceeded", msg(e.message), { status, retryable: false });
  }
  if (status === 400 && (code === "context_length_exceeded" || type === "exceed_context_size_error" || CONTEXT_MESSAGE.test(e.message))) {
    return new ModelError("responder_model_context_too_long", msg(e.message), { status, retryable: false });
  }
  const { reason, retryable } = reasonForStatus(status);
  const retryAfterMs = status === 429 || status >= 500 ? retryAfterMsOf(e.headers) : null;
  return new ModelError(reason, msg(e.message), { status, retryable, retryAfterMs });
}

/**
 * Old vLLM builds answer errors as top-level `{object:"error",message,type,param,code}`; the SDK only reads
 * `body.error` and would report "400 status code (no body)". whisper.cpp answers `{"error":"<text>"}`, which the SDK
 * would show as `400 "<text>"` (quoted). Lift both into `{error:{message,…}}` first.
 */
async function liftTopLevelError(res: Response): Promise<Response> {
  if (res.ok || !(res.headers.get("content-type") ?? "").includes("json")) return res;
  const text = await res.text();
  let out = text;
  try {
    const parsed = JSON.parse(text) as Record<string, unknown> | null;
    if (parsed && typeof parsed === "object" && parsed.error === undefined && parsed.object === "error") {
      const { object: _object, ...rest } = parsed;
      out = JSON.stringify({ error: rest });
    } else if (parsed && typeof parsed === "object" && typeof parsed.error === "string") {
      out = JSON.stringify({ error: { message: parsed.error, type: null, param: null, code: null } });
    }
  } catch {
    // Not JSON after all: hand it over unchanged.
  }
  const headers = new Headers(res.headers);
  headers.delete("content-length");
  headers.delete("content-encoding");
  return new Response(out, { status: res.status, statusText: res.statusText, headers });
}

/** Settle with `p`, or reject with `aborted` as soon as the signal fires (the SDK's retry sleep ignores it). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal, apiKey: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(toModelError(new Error("aborted"), { apiKey, signal }));
    // Always observe `p`: it still settles (rejects) after an abort, and must not become an unhandled rejection.
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}

type OpenAIModule = typeof import("openai");

/**
 * The SDK module and one client for `opts`, imported and built on first use (a failed import is tried again next
 * time). No key means `auth_failed` at once: the SDK would throw its own error, and OpenAI would answer 401.
 */
function lazyOpenAI(opts: ModelClientOptions, baseUrl: string, timeout: number): () => Promise<{ mod: OpenAIModule; client: OpenAI }> {
  let sdk: Promise<{ mod: OpenAIModule; client: OpenAI }> | null = null;
  return () => {
    if (!opts.apiKey) return Promise.reject(new ModelError("responder_model_auth_failed", "openai: no API key is configured"));
    sdk ??= import("openai").then(
      (mod) => ({
        mod,
        client: new mod.OpenAI({
          apiKey: opts.apiKey,
          baseURL: baseUrl,
          // Never pick these up from the environment: the config says where tau talks to.
          organization: null,
          project: null,
          adminAPIKey: null,
          timeout,
          maxRetries: opts.maxRetries,
          logLevel: "off",
          fetch: async (url: string | URL | Request, init?: RequestInit) => liftTopLevelError(await fetch(url, init)),
        }),
      }),
      (e: unknown) => {
        sdk = null;
        throw e;
      },
    );
    return sdk;
  };
}

/** The OpenAI-compatible ModelClient. `baseUrl` includes `/v1` (as the SDK's `baseURL` does). */
export function createOpenAIClient(opts: ModelClientOptions): ModelClient {
  const baseUrl = opts.baseUrl.replace(/\/+$/, "");
  const timeout = Math.max(1, Math.round(opts.timeoutMs));
  const load = lazyOpenAI(opts, baseUrl, timeout);
  const client = async (): Promise<OpenAI> => (await load()).client;

  const complete = async (req: ModelRequest, call: CallOptions): Promise<ModelAnswer> => {
    const { signal } = call;
    const body = buildChatBody(req);
    const ac = new AbortController();
    const forward = () => ac.abort();
    let idle: NodeJS.Timeout | undefined;
    let idleTimedOut = false;
    let streaming = false;
    signal.addEventListener("abort", forward, { once: true });
    try {
      if (signal.aborted) throw new Error("aborted before the call");
      const openai = await client();
      const { data: stream, request_id } = await openai.chat.completions
        .create(body as unknown as OpenAI.ChatCompletionCreateParamsStreaming, { signal: ac.signal, timeout, maxRetries: opts.maxRetries })
        .withResponse();
      streaming = true;
      const arm = () => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          idleTimedOut = true;
          ac.abort();
        }, timeout);
      };
      arm();
      const acc = new ChatStreamAccumulator(call.onFirstToken);
      // An abort (the caller's or our idle timer's) ends this loop quietly: the SDK swallows AbortError.
      for await (const chunk of stream) {
        arm();
        acc.add(chunk);
      }
      if (signal.aborted || idleTimedOut) throw new Error("stream stopped");
      return acc.answer(request_id ?? null);
    } catch (e) {
      throw toModelError(e, { apiKey: opts.apiKey, signal, idleTimedOut, streaming });
    } finally {
      clearTimeout(idle);
      signal.removeEventListener("abort", forward);
    }
  };

  return {
    provider: "openai",
    acceptsMedia: (mime) => OPENAI_IMAGE_TYPES.has(baseMime(mime)),
    complete(req, call) {
      return untilAborted(complete(req, call), call.signal, opts.apiKey);
    },
    describe(req): DescribedRequest {
      return {
        method: "POST",
        url: `${baseUrl}/chat/completions`,
        headers: { authorization: "Bearer <redacted>", "content-type": "application/json" },
        body: buildChatBody(req),
      };
    },
    async probe(signal) {
      try {
        const openai = await client();
        const list = openai.models.list({ signal, timeout: Math.min(timeout, PROBE_TIMEOUT_MS), maxRetries: 0 });
        const page = await untilAborted(Promise.resolve(list), signal, opts.apiKey);
        const ids = page.data.map((m) => m.id);
        const shown = ids.slice(0, 5).join(", ") + (ids.length > 5 ? ", …" : "");
        return { ok: true, detail: `${ids.length} model(s) at ${baseUrl}${ids.length ? `: ${shown}` : ""}` };
      } catch (e) {
        const err = toModelError(e, { apiKey: opts.apiKey, signal });
        return { ok: false, reason: err.reason, detail: err.message };
      }
    },
  };
}

/** The file extensions OpenAI's `/audio/transcriptions` takes; it goes by the file name, not the part's type. */
const TRANSCRIPTION_EXTENSIONS = new Set(["flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm"]);
const EXTENSION_OF: Record<string, string> = {
  "audio/ogg": "ogg",
  "audio/opus": "ogg",
  "audio/mpeg": "mp3",
  "audio/mp3": "mp3",
  "audio/wav": "wav",
  "audio/x-wav": "wav",
  "audio/wave": "wav",
  "audio/vnd.wave": "wav",
  "audio/flac": "flac",
  "audio/x-flac": "flac",
  "audio/webm": "webm",
  "audio/mp4": "m4a",
  "audio/m4a": "m4a",
  "audio/x-m4a": "m4a",
  "video/mp4": "mp4",
  "video/webm": "webm",
  "video/mpeg": "mpeg",
};

/**
 * The file name to upload: `filename` when its extension is one OpenAI takes (`voice.oga` stays), else the name with
 * the extension of `mime` (`voice.x-wav` + `audio/x-wav` → `voice.wav`); unchanged when the type has none either
 * (the server then says which formats it takes).
 */
export function transcriptionFilename(filename: string, mime: string): string {
  const name = filename.split(/[\\/]/).pop() || "audio";
  const dot = name.lastIndexOf(".");
  const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
  if (TRANSCRIPTION_EXTENSIONS.has(ext)) return name;
  const wanted = EXTENSION_OF[baseMime(mime)];
  if (!wanted) return name;
  return `${dot > 0 ? name.slice(0, dot) : name}.${wanted}`;
}

const NO_USAGE: ModelUsage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };

/**
 * What `/audio/transcriptions` answered, as text and usage: a `json`/`verbose_json` object (`usage` counted only when
 * `type: "tokens"`; `duration` usage and servers that send none give zeros), or a plain string (`text`/`srt`/`vtt`,
 * or a server that ignored `response_format`). The text is trimmed; an object without `text` is an error.
 */
export function transcriptionOf(res: unknown): { text: string; usage: ModelUsage } {
  if (typeof res === "string") return { text: res.trim(), usage: NO_USAGE };
  const r = (res && typeof res === "object" ? res : {}) as { text?: unknown; usage?: unknown; error?: unknown };
  if (typeof r.text !== "string") {
    const why = r.error === undefined ? "an answer without text" : `an error: ${JSON.stringify(r.error)}`;
    throw new ModelError("responder_model_bad_request", `openai: the transcription endpoint sent ${why}`);
  }
  const u = (r.usage && typeof r.usage === "object" ? r.usage : {}) as { type?: unknown; input_tokens?: unknown; output_tokens?: unknown };
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  const usage =
    u.type === "tokens" ? { inputTokens: num(u.input_tokens), outputTokens: num(u.output_tokens), cachedInputTokens: 0 } : NO_USAGE;
  return { text: r.text.trim(), usage };
}

/**
 * Speech to text over an OpenAI-compatible `POST {baseUrl}/audio/transcriptions` (PROVIDERS.md §9.3): multipart with
 * `file` (from `toFile`, typed with the audio's mime), `model` (whisper.cpp ignores it) and `response_format: json`.
 * Failures map exactly as chat calls do (401 auth_failed, 429 rate_limited, 5xx unavailable, 400 bad_request,
 * timeouts), whisper.cpp's `{"error":"…"}` bodies included.
 */
export function createOpenAITranscriptionClient(opts: ModelClientOptions & { model: string }): TranscriptionClient {
  const baseUrl = opts.baseUrl.replace(/\/+$/, "");
  const timeout = Math.max(1, Math.round(opts.timeoutMs));
  const load = lazyOpenAI(opts, baseUrl, timeout);

  const transcribe = async (audio: { bytes: Uint8Array; mime: string; filename: string }, signal: AbortSignal) => {
    if (signal.aborted) throw new Error("aborted before the call");
    const { mod, client } = await load();
    const file = await mod.toFile(audio.bytes, transcriptionFilename(audio.filename, audio.mime), { type: baseMime(audio.mime) });
    const res: unknown = await client.audio.transcriptions.create(
      { file, model: opts.model, response_format: "json" },
      { signal, timeout, maxRetries: opts.maxRetries },
    );
    return transcriptionOf(res);
  };

  return {
    provider: "openai",
    async transcribe(audio, { signal }) {
      try {
        return await untilAborted(transcribe(audio, signal), signal, opts.apiKey);
      } catch (e) {
        throw toModelError(e, { apiKey: opts.apiKey, signal });
      }
    },
  };
}
