/**
 * @module The port every LLM adapter implements (`openai.ts`, `anthropic.ts`, `gemini.ts`, one SDK each, loaded on
 * first use): one provider-neutral conversation in, one answer out (text, tool calls, usage), every failure a
 * `ModelError` with a reason code. Retries belong to tau (the SDKs' own are bounded by `maxRetries`), so a
 * server-chosen `retry-after` can never stall a responder job for longer than tau allows (PROVIDERS.md §9.1).
 */

/** A tool the model may call: a capability, named with `.` replaced by `_`, its arguments as JSON Schema. */
export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of an object (`type: "object"`, `properties`, `required`, `additionalProperties: false`). */
  parameters: Record<string, unknown>;
}

/** One tool call the model asked for. `argumentsJson` is the raw JSON text (OpenAI sends a string; others an object, re-serialized). */
export interface ToolCall {
  id: string;
  name: string;
  argumentsJson: string;
}

/** Bytes sent to the model as data (never a platform URL, which carries the bot token): an image, audio or video. */
export interface InlineMedia {
  /** Detected from magic bytes, e.g. `image/png`, `audio/ogg`, `video/mp4`. */
  mime: string;
  base64: string;
}

/** The provider-neutral conversation. Tool results answer the calls of the assistant turn just before them. */
export type ChatMessage =
  | { role: "user"; text: string; media?: InlineMedia[] }
  | {
      role: "assistant";
      text: string;
      toolCalls?: ToolCall[];
      /**
       * Provider parts to echo back unchanged in the next request (Gemini `thoughtSignature` parts); opaque to tau.
       */
      providerParts?: unknown;
    }
  | { role: "tool"; callId: string; name: string; content: string; isError?: boolean };

export interface ModelRequest {
  model: string;
  system: string;
  messages: ChatMessage[];
  tools: ToolSpec[];
  maxOutputTokens: number;
}

/** Token counts with the provider's own meaning (PROVIDERS.md §9.7); output is the final cumulative value, never a sum of deltas. */
export interface ModelUsage {
  inputTokens: number;
  outputTokens: number;
  /** Cached input tokens when the provider reports them, else 0. */
  cachedInputTokens: number;
}

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter" | "other";

export interface ModelAnswer {
  text: string;
  toolCalls: ToolCall[];
  finish: FinishReason;
  usage: ModelUsage;
  /** Provider request id when the server sent one (`x-request-id`, `request-id`). */
  requestId: string | null;
  /** Provider parts of this turn to echo back (see `ChatMessage.providerParts`). */
  providerParts?: unknown;
}

export interface CallOptions {
  signal: AbortSignal;
  /** Called once, when the first streamed text or tool-call byte arrives (time to first token). */
  onFirstToken?: () => void;
}

/** The exact HTTP request an adapter would send, without credentials (dry-run records it). */
export interface DescribedRequest {
  method: "POST";
  url: string;
  /** Headers that matter, credentials replaced by `<redacted>`. */
  headers: Record<string, string>;
  body: unknown;
}

export interface ModelClient {
  readonly provider: "openai" | "anthropic" | "gemini";
  /**
   * Whether `complete` can take this media type as input (OpenAI: images; Anthropic: jpeg/png/gif/webp; Gemini:
   * images, audio and video). The caller never sends what is not accepted.
   */
  acceptsMedia(mime: string): boolean;
  /** One model turn, streamed where the provider streams; resolves with the whole answer or rejects with a ModelError. */
  complete(req: ModelRequest, opts: CallOptions): Promise<ModelAnswer>;
  /** The request `complete` would send, for dry-run and `tau route inspect`; makes no call. */
  describe(req: ModelRequest): DescribedRequest;
  /** A cheap authenticated probe (list models or a 1-token call) for `tau doctor --online` / `/tau auth status`. */
  probe(signal: AbortSignal): Promise<{ ok: true; detail: string } | { ok: false; reason: ModelReason; detail: string }>;
}

/** Speech to text: an OpenAI-compatible `/audio/transcriptions` endpoint (OpenAI, whisper.cpp, faster-whisper) or Gemini audio input. */
export interface TranscriptionClient {
  readonly provider: "openai" | "gemini";
  /** The transcript text (may be empty for silence); rejects with a ModelError. */
  transcribe(
    audio: { bytes: Uint8Array; mime: string; filename: string },
    opts: { signal: AbortSignal },
  ): Promise<{ text: string; usage: ModelUsage }>;
}

export interface ModelClientOptions {
  baseUrl: string;
  apiKey: string;
  /** Per attempt, client side. */
  timeoutMs: number;
  /** The SDK's own retries (its backoff honours `retry-after`); tau passes a small bound. */
  maxRetries: number;
}

/** Why a model call failed; each is a reason code on the trace, the audit record and `tau_responder_errors_total`. */
export const MODEL_REASONS = [
  "responder_model_auth_failed",
  "responder_model_rate_limited",
  "responder_model_quota_exceeded",
  "responder_model_unavailable",
  "responder_model_timeout",
  "responder_model_context_too_long",
  "responder_model_bad_request",
  "responder_model_stream_error",
  "responder_model_blocked",
  "responder_model_aborted",
] as const;
export type ModelReason = (typeof MODEL_REASONS)[number];

/** A failed model call. `retryable`: tau may try again later without harm (429, 5xx, timeouts, connection errors). */
export class ModelError extends Error {
  readonly reason: ModelReason;
  readonly status: number | null;
  readonly retryable: boolean;
  /** The wait the server asked for, when it said (`retry-after`, `retry-after-ms`, Gemini `RetryInfo.retryDelay`). */
  readonly retryAfterMs: number | null;
  constructor(
    reason: ModelReason,
    message: string,
    opts: { status?: number | null; retryable?: boolean; retryAfterMs?: number | null } = {},
  ) {
    super(message);
    this.name = "ModelError";
    this.reason = reason;
    this.status = opts.status ?? null;
    this.retryable = opts.retryable ?? false;
    this.retryAfterMs = opts.retryAfterMs ?? null;
  }
}

/** The reason for an HTTP status, shared by the adapters (each adds its provider's special cases first). */
export function reasonForStatus(status: number): { reason: ModelReason; retryable: boolean } {
  if (status === 401 || status === 403) return { reason: "responder_model_auth_failed", retryable: false };
  if (status === 429) return { reason: "responder_model_rate_limited", retryable: true };
  if (status === 408) return { reason: "responder_model_timeout", retryable: true };
  if (status === 413) return { reason: "responder_model_context_too_long", retryable: false };
  if (status >= 500) return { reason: "responder_model_unavailable", retryable: true };
  return { reason: "responder_model_bad_request", retryable: false };
}

/** Strip secrets from an error text before it reaches a log, a trace or a chat. */
export function redactKey(text: string, key: string): string {
  return key ? text.split(key).join("<redacted>") : text;
}
