/**
 * @module The wire shapes of the fake OpenAI-compatible server (`openai-server.ts`): answer planning (token
 * counts, `max_completion_tokens` truncation), the non-stream body, the exact SSE chunk sequence OpenAI sends and
 * the error bodies of each server variant (PROVIDERS.md §9.2, §9.8). Kept apart so the server file stays about
 * routing, scripting and sockets.
 */

/**
 * Which server the fake behaves like (PROVIDERS.md §9.2 2.5, §9.3): `whisper.cpp` is whisper.cpp's `whisper-server`
 * (transcription only, at `/inference` and `/v1/audio/transcriptions`, no auth, `{"error":"…"}` bodies).
 */
export type OpenAIServerMode = "openai" | "ollama" | "vllm-old" | "whisper.cpp";

/** A tool call the scripted model makes; `arguments` is the JSON text, sent as is (it may be invalid on purpose). */
export interface ScriptedToolCall {
  name: string;
  arguments: string;
  /** Default: `call_<n>` (a per-server counter). */
  id?: string;
}

/** One scripted model answer. */
export interface ScriptedReply {
  text?: string;
  /** The exact text deltas to stream (their concatenation is the text); default: `text` split after each word. */
  deltas?: string[];
  toolCalls?: ScriptedToolCall[];
  /** Reasoning text, sent as `reasoning` (ollama) or `reasoning_content` (vllm-old) deltas; openai mode drops it. */
  reasoning?: string;
  /** Default `tool_calls` when there are tool calls, else `stop` (or `length` after truncation). */
  finishReason?: "stop" | "length" | "tool_calls" | "content_filter";
  /** Default: prompt = ⌈chars of messages+tools JSON / 4⌉, completion = ⌈chars of text+arguments / 4⌉, cached = 0. */
  usage?: { promptTokens?: number; completionTokens?: number; cachedTokens?: number };
  /** Wait this long before the response starts (a model thinking). */
  delayMs?: number;
  /** Wait this long before each SSE frame after the first (a slow model). */
  chunkDelayMs?: number;
  /** Size of each tool-call `arguments` fragment in openai / vllm-old modes. Default 8. */
  argumentChunk?: number;
}

/** A scripted HTTP failure. Without `body`, the body is built in the server mode's error shape. */
export interface FailSpec {
  status: number;
  message?: string;
  type?: string;
  code?: string | number | null;
  param?: string | null;
  /** Sent verbatim: a string as `text/html`, anything else as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** The parsed request body, as far as the fake reads it. */
export interface ChatBody {
  model?: unknown;
  messages?: unknown;
  tools?: unknown;
  stream?: unknown;
  stream_options?: { include_usage?: unknown } | null;
  max_completion_tokens?: unknown;
  max_tokens?: unknown;
  [key: string]: unknown;
}

/** An answer with every value decided. */
export interface PlannedAnswer {
  text: string;
  deltas: string[];
  toolCalls: Array<{ id: string; name: string; arguments: string }>;
  reasoning: string;
  finish: string;
  usage: Record<string, unknown>;
}

/** The fake's tokenizer: four characters a token. */
export const estimateTokens = (text: string): number => Math.ceil(text.length / 4);

/** `"Checking the web"` → `["Checking ", "the ", "web"]`. */
export function splitWords(text: string): string[] {
  return text.match(/\s*\S+\s*|\s+/g) ?? [];
}

function splitEvery(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** Decide text, tool calls, finish and usage; the token limit is `max_completion_tokens`, which Ollama does not parse. */
export function planAnswer(mode: OpenAIServerMode, reply: ScriptedReply, body: ChatBody, nextCallId: () => string): PlannedAnswer {
  let text = reply.text ?? reply.deltas?.join("") ?? "";
  let deltas = reply.deltas && reply.deltas.join("") === text ? reply.deltas : splitWords(text);
  const rawLimit = mode === "ollama" ? body.max_tokens : (body.max_completion_tokens ?? body.max_tokens);
  const limit = typeof rawLimit === "number" ? rawLimit : null;
  let finish = reply.finishReason ?? (reply.toolCalls?.length ? "tool_calls" : "stop");
  if (limit !== null && estimateTokens(text) > limit) {
    text = text.slice(0, limit * 4);
    deltas = splitWords(text);
    finish = "length";
  }
  const toolCalls = (reply.toolCalls ?? []).map((c) => ({ id: c.id ?? nextCallId(), name: c.name, arguments: c.arguments }));
  const promptTokens = reply.usage?.promptTokens ?? estimateTokens(JSON.stringify(body.messages ?? []) + JSON.stringify(body.tools ?? []));
  const completionTokens = reply.usage?.completionTokens ?? estimateTokens(text + toolCalls.map((c) => c.arguments).join(""));
  const cached = reply.usage?.cachedTokens ?? 0;
  const usage: Record<string, unknown> = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
  if (mode !== "ollama") {
    usage.prompt_tokens_details = { cached_tokens: cached, audio_tokens: 0 };
    usage.completion_tokens_details = {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    };
  }
  return { text, deltas, toolCalls, reasoning: mode === "openai" ? "" : (reply.reasoning ?? ""), finish, usage };
}

/** The non-streaming `chat.completion` object (PROVIDERS.md §9.2 2.2). */
export function completionBody(id: string, model: string, created: number, a: PlannedAnswer): Record<string, unknown> {
  const message: Record<string, unknown> = {
    role: "assistant",
    content: a.text === "" && a.toolCalls.length ? null : a.text,
    refusal: null,
  };
  if (a.toolCalls.length) {
    message.tool_calls = a.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } }));
  }
  return {
    id,
    object: "chat.completion",
    created,
    model,
    system_fingerprint: "fp_tau_fake",
    choices: [{ index: 0, message, logprobs: null, finish_reason: a.finish }],
    usage: a.usage,
  };
}

