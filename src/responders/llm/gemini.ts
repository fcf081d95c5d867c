/**
 * @module The Gemini adapter of the model port: one `@google/genai` (2.32.0) streamed `generateContent` per turn,
 * loaded on first use so tau starts without the SDK in memory. Written from PROVIDERS.md §9.5 and the installed SDK:
 * the SDK has no default timeout and no retries (so `httpOptions.timeout` is always set, `retryOptions` only when
 * tau asks for retries), it reports every HTTP failure as one `ApiError` whose message is the JSON error body (so the
 * RPC status, `ErrorInfo.reason` and `RetryInfo.retryDelay` are parsed back out of it), function calls end with
 * `finishReason: STOP`, and model parts may carry a `thoughtSignature` that must be echoed unchanged in the next turn.
 * Automatic stream continuation (on by default in 2.32.0) is turned off: a dropped stream is a tau-visible error,
 * never a silent second request.
 *
 * Media: images, audio and video go as `inlineData` parts after the user's text part (§9.5 5.2), for the types the
 * Gemini inline-data docs list (GIF is not among them: Google answers 400 "Unsupported MIME type"). Speech to text
 * is here too (`createGeminiTranscriptionClient`): one non-streamed `generateContent` with the audio inline.
 */
import type { Content, GenerateContentConfig, GenerateContentResponse, GoogleGenAI, Part } from "@google/genai";
import {
  ModelError,
  reasonForStatus,
  redactKey,
  type ChatMessage,
  type DescribedRequest,
  type FinishReason,
  type ModelAnswer,
  type ModelClient,
  type ModelClientOptions,
  type ModelReason,
  type ModelRequest,
  type ModelUsage,
  type ToolCall,
  type TranscriptionClient,
} from "./model-client.ts";

type GenAiModule = typeof import("@google/genai");

/** The probe's own bound: a models list is cheap, so it never waits the full per-call timeout. */
const PROBE_TIMEOUT_MS = 5_000;

/** Tool call ids tau makes up when Gemini sends none (`id` is optional there); never sent back as ids. */
const SYNTHETIC_ID = /^call_\d+$/;

/** `finishReason` values that mean the answer was withheld or cut by a safety or policy filter. */
const FILTERED = new Set(["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT"]);

/** The parsed `{error:{code,message,status,details}}` body Google sends with every failure. */
interface GoogleErrorBody {
  code?: number;
  message?: string;
  status?: string;
  details?: Array<Record<string, unknown>>;
}

/**
 * The media types Gemini takes as inline data (ai.google.dev image, audio and video understanding docs, plus the
 * usual aliases a magic-byte sniffer or a platform reports: `audio/mpeg` for MP3, `video/quicktime` for MOV, …).
 */
export const GEMINI_MEDIA_TYPES: ReadonlySet<string> = new Set([
  "image/png",
  "image/jpeg",
  "image/webp",
  "image/heic",
  "image/heif",
  "audio/wav",
  "audio/x-wav",
  "audio/mp3",
  "audio/mpeg",
  "audio/aiff",
  "audio/x-aiff",
  "audio/aac",
  "audio/ogg",
  "audio/flac",
  "audio/x-flac",
  "audio/webm",
  "audio/mp4",
  "audio/m4a",
  "audio/x-m4a",
  "video/mp4",
  "video/mpeg",
  "video/mpg",
  "video/mov",
  "video/quicktime",
  "video/avi",
  "video/x-msvideo",
  "video/x-flv",
  "video/webm",
  "video/wmv",
  "video/x-ms-wmv",
  "video/3gpp",
]);

/** `Audio/OGG; codecs=opus` → `audio/ogg`: the media type without parameters, lower case. */
const baseMime = (mime: string): string => (mime.split(";")[0] ?? "").trim().toLowerCase();

/** The instruction sent with the audio by the Gemini transcription client. */
export const TRANSCRIBE_INSTRUCTION = "Transcribe this audio verbatim. Answer with the transcript only.";

