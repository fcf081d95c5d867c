/**
 * @module The Anthropic Messages adapter of the `ModelClient` port, on the official `@anthropic-ai/sdk` (the only file in
 * `src` that imports it, and only on first use, so a tau without an Anthropic route never loads it). Why it looks the way it
 * does (PROVIDERS.md §9.1, §9.4, §9.7):
 * - it streams with `messages.create({stream:true})` and folds the raw events itself, because the raw iterator ends quietly
 *   on a truncated stream while tau must call that an error (no `message_stop` → `stream_error`), and because usage must be
 *   the *final cumulative* `output_tokens`, never a sum;
 * - one body builder feeds both `complete` and `describe`, so dry-run shows exactly the bytes that would be sent;
 * - API version 2026-10-21 rejects `temperature`/`top_p`/`top_k` even at their defaults, so none is ever sent;
 * - the SDK's request timeout stops at the response headers, so a stream that stalls after them is cut by an idle watchdog
 *   of the same length (per attempt, client side) and reported as `timeout`;
 * - every failure leaves as a `ModelError` whose message has the key redacted;
 * - images (jpeg, png, gif, webp) go as base64 `image` blocks after the user's text block (§9.4 4.2); Anthropic caps
 *   each at 5 MB of *base64 text* (about 3.75 MB of image), which the caller's size limits must respect.
 */
import type Anthropic from "@anthropic-ai/sdk";
import {
  ModelError,
  reasonForStatus,
  redactKey,
  type CallOptions,
  type ChatMessage,
  type DescribedRequest,
  type FinishReason,
  type ModelAnswer,
  type ModelClient,
  type ModelClientOptions,
  type ModelReason,
  type ModelRequest,
  type ToolCall,
} from "./model-client.ts";

/** The API version SDK 1.17 sends (PROVIDERS.md §9.4 4.1); `describe` reports it. */
export const ANTHROPIC_VERSION = "2026-10-21";
/** Upper bound of the `probe` call, whatever the configured per-attempt timeout. */
export const PROBE_TIMEOUT_MS = 10_000;

type SdkModule = typeof import("@anthropic-ai/sdk");
type StreamEvent = Anthropic.Messages.RawMessageStreamEvent;

/** One content block of the Messages request body, as tau builds it. */
export type AnthropicBlock =
  | { type: "text"; text: string }
  | { type: "image"; source: { type: "base64"; media_type: string; data: string } }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> }
  | { type: "tool_result"; tool_use_id: string; content: string; is_error: boolean };

/** The exact JSON body tau sends to `POST /v1/messages`. */
export interface AnthropicBody {
  model: string;
  max_tokens: number;
  system?: string;
  messages: { role: "user" | "assistant"; content: AnthropicBlock[] }[];
  tools?: { name: string; description: string; input_schema: Record<string, unknown> }[];
  tool_choice?: { type: "auto" };
  stream: true;
}

/** Tool arguments as the object Anthropic requires (`{}` when the text is not a JSON object). */
function argumentsObject(json: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(json || "{}");
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The image types the Messages API takes; anything else is a 400 `invalid_request_error`. */
export const ANTHROPIC_IMAGE_TYPES: ReadonlySet<string> = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);

/** `Image/PNG; x=y` → `image/png`: the media type without parameters, lower case. */
const baseMime = (mime: string): string => (mime.split(";")[0] ?? "").trim().toLowerCase();

/** The user turn's blocks: the text block (left out when empty and there are images, as empty text is a 400), then the images. */
function userBlocks(m: Extract<ChatMessage, { role: "user" }>): AnthropicBlock[] {
  if (!m.media?.length) return [{ type: "text", text: m.text }];
  const blocks: AnthropicBlock[] = m.text === "" ? [] : [{ type: "text", text: m.text }];
  for (const x of m.media) {
    const mediaType = baseMime(x.mime);
    if (!ANTHROPIC_IMAGE_TYPES.has(mediaType)) {
      throw new ModelError("responder_model_bad_request", `anthropic: ${x.mime} is not an input type Claude takes (jpeg, png, gif, webp)`);
    }
    blocks.push({ type: "image", source: { type: "base64", media_type: mediaType, data: x.base64 } });
  }
  return blocks;
}

