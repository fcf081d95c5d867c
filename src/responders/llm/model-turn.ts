/**
 * @module One answer from a model: the conversation (history + the new message), then up to `max_tool_steps` rounds
 * of tool calls run under the user's rights (`tools.ts`), then the final text. Every model call is reported (usage,
 * time to first token, latency, reason) whether it succeeded or not; every failure ends as a reason code, never a throw.
 */
import type { LlmResponderConfig } from "../../config/index.ts";
import type { Services } from "../../capabilities/services.ts";
import type { HistoryRow } from "../../store/index.ts";
import { ModelError, type ChatMessage, type ModelClient, type ModelRequest, type ModelUsage, type ToolSpec } from "./model-client.ts";
import { runToolCall, type ToolActor } from "./tools.ts";

/** One model call as telemetry sees it. */
export interface CallRecord {
  usage: ModelUsage;
  ttft_ms: number | null;
  latency_ms: number;
  reason: string;
}

export interface TurnResult {
  ok: boolean;
  /** `responder_replied`, `responder_model_empty_answer`, `responder_tool_loop_exceeded` or a model failure reason. */
  reason: string;
  /** The reply for the user (on failure: a short explanation without internals); empty = say nothing. */
  text: string;
  /** Approval prompts from tool calls, sent to the user as their own messages. */
  notices: string[];
  retryable: boolean;
  retryAfterMs: number | null;
}

export interface TurnInput {
  config: LlmResponderConfig;
  client: ModelClient;
  tools: ToolSpec[];
  history: HistoryRow[];
  userText: string;
  actor: ToolActor;
  services: Services;
  signal: AbortSignal;
  clock: () => number;
  onCall(record: CallRecord): void;
}

/** The request of the first model call (what dry-run records). */
export function firstRequest(config: LlmResponderConfig, tools: ToolSpec[], history: HistoryRow[], userText: string): ModelRequest {
  const messages: ChatMessage[] = history.map((h) => ({ role: h.role, text: h.content }));
  messages.push({ role: "user", text: userText });
  return {
    model: config.model,
    system: config.system_prompt,
    messages,
    tools: config.max_tool_steps > 0 ? tools : [],
    maxOutputTokens: config.max_output_tokens,
  };
}

/** What a user reads when the model could not answer: the cause in words, never a stack or a server path. */
const FAILURE_TEXT: Record<string, string> = {
  responder_model_auth_failed: "I cannot reach my model right now (its credentials were refused). An operator has been told by the logs.",
  responder_model_rate_limited: "My model is rate-limiting me right now. Please try again in a minute.",
  responder_model_quota_exceeded: "My model's quota is used up. An operator needs to look at it.",
  responder_model_unavailable: "My model is unavailable right now. Please try again in a few minutes.",
  responder_model_timeout: "My model took too long to answer. Please try again.",
  responder_model_context_too_long: "This conversation is too long for my model. Send /tau forget to start over.",
  responder_model_bad_request: "My model refused the request. An operator can see why in the trace.",
  responder_model_stream_error: "My model's answer broke off. Please try again.",
  responder_model_blocked: "My model declined to answer that.",
  responder_model_empty_answer: "I have no answer to that.",
};

export function failureText(reason: string): string {
  return FAILURE_TEXT[reason] ?? "I could not answer that. Please try again later.";
}

export async function runModelTurn(input: TurnInput): Promise<TurnResult> {
  const { config, client } = input;
  const req = firstRequest(config, input.tools, input.history, input.userText);
  const notices: string[] = [];
  for (let step = 0; ; step++) {
    const started = input.clock();
    let first: number | null = null;
    let answer;
    try {
      answer = await client.complete(req, {
        signal: input.signal,
        onFirstToken: () => {
          first ??= input.clock();
        },
      });
    } catch (err) {
      const e = err instanceof ModelError ? err : new ModelError("responder_model_bad_request", String((err as Error)?.message ?? err));
      input.onCall({
        usage: { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 },
        ttft_ms: null,
        latency_ms: input.clock() - started,
        reason: e.reason,
      });
      return { ok: false, reason: e.reason, text: failureText(e.reason), notices, retryable: e.retryable, retryAfterMs: e.retryAfterMs };
    }
    const latency = input.clock() - started;
    const ttft = first === null ? null : first - started;
    if (answer.toolCalls.length === 0) {
      const text = answer.text.trim();
      const reason = text ? "responder_replied" : "responder_model_empty_answer";
      input.onCall({ usage: answer.usage, ttft_ms: ttft, latency_ms: latency, reason });
      if (!text) return { ok: false, reason, text: failureText(reason), notices, retryable: false, retryAfterMs: null };
      return { ok: true, reason, text, notices, retryable: false, retryAfterMs: null };
    }
    input.onCall({ usage: answer.usage, ttft_ms: ttft, latency_ms: latency, reason: "responder_tool_calls" });
    if (step >= config.max_tool_steps) {
      const said = answer.text.trim();
      return {
        ok: false,
        reason: "responder_tool_loop_exceeded",
        text: said || `I stopped after ${config.max_tool_steps} rounds of tool calls without a final answer. Please ask more narrowly.`,
        notices,
        retryable: false,
        retryAfterMs: null,
      };
    }
    req.messages.push({ role: "assistant", text: answer.text, toolCalls: answer.toolCalls, providerParts: answer.providerParts });
    for (const call of answer.toolCalls) {
      const outcome = await runToolCall(call, config.tools, input.actor, input.services, input.clock());
      if (outcome.userNotice) notices.push(outcome.userNotice);
      req.messages.push({ role: "tool", callId: call.id, name: call.name, content: outcome.content, isError: outcome.isError });
    }
  }
}