/** The user turn's parts: the text (left out when empty and there is media), then one `inlineData` part per file. */
function userParts(m: Extract<ChatMessage, { role: "user" }>): Part[] {
  if (!m.media?.length) return [{ text: m.text }];
  const parts: Part[] = m.text === "" ? [] : [{ text: m.text }];
  for (const x of m.media) {
    const mimeType = baseMime(x.mime);
    if (!GEMINI_MEDIA_TYPES.has(mimeType)) {
      throw new ModelError("responder_model_bad_request", `gemini: ${x.mime} is not an input type Gemini takes inline`);
    }
    parts.push({ inlineData: { mimeType, data: x.base64 } });
  }
  return parts;
}

/** JSON when the text is JSON, else the text itself (tool results; tool call arguments). */
function jsonOrText(content: string): unknown {
  try {
    return JSON.parse(content);
  } catch {
    return content;
  }
}

/** The model parts tau sends for an assistant turn: the provider's own parts when kept, else rebuilt from text and calls. */
function assistantParts(m: Extract<ChatMessage, { role: "assistant" }>): Part[] {
  if (Array.isArray(m.providerParts) && m.providerParts.length > 0) return m.providerParts as Part[];
  const parts: Part[] = [];
  if (m.text) parts.push({ text: m.text });
  for (const c of m.toolCalls ?? []) {
    const args = jsonOrText(c.argumentsJson);
    const functionCall: NonNullable<Part["functionCall"]> = {
      args: args && typeof args === "object" && !Array.isArray(args) ? (args as Record<string, unknown>) : {},
    };
    if (!SYNTHETIC_ID.test(c.id)) functionCall.id = c.id;
    functionCall.name = c.name;
    parts.push({ functionCall });
  }
  return parts;
}

/**
 * The provider-neutral conversation as Gemini `contents`: user text → a `user` turn; an assistant turn → a `model`
 * turn (its `providerParts` echoed unchanged when present); tool results → `functionResponse` parts, consecutive ones
 * merged into one `user` turn. A result carries the call's `id` only when the model's call had one. Assistant turns
 * with no parts at all are left out. User media becomes `inlineData` parts; media not accepted throws the
 * `bad_request` ModelError.
 */
export function toGeminiContents(messages: ChatMessage[]): Content[] {
  const contents: Content[] = [];
  let callIds = new Set<string>();
  let toolTurn: Content | null = null;
  for (const m of messages) {
    if (m.role === "tool") {
      const value = jsonOrText(m.content);
      const functionResponse: NonNullable<Part["functionResponse"]> = {};
      if (callIds.has(m.callId)) functionResponse.id = m.callId;
      functionResponse.name = m.name;
      functionResponse.response = m.isError ? { error: value } : { output: value };
      if (!toolTurn) {
        toolTurn = { parts: [], role: "user" };
        contents.push(toolTurn);
      }
      toolTurn.parts!.push({ functionResponse });
      continue;
    }
    toolTurn = null;
    if (m.role === "user") {
      contents.push({ parts: userParts(m), role: "user" });
    } else {
      const parts = assistantParts(m);
      callIds = new Set(parts.flatMap((p) => (p.functionCall?.id ? [p.functionCall.id] : [])));
      // An empty model turn (e.g. an answer cut by a SAFETY finish) would make Google refuse the whole history.
      if (parts.length > 0) contents.push({ parts, role: "model" });
    }
  }
  return contents;
}

/** The SDK `config` for a request (without the per-call signal). */
function toConfig(req: ModelRequest): GenerateContentConfig {
  const config: GenerateContentConfig = {};
  if (req.system) config.systemInstruction = req.system;
  if (req.tools.length > 0) {
    config.tools = [
      {
        functionDeclarations: req.tools.map((t) => ({ name: t.name, description: t.description, parametersJsonSchema: t.parameters })),
      },
    ];
  }
  config.maxOutputTokens = req.maxOutputTokens;
  config.automaticContinuation = false;
  return config;
}

/** `models/x` for `x`, as the SDK's `tModel` does (already-prefixed names are kept). */
function modelPath(model: string): string {
  return model.startsWith("models/") || model.startsWith("tunedModels/") ? model : `models/${model}`;
}

/** The JSON body the SDK sends for `req` (key order as the SDK writes it). */
export function geminiRequestBody(req: ModelRequest): Record<string, unknown> {
  const body: Record<string, unknown> = { contents: toGeminiContents(req.messages) };
  if (req.system) body.systemInstruction = { parts: [{ text: req.system }], role: "user" };
  const config = toConfig(req);
  if (config.tools) body.tools = config.tools;
  body.generationConfig = { maxOutputTokens: req.maxOutputTokens };
  return body;
}