/** Map tau's conversation to Messages turns: tool results become one user turn of `tool_result` blocks per run of tool messages. */
export function toAnthropicMessages(messages: ChatMessage[]): AnthropicBody["messages"] {
  const out: AnthropicBody["messages"] = [];
  let toolTurn: AnthropicBlock[] | null = null;
  for (const m of messages) {
    if (m.role === "tool") {
      const block: AnthropicBlock = { type: "tool_result", tool_use_id: m.callId, content: m.content, is_error: m.isError ?? false };
      if (toolTurn) toolTurn.push(block);
      else out.push({ role: "user", content: (toolTurn = [block]) });
      continue;
    }
    toolTurn = null;
    if (m.role === "user") {
      out.push({ role: "user", content: userBlocks(m) });
      continue;
    }
    const content: AnthropicBlock[] = m.text ? [{ type: "text", text: m.text }] : [];
    for (const c of m.toolCalls ?? []) content.push({ type: "tool_use", id: c.id, name: c.name, input: argumentsObject(c.argumentsJson) });
    // The API rejects an empty assistant turn; one with nothing to say carries no information either.
    if (content.length) out.push({ role: "assistant", content });
  }
  return out;
}

/** The request body, shared by `complete` and `describe`; throws the `bad_request` ModelError for media not accepted. */
export function buildAnthropicBody(req: ModelRequest): AnthropicBody {
  const body: AnthropicBody = {
    model: req.model,
    max_tokens: req.maxOutputTokens,
    messages: toAnthropicMessages(req.messages),
    stream: true,
  };
  if (req.system) body.system = req.system;
  if (req.tools.length) {
    body.tools = req.tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.parameters }));
    body.tool_choice = { type: "auto" };
  }
  return body;
}

/** Anthropic `stop_reason` → tau's finish. */
export function finishFromStopReason(reason: string | null | undefined): FinishReason {
  switch (reason) {
    case "end_turn":
    case "stop_sequence":
      return "stop";
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "refusal":
      return "content_filter";
    default:
      return "other";
  }
}

/**
 * `retry-after-ms`, else `retry-after` in ms; null when absent or unreadable. An HTTP-date `retry-after` is measured
 * against the response's own `date` header (server clock against server clock, and no system clock read here).
 */
export function retryAfterFromHeaders(headers: Headers | undefined | null): number | null {
  const ms = headers?.get("retry-after-ms");
  if (ms && Number.isFinite(parseFloat(ms))) return Math.max(0, parseFloat(ms));
  const ra = headers?.get("retry-after");
  if (!ra) return null;
  const seconds = parseFloat(ra);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const at = Date.parse(ra);
  const sent = Date.parse(headers?.get("date") ?? "");
  return Number.isNaN(at) || Number.isNaN(sent) ? null : Math.max(0, at - sent);
}

const CONTEXT_RE = /prompt is too long|context/i;
const TRANSIENT_STREAM_ERRORS = new Set(["overloaded_error", "api_error", "rate_limit_error", "timeout_error"]);

/** Classify anything the SDK threw. `phase` says whether events had started to flow (a broken body is a stream error). */
function toModelError(sdk: SdkModule, e: unknown, apiKey: string, phase: "request" | "stream"): ModelError {
  const msg = (text: string) => redactKey(`anthropic: ${text}`, apiKey);
  if (e instanceof ModelError) return e;
  if (e instanceof sdk.APIUserAbortError) return new ModelError("responder_model_aborted", msg(e.message));
  if (e instanceof sdk.APIConnectionTimeoutError) return new ModelError("responder_model_timeout", msg(e.message), { retryable: true });
  if (e instanceof sdk.APIConnectionError) return new ModelError("responder_model_unavailable", msg(e.message), { retryable: true });
  if (e instanceof sdk.APIError) {
    const status = e.status;
    if (status === undefined) {
      // An `event: error` frame inside a 200 stream: the request was fine, the answer broke.
      const type = e.type ?? "";
      return new ModelError("responder_model_stream_error", msg(e.message), { retryable: TRANSIENT_STREAM_ERRORS.has(type) });
    }
    const retryAfterMs = retryAfterFromHeaders(e.headers);
    const text = `${e.apiMessage ?? ""} ${e.message}`;
    let reason: ModelReason;
    let retryable: boolean;
    if (status === 413 || (status === 400 && CONTEXT_RE.test(text))) [reason, retryable] = ["responder_model_context_too_long", false];
    else if (status === 402) [reason, retryable] = ["responder_model_quota_exceeded", false];
    else if (status === 529) [reason, retryable] = ["responder_model_unavailable", true];
    else ({ reason, retryable } = reasonForStatus(status));
    return new ModelError(reason, msg(e.message), { status, retryable, retryAfterMs });
  }
  const text = e instanceof Error ? e.message : String(e);
  if (phase === "stream") return new ModelError("responder_model_stream_error", msg(text), { retryable: true });
  return new ModelError("responder_model_bad_request", msg(text));
}