/** Builds `chat.completion.chunk` objects sharing id/created/model; `usage:null` on each when usage is included. */
export function chunkMaker(id: string, model: string, created: number, includeUsage: boolean) {
  return (choices: unknown[], usage?: unknown): Record<string, unknown> => {
    const chunk: Record<string, unknown> = {
      id,
      object: "chat.completion.chunk",
      created,
      model,
      system_fingerprint: "fp_tau_fake",
      choices,
    };
    if (includeUsage) chunk.usage = usage ?? null;
    return chunk;
  };
}

const choice = (delta: Record<string, unknown>, finish: string | null = null) => ({
  index: 0,
  delta,
  logprobs: null,
  finish_reason: finish,
});

/** The role chunk plus the text deltas: how every stream begins (also the part sent before a cut or an error). */
export function openingFrames(mode: OpenAIServerMode, make: ReturnType<typeof chunkMaker>, a: Pick<PlannedAnswer, "deltas" | "reasoning">) {
  const first: Record<string, unknown> =
    mode === "ollama" ? { role: "assistant", content: "" } : { role: "assistant", content: "", refusal: null };
  const frames = [make([choice(first)])];
  const reasoningKey = mode === "ollama" ? "reasoning" : "reasoning_content";
  for (const r of a.reasoning ? splitWords(a.reasoning) : []) frames.push(make([choice({ [reasoningKey]: r })]));
  for (const d of a.deltas) frames.push(make([choice({ content: d })]));
  return frames;
}

/**
 * The full chunk sequence (PROVIDERS.md §9.2 2.3): role, text deltas, each tool call opened with
 * `index,id,type,function{name,arguments:""}` then `index`+`arguments` fragments (Ollama: all calls whole in
 * one delta), a `delta:{}` finish chunk, then a `choices:[]` usage chunk when `include_usage`. `[DONE]` is the
 * server's to write.
 */
export function streamFrames(
  mode: OpenAIServerMode,
  make: ReturnType<typeof chunkMaker>,
  a: PlannedAnswer,
  includeUsage: boolean,
  argumentChunk = 8,
) {
  const frames = openingFrames(mode, make, a);
  if (mode === "ollama" && a.toolCalls.length) {
    const calls = a.toolCalls.map((c, index) => ({
      index,
      id: c.id,
      type: "function",
      function: { name: c.name, arguments: c.arguments },
    }));
    frames.push(make([choice({ tool_calls: calls })]));
  } else {
    a.toolCalls.forEach((c, index) => {
      frames.push(make([choice({ tool_calls: [{ index, id: c.id, type: "function", function: { name: c.name, arguments: "" } }] })]));
      for (const part of splitEvery(c.arguments, Math.max(1, argumentChunk))) {
        frames.push(make([choice({ tool_calls: [{ index, function: { arguments: part } }] })]));
      }
    });
  }
  frames.push(make([choice({}, a.finish)]));
  if (includeUsage) frames.push(make([], a.usage));
  return frames;
}

/**
 * The error body in the mode's shape: OpenAI/Ollama `{error:{message,type,param,code}}`, old vLLM top-level with an
 * int code, whisper.cpp `{error:"<message>"}`.
 */
export function errorBody(mode: OpenAIServerMode, f: FailSpec): unknown {
  if (f.body !== undefined) return f.body;
  const message = f.message ?? `fake error ${f.status}`;
  if (mode === "whisper.cpp") return { error: message };
  const type = f.type ?? (f.status >= 500 ? "server_error" : "invalid_request_error");
  if (mode === "vllm-old") return { object: "error", message, type, param: f.param ?? null, code: f.status };
  if (mode === "ollama") return { error: { message, type: f.status >= 500 ? "api_error" : type, param: null, code: null } };
  return { error: { message, type, param: f.param ?? null, code: f.code ?? null } };
}

/** 429 `rate_limit_exceeded` with `retry-after-ms` (and `retry-after` in whole seconds) plus `x-ratelimit-*`. */
export function rateLimitFailure(retryAfterMs = 20): FailSpec {
  return {
    status: 429,
    type: "requests",
    code: "rate_limit_exceeded",
    message: "Rate limit reached for gpt-test in organization org-test on requests per min (RPM): Limit 3, Used 3, Requested 1.",
    headers: {
      "retry-after-ms": String(retryAfterMs),
      "retry-after": String(Math.ceil(retryAfterMs / 1000)),
      "x-ratelimit-limit-requests": "3",
      "x-ratelimit-remaining-requests": "0",
      "x-ratelimit-reset-requests": `${retryAfterMs}ms`,
    },
  };
}

/** 429 `insufficient_quota`, with `x-should-retry:false` so the SDK does not retry it (PROVIDERS.md §9.2 2.4). */
export function quotaFailure(): FailSpec {
  return {
    status: 429,
    type: "insufficient_quota",
    code: "insufficient_quota",
    message: "You exceeded your current quota, please check your plan and billing details.",
    headers: { "x-should-retry": "false" },
  };
}

/** 400 `context_length_exceeded`, as OpenAI words it. */
export function contextFailure(): FailSpec {
  return {
    status: 400,
    type: "invalid_request_error",
    code: "context_length_exceeded",
    param: "messages",
    message:
      "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens. Please reduce the length of the messages.",
  };
}

/** A proxy's HTML error page (502/503), the body the SDK cannot parse. */
export function htmlFailure(status = 503): FailSpec {
  return { status, body: `<html><head><title>${status} Service Unavailable</title></head><body><h1>${status}</h1></body></html>` };
}