/** `"7s"` / `"1.5s"` (a protobuf Duration in JSON) → milliseconds; null when absent or malformed. */
export function parseRetryDelay(delay: unknown): number | null {
  if (typeof delay !== "string") return null;
  const m = delay.trim().match(/^(\d+(?:\.\d+)?)s$/);
  return m ? Math.round(Number(m[1]) * 1000) : null;
}

/** The `error` object inside an `ApiError` message: the whole body as JSON, or `got status: X. <json>` mid-stream. */
export function parseGoogleError(message: string): GoogleErrorBody {
  const start = message.indexOf("{");
  if (start < 0) return { message };
  try {
    const parsed = JSON.parse(message.slice(start)) as { error?: GoogleErrorBody };
    return parsed.error && typeof parsed.error === "object" ? parsed.error : { message };
  } catch {
    return { message };
  }
}

function detailOf(body: GoogleErrorBody, type: string): Record<string, unknown> | undefined {
  return body.details?.find((d) => typeof d["@type"] === "string" && (d["@type"] as string).endsWith(`google.rpc.${type}`));
}

/** Where a failure happened: before the stream opened (HTTP status errors, connection errors) or while reading it. */
type Stage = "request" | "stream";

/** Any failure the SDK (or fetch under it) raises → a `ModelError` with a reason code, the key redacted. */
export function toModelError(e: unknown, ctx: { stage: Stage; signal: AbortSignal; apiKey: string; timeoutMs: number }): ModelError {
  if (e instanceof ModelError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  const clean = (s: string) => redactKey(s, ctx.apiKey);
  if (ctx.signal.aborted) return new ModelError("responder_model_aborted", "gemini: call aborted by tau", { retryable: false });
  if (err.name === "AbortError" || err.name === "TimeoutError") {
    return new ModelError("responder_model_timeout", `gemini: no complete answer within ${ctx.timeoutMs} ms`, { retryable: true });
  }
  const status = (err as { status?: unknown }).status;
  if (err.name === "ApiError" && typeof status === "number") {
    const body = parseGoogleError(err.message);
    const text = clean(`gemini ${status}${body.status ? ` ${body.status}` : ""}: ${body.message ?? err.message}`);
    if (ctx.stage === "stream") return new ModelError("responder_model_stream_error", `${text} (mid-stream)`, { status, retryable: true });
    const info = detailOf(body, "ErrorInfo");
    if (info?.reason === "API_KEY_INVALID") return new ModelError("responder_model_auth_failed", text, { status, retryable: false });
    if (status === 429) {
      const retryAfterMs = parseRetryDelay(detailOf(body, "RetryInfo")?.retryDelay);
      return new ModelError("responder_model_rate_limited", text, { status, retryable: true, retryAfterMs });
    }
    if (status === 400 && /token count|exceeds the maximum|too long|context/i.test(body.message ?? "")) {
      return new ModelError("responder_model_context_too_long", text, { status, retryable: false });
    }
    const { reason, retryable } = reasonForStatus(status);
    return new ModelError(reason, text, { status, retryable });
  }
  if (ctx.stage === "stream") {
    return new ModelError("responder_model_stream_error", clean(`gemini: stream broke: ${err.message}`), { retryable: true });
  }
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (err.name === "TypeError" || typeof cause?.code === "string") {
    const why = typeof cause?.message === "string" ? `${err.message} (${cause.message})` : err.message;
    return new ModelError("responder_model_unavailable", clean(`gemini: connection failed: ${why}`), { retryable: true });
  }
  return new ModelError("responder_model_bad_request", clean(`gemini: request refused by the SDK: ${err.message}`), { retryable: false });
}

/** Collects streamed chunks into one answer. */
class Turn {
  text = "";
  toolCalls: ToolCall[] = [];
  parts: Part[] = [];
  finishReason: string | undefined;
  blockReason: string | undefined;
  blockMessage: string | undefined;
  usage: GenerateContentResponse["usageMetadata"];
  requestId: string | null = null;
  private started = false;
  constructor(private readonly onFirstToken?: () => void) {}

  private first(): void {
    if (this.started) return;
    this.started = true;
    this.onFirstToken?.();
  }

  add(chunk: GenerateContentResponse): void {
    if (chunk.responseId) this.requestId = chunk.responseId;
    if (chunk.usageMetadata) this.usage = chunk.usageMetadata;
    if (chunk.promptFeedback?.blockReason) {
      this.blockReason = chunk.promptFeedback.blockReason;
      this.blockMessage = chunk.promptFeedback.blockReasonMessage;
    }
    const cand = chunk.candidates?.[0];
    if (!cand) return;
    for (const part of cand.content?.parts ?? []) {
      this.parts.push(part);
      if (part.functionCall) {
        const fc = part.functionCall;
        this.toolCalls.push({
          id: fc.id || `call_${this.toolCalls.length}`,
          name: fc.name ?? "",
          argumentsJson: JSON.stringify(fc.args ?? {}),
        });
        this.first();
      } else if (typeof part.text === "string" && !part.thought) {
        this.text += part.text;
        if (part.text.length > 0) this.first();
      }
    }
    if (cand.finishReason) this.finishReason = cand.finishReason;
  }

  answer(): ModelAnswer {
    if (!this.finishReason && this.blockReason) {
      const why = this.blockMessage ? `: ${this.blockMessage}` : "";
      throw new ModelError("responder_model_blocked", `gemini: prompt blocked (${this.blockReason})${why}`, { retryable: false });
    }
    if (!this.finishReason) {
      throw new ModelError("responder_model_stream_error", "gemini: stream ended without a finishReason", { retryable: true });
    }
    const u = this.usage;
    const usage: ModelUsage = {
      inputTokens: u?.promptTokenCount ?? 0,
      outputTokens: (u?.candidatesTokenCount ?? 0) + (u?.thoughtsTokenCount ?? 0),
      cachedInputTokens: u?.cachedContentTokenCount ?? 0,
    };
    return {
      text: this.text,
      toolCalls: this.toolCalls,
      finish: this.toolCalls.length > 0 ? "tool_calls" : finishOf(this.finishReason),
      usage,
      requestId: this.requestId,
      providerParts: this.parts,
    };
  }
}

function finishOf(reason: string): FinishReason {
  if (reason === "STOP") return "stop";
  if (reason === "MAX_TOKENS") return "length";
  if (FILTERED.has(reason)) return "content_filter";
  return "other";
}

/** The SDK client for `opts`, imported and built on first use (a failed import is tried again next time). */
function lazyGenAI(opts: ModelClientOptions, baseUrl: string): () => Promise<GoogleGenAI> {
  let loaded: Promise<GoogleGenAI> | null = null;
  return () => {
    loaded ??= import("@google/genai").then(
      (mod: GenAiModule) =>
        new mod.GoogleGenAI({
          vertexai: false,
          apiKey: opts.apiKey,
          httpOptions: {
            baseUrl,
            timeout: opts.timeoutMs,
            ...(opts.maxRetries > 0 ? { retryOptions: { attempts: opts.maxRetries + 1 } } : {}),
          },
        }),
      (e: unknown) => {
        loaded = null;
        throw e;
      },
    );
    return loaded;
  };
}

/** A `ModelClient` for the Gemini Developer API (`x-goog-api-key`, `v1beta`) at `opts.baseUrl`. */
export function createGeminiClient(opts: ModelClientOptions): ModelClient {
  const baseUrl = opts.baseUrl.endsWith("/") ? opts.baseUrl.slice(0, -1) : opts.baseUrl;
  const client = lazyGenAI(opts, baseUrl);
  const fail = (e: unknown, stage: Stage, signal: AbortSignal, timeoutMs: number) =>
    toModelError(e, { stage, signal, apiKey: opts.apiKey, timeoutMs });

  return {
    provider: "gemini",

    acceptsMedia: (mime) => GEMINI_MEDIA_TYPES.has(baseMime(mime)),

    async complete(req, { signal, onFirstToken }) {
      if (signal.aborted) throw new ModelError("responder_model_aborted", "gemini: call aborted by tau", { retryable: false });
      // Media Gemini does not take is refused here, before the SDK is even loaded.
      const contents = toGeminiContents(req.messages);
      let stage: Stage = "request";
      try {
        const ai = await client();
        const stream = await ai.models.generateContentStream({
          model: req.model,
          contents,
          config: { ...toConfig(req), abortSignal: signal },
        });
        stage = "stream";
        const turn = new Turn(onFirstToken);
        for await (const chunk of stream) turn.add(chunk);
        return turn.answer();
      } catch (e) {
        throw fail(e, stage, signal, opts.timeoutMs);
      }
    },

    describe(req): DescribedRequest {
      return {
        method: "POST",
        url: `${baseUrl}/v1beta/${modelPath(req.model)}:streamGenerateContent?alt=sse`,
        headers: { "x-goog-api-key": "<redacted>", "content-type": "application/json" },
        body: geminiRequestBody(req),
      };
    },

    async probe(signal) {
      const timeoutMs = Math.min(opts.timeoutMs, PROBE_TIMEOUT_MS);
      try {
        const ai = await client();
        const pager = await ai.models.list({
          config: { pageSize: 100, abortSignal: signal, httpOptions: { timeout: timeoutMs, retryOptions: { attempts: 1 } } },
        });
        return { ok: true, detail: `gemini: ${pager.pageLength} model(s) listed at ${baseUrl}` };
      } catch (e) {
        const me = fail(e, "request", signal, timeoutMs);
        return { ok: false, reason: me.reason as ModelReason, detail: me.message };
      }
    },
  };
}

/**
 * The transcript in a `generateContent` answer: the non-thought text parts of the first candidate, trimmed. A blocked
 * prompt or a filtered answer is `blocked`; an answer with no candidate at all is a broken answer.
 */
export function transcriptOf(res: GenerateContentResponse): { text: string; usage: ModelUsage } {
  const cand = res.candidates?.[0];
  const block = res.promptFeedback?.blockReason;
  if (!cand && block) throw new ModelError("responder_model_blocked", `gemini: audio blocked (${block})`, { retryable: false });
  if (!cand) throw new ModelError("responder_model_stream_error", "gemini: the transcription answer has no candidate", { retryable: true });
  if (cand.finishReason && FILTERED.has(cand.finishReason)) {
    throw new ModelError("responder_model_blocked", `gemini: transcript withheld (${cand.finishReason})`, { retryable: false });
  }
  const text = (cand.content?.parts ?? [])
    .filter((p) => typeof p.text === "string" && !p.thought)
    .map((p) => p.text)
    .join("");
  const u = res.usageMetadata;
  return {
    text: text.trim(),
    usage: {
      inputTokens: u?.promptTokenCount ?? 0,
      outputTokens: (u?.candidatesTokenCount ?? 0) + (u?.thoughtsTokenCount ?? 0),
      cachedInputTokens: u?.cachedContentTokenCount ?? 0,
    },
  };
}

/**
 * Speech to text with Gemini: one non-streamed `generateContent` whose user turn is {@link TRANSCRIBE_INSTRUCTION}
 * then the audio as `inlineData` (base64). Failures map as chat calls do; a type Gemini does not take inline is
 * refused before any call.
 */
export function createGeminiTranscriptionClient(opts: ModelClientOptions & { model: string }): TranscriptionClient {
  const baseUrl = opts.baseUrl.endsWith("/") ? opts.baseUrl.slice(0, -1) : opts.baseUrl;
  const client = lazyGenAI(opts, baseUrl);
  return {
    provider: "gemini",
    async transcribe(audio, { signal }) {
      if (signal.aborted) throw new ModelError("responder_model_aborted", "gemini: call aborted by tau", { retryable: false });
      const mimeType = baseMime(audio.mime);
      if (!GEMINI_MEDIA_TYPES.has(mimeType) || !/^(audio|video)\//.test(mimeType)) {
        throw new ModelError("responder_model_bad_request", `gemini: ${audio.mime} is not an audio type Gemini takes inline`);
      }
      const data = Buffer.from(audio.bytes.buffer, audio.bytes.byteOffset, audio.bytes.byteLength).toString("base64");
      try {
        const ai = await client();
        const res = await ai.models.generateContent({
          model: opts.model,
          contents: [{ parts: [{ text: TRANSCRIBE_INSTRUCTION }, { inlineData: { mimeType, data } }], role: "user" }],
          config: { abortSignal: signal },
        });
        return transcriptOf(res);
      } catch (e) {
        throw toModelError(e, { stage: "request", signal, apiKey: opts.apiKey, timeoutMs: opts.timeoutMs });
      }
    },
  };
}