/** What the event fold has seen so far. */
interface Fold {
  text: string;
  tools: Map<number, { id: string; name: string; json: string; input: unknown; done: boolean }>;
  order: number[];
  stopReason: string | null;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  stopped: boolean;
  firstToken: boolean;
}

/** Fold one raw stream event into the answer; returns true when it carried the first text or tool byte. */
function foldEvent(f: Fold, ev: StreamEvent): boolean {
  switch (ev.type) {
    case "message_start": {
      const u = ev.message.usage;
      f.inputTokens = u?.input_tokens ?? 0;
      f.outputTokens = u?.output_tokens ?? 0;
      f.cachedInputTokens = u?.cache_read_input_tokens ?? 0;
      return false;
    }
    case "content_block_start": {
      const b = ev.content_block;
      if (b.type === "text") {
        f.text += b.text ?? "";
        return !!b.text;
      }
      if (b.type === "tool_use") {
        f.tools.set(ev.index, { id: b.id, name: b.name, json: "", input: b.input, done: false });
        f.order.push(ev.index);
        return true;
      }
      return false;
    }
    case "content_block_delta": {
      const d = ev.delta;
      if (d.type === "text_delta") {
        f.text += d.text;
        return d.text.length > 0;
      }
      if (d.type === "input_json_delta") {
        const t = f.tools.get(ev.index);
        if (t) t.json += d.partial_json;
        return true;
      }
      return false;
    }
    case "content_block_stop": {
      const t = f.tools.get(ev.index);
      if (t) t.done = true;
      return false;
    }
    case "message_delta": {
      f.stopReason = ev.delta.stop_reason ?? f.stopReason;
      // Cumulative counts: the last value wins.
      const u = ev.usage;
      if (typeof u?.output_tokens === "number") f.outputTokens = u.output_tokens;
      if (typeof u?.input_tokens === "number") f.inputTokens = u.input_tokens;
      if (typeof u?.cache_read_input_tokens === "number") f.cachedInputTokens = u.cache_read_input_tokens;
      return false;
    }
    case "message_stop":
      f.stopped = true;
      return false;
    default:
      return false;
  }
}

/** The tool calls of a finished fold, arguments parsed at their block's stop and re-serialized (empty → `{}`). */
function toolCallsOf(f: Fold): ToolCall[] {
  return f.order.map((i) => {
    const t = f.tools.get(i)!;
    if (!t.done) throw new ModelError("responder_model_stream_error", `anthropic: tool_use block ${i} never stopped`, { retryable: true });
    let input: unknown;
    try {
      input = t.json ? JSON.parse(t.json) : t.input && typeof t.input === "object" ? t.input : {};
    } catch {
      throw new ModelError("responder_model_stream_error", `anthropic: tool_use ${t.name} sent arguments that are not JSON`, {
        retryable: true,
      });
    }
    return { id: t.id, name: t.name, argumentsJson: JSON.stringify(input ?? {}) };
  });
}

/** Create the Anthropic adapter; the SDK is imported and its client built on the first call. */
export function createAnthropicClient(opts: ModelClientOptions): ModelClient {
  const baseUrl = opts.baseUrl.replace(/\/+$/, "");
  let loaded: Promise<{ sdk: SdkModule; client: Anthropic }> | null = null;
  /** The SDK and its client, built once; a failed load is reported as `unavailable` and tried again next call. */
  const load = async () => {
    loaded ??= import("@anthropic-ai/sdk").then((sdk) => ({
      sdk,
      client: new sdk.default({
        apiKey: opts.apiKey,
        baseURL: baseUrl,
        timeout: opts.timeoutMs,
        maxRetries: opts.maxRetries,
        // tau reports failures itself; SDK console output would land in `--json` stdout.
        logLevel: "off",
      }),
    }));
    try {
      return await loaded;
    } catch (e) {
      loaded = null;
      throw new ModelError("responder_model_unavailable", redactKey(`anthropic: cannot load the SDK: ${errText(e)}`, opts.apiKey));
    }
  };

  async function complete(req: ModelRequest, call: CallOptions): Promise<ModelAnswer> {
    if (call.signal.aborted) throw new ModelError("responder_model_aborted", "anthropic: aborted before the call");
    // Media the API does not take is refused here, before the SDK is even loaded.
    const body = buildAnthropicBody(req) as unknown as Anthropic.Messages.MessageCreateParamsStreaming;
    const { sdk, client } = await load();
    const local = new AbortController();
    let stalled = false;
    const onAbort = () => local.abort();
    call.signal.addEventListener("abort", onAbort, { once: true });
    let watchdog: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        stalled = true;
        local.abort();
      }, opts.timeoutMs);
    };
    const f: Fold = {
      text: "",
      tools: new Map(),
      order: [],
      stopReason: null,
      inputTokens: 0,
      outputTokens: 0,
      cachedInputTokens: 0,
      stopped: false,
      firstToken: false,
    };
    let phase: "request" | "stream" = "request";
    try {
      const { data: stream, request_id } = await client.messages
        .create(body, { signal: local.signal, timeout: opts.timeoutMs, maxRetries: opts.maxRetries })
        .withResponse();
      phase = "stream";
      arm();
      for await (const ev of stream) {
        arm();
        if (foldEvent(f, ev) && !f.firstToken) {
          f.firstToken = true;
          call.onFirstToken?.();
        }
      }
      // The SDK ends the iteration quietly when the signal fires mid-stream; say why.
      if (call.signal.aborted) throw new ModelError("responder_model_aborted", "anthropic: aborted while streaming");
      if (stalled) throw stallError(opts.timeoutMs);
      if (!f.stopped) {
        throw new ModelError("responder_model_stream_error", "anthropic: stream ended without message_stop", { retryable: true });
      }
      return {
        text: f.text,
        toolCalls: toolCallsOf(f),
        finish: finishFromStopReason(f.stopReason),
        usage: { inputTokens: f.inputTokens, outputTokens: f.outputTokens, cachedInputTokens: f.cachedInputTokens },
        requestId: request_id ?? null,
      };
    } catch (e) {
      if (call.signal.aborted)
        throw new ModelError("responder_model_aborted", redactKey(`anthropic: aborted (${errText(e)})`, opts.apiKey));
      if (stalled) throw stallError(opts.timeoutMs);
      throw toModelError(sdk, e, opts.apiKey, phase);
    } finally {
      clearTimeout(watchdog);
      call.signal.removeEventListener("abort", onAbort);
    }
  }

  function describe(req: ModelRequest): DescribedRequest {
    return {
      method: "POST",
      url: `${baseUrl}/v1/messages`,
      headers: { authorization: "Bearer <redacted>", "anthropic-version": ANTHROPIC_VERSION, "content-type": "application/json" },
      body: buildAnthropicBody(req),
    };
  }

  async function probe(signal: AbortSignal): ReturnType<ModelClient["probe"]> {
    let sdk: SdkModule | null = null;
    try {
      const l = await load();
      sdk = l.sdk;
      const page = await l.client.models.list({ limit: 1 }, { signal, timeout: Math.min(opts.timeoutMs, PROBE_TIMEOUT_MS), maxRetries: 0 });
      const first = page.data[0]?.id;
      return { ok: true, detail: first ? `models endpoint answered (first: ${first})` : "models endpoint answered (no models listed)" };
    } catch (e) {
      const err = signal.aborted
        ? new ModelError("responder_model_aborted", "anthropic: probe aborted")
        : sdk
          ? toModelError(sdk, e, opts.apiKey, "request")
          : (e as ModelError); // only `load()` throws before `sdk` is set, and it throws a ModelError
      return { ok: false, reason: err.reason, detail: err.message };
    }
  }

  const acceptsMedia = (mime: string) => ANTHROPIC_IMAGE_TYPES.has(baseMime(mime));
  return { provider: "anthropic", acceptsMedia, complete, describe, probe };
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function stallError(ms: number): ModelError {
  return new ModelError("responder_model_timeout", `anthropic: stream stalled for ${ms} ms`, { retryable: true });
}
