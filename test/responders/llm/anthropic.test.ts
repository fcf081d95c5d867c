/**
 * @module The Anthropic adapter with the real `@anthropic-ai/sdk` 1.17.0 against the local Messages server: what goes on
 * the wire (body = `describe()`, no sampling params, merged tool results), how the stream is folded (text, tool_use from
 * `input_json_delta` pieces, final cumulative usage), and every failure's reason code, retry count and redaction.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAnthropicClient } from "../../../src/responders/llm/anthropic.ts";
import { ModelError, type ModelClientOptions, type ModelRequest } from "../../../src/responders/llm/model-client.ts";
import { startAnthropicServer, type AnthropicServerHandle } from "../../helpers/anthropic-server.ts";

const KEY = "sk-ant-test-0123456789abcdef";

let srv: AnthropicServerHandle;
beforeEach(async () => {
  srv = await startAnthropicServer({ apiKey: KEY });
});
afterEach(async () => {
  await srv.close();
});

const client = (o: Partial<ModelClientOptions> = {}) =>
  createAnthropicClient({ baseUrl: srv.url, apiKey: KEY, timeoutMs: 2_000, maxRetries: 0, ...o });
const signal = () => new AbortController().signal;
const messages = () => srv.requests.filter((r) => r.path === "/v1/messages");

const STATUS_TOOL = {
  name: "tau_status",
  description: "Service status",
  parameters: { type: "object", properties: { service: { type: "string" } }, required: ["service"], additionalProperties: false },
};
const baseReq = (o: Partial<ModelRequest> = {}): ModelRequest => ({
  model: "claude-test",
  system: "You are tau.",
  messages: [{ role: "user", text: "is web up?" }],
  tools: [],
  maxOutputTokens: 512,
  ...o,
});

async function failure(p: Promise<unknown>): Promise<ModelError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ModelError);
    return e as ModelError;
  }
  throw new Error("expected a ModelError");
}

describe("anthropic adapter: answers", () => {
  it("streams text with usage: input and cache from message_start, output the final cumulative value", async () => {
    srv.reply({ text: "All services are up, operator.", usage: { inputTokens: 42, outputTokens: 7, cacheReadInputTokens: 5 } });
    let first = 0;
    const a = await client().complete(baseReq(), { signal: signal(), onFirstToken: () => first++ });
    expect(a).toEqual({
      text: "All services are up, operator.",
      toolCalls: [],
      finish: "stop",
      usage: { inputTokens: 42, outputTokens: 7, cachedInputTokens: 5 },
      requestId: "req_000001",
    });
    expect(first).toBe(1);
    const sse = messages()[0]!.sse;
    // message_start said output_tokens 1 and the text came in several deltas: summing would not give 7.
    expect(sse.match(/event: text_delta|"type":"text_delta"/g)!.length).toBeGreaterThan(2);
    expect(sse).toContain('"output_tokens":1');
    expect(sse).toContain("event: ping");
  });

  it("folds tool_use from input_json_delta pieces into one call with re-serialized arguments", async () => {
    srv.reply({ text: "Let me check.", toolCalls: [{ name: "tau_status", input: { service: "web", detail: { verbose: true } } }] });
    let first = 0;
    const a = await client().complete(baseReq({ tools: [STATUS_TOOL] }), { signal: signal(), onFirstToken: () => first++ });
    expect(a.text).toBe("Let me check.");
    expect(a.finish).toBe("tool_calls");
    expect(a.toolCalls).toEqual([
      { id: "toolu_000001_0", name: "tau_status", argumentsJson: '{"service":"web","detail":{"verbose":true}}' },
    ]);
    expect(first).toBe(1);
    expect(messages()[0]!.sse.match(/"input_json_delta"/g)!.length).toBeGreaterThan(3);
  });

  it("a tool_use with no input fragments gives {}", async () => {
    srv.reply({ toolCalls: [{ name: "tau_status", input: {} }] });
    const a = await client().complete(baseReq({ tools: [STATUS_TOOL] }), { signal: signal() });
    expect(a.text).toBe("");
    expect(a.toolCalls[0]!.argumentsJson).toBe("{}");
  });

  it("tool results go back as ONE user turn of tool_result blocks after the assistant's tool_use turn", async () => {
    srv.reply({ text: "web is up, db is down." });
    const req = baseReq({
      tools: [STATUS_TOOL],
      messages: [
        { role: "user", text: "status of web and db?" },
        {
          role: "assistant",
          text: "Checking both.",
          toolCalls: [
            { id: "toolu_a", name: "tau_status", argumentsJson: '{"service":"web"}' },
            { id: "toolu_b", name: "tau_status", argumentsJson: '{"service":"db"}' },
          ],
        },
        { role: "tool", callId: "toolu_a", name: "tau_status", content: '{"up":true}' },
        { role: "tool", callId: "toolu_b", name: "tau_status", content: "connection refused", isError: true },
      ],
    });
    const a = await client().complete(req, { signal: signal() });
    expect(a.text).toBe("web is up, db is down.");
    expect(messages()[0]!.body!.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "status of web and db?" }] },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Checking both." },
          { type: "tool_use", id: "toolu_a", name: "tau_status", input: { service: "web" } },
          { type: "tool_use", id: "toolu_b", name: "tau_status", input: { service: "db" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_a", content: '{"up":true}', is_error: false },
          { type: "tool_result", tool_use_id: "toolu_b", content: "connection refused", is_error: true },
        ],
      },
    ]);
  });

  it("describe() is exactly the body received (stream:true included), with redacted headers and no sampling params", async () => {
    const c = client({ baseUrl: `${srv.url}/` });
    const req = baseReq({ tools: [STATUS_TOOL] });
    await c.complete(req, { signal: signal() });
    const got = messages()[0]!;
    const d = c.describe(req);
    expect(d).toEqual({
      method: "POST",
      url: `${srv.url}/v1/messages`,
      headers: { authorization: "Bearer <redacted>", "anthropic-version": "2026-10-21", "content-type": "application/json" },
      body: got.body,
    });
    expect(got.body).toEqual({
      model: "claude-test",
      max_tokens: 512,
      system: "You are tau.",
      messages: [{ role: "user", content: [{ type: "text", text: "is web up?" }] }],
      tools: [{ name: "tau_status", description: "Service status", input_schema: STATUS_TOOL.parameters }],
      tool_choice: { type: "auto" },
      stream: true,
    });
    expect(got.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(got.headers["anthropic-version"]).toBe("2026-10-21");
    expect(got.headers["content-type"]).toBe("application/json");
    expect(JSON.stringify(d)).not.toContain(KEY);
  });

  it("sends no tools/tool_choice without tools and never temperature/top_p/top_k", async () => {
    await client().complete(baseReq(), { signal: signal() });
    const body = messages()[0]!.body!;
    expect(Object.keys(body).sort()).toEqual(["max_tokens", "messages", "model", "stream", "system"]);
  });

  it("probe lists one model; a bad key probes as auth_failed", async () => {
    expect(await client().probe(signal())).toEqual({ ok: true, detail: "models endpoint answered (first: claude-test)" });
    expect(srv.requests[0]!.path).toBe("/v1/models?limit=1");
    const bad = await client({ apiKey: "sk-ant-wrong-key-999" }).probe(signal());
    expect(bad).toMatchObject({ ok: false, reason: "responder_model_auth_failed" });
    expect(JSON.stringify(bad)).not.toContain("sk-ant-wrong-key-999");
  });
});

describe("anthropic adapter: failures", () => {
  it("401 is not retried, is auth_failed, and the key never shows", async () => {
    const key = "sk-ant-wrong-key-999";
    const e = await failure(client({ apiKey: key, maxRetries: 2 }).complete(baseReq(), { signal: signal() }));
    expect(e).toMatchObject({ reason: "responder_model_auth_failed", status: 401, retryable: false });
    expect(e.message).toContain("invalid x-api-key");
    expect(e.message).not.toContain(key);
    expect(messages()).toHaveLength(1);
  });

  it("429 is retried by the SDK (retry-after honoured), then rate_limited with retryAfterMs", async () => {
    srv.failNext({ status: 429, headers: { "retry-after": "0.02" }, times: 2 });
    const e = await failure(client({ maxRetries: 1 }).complete(baseReq(), { signal: signal() }));
    expect(e).toMatchObject({ reason: "responder_model_rate_limited", status: 429, retryable: true, retryAfterMs: 20 });
    expect(messages().map((r) => r.retryCount)).toEqual([0, 1]);
  });

  it("a 429 then a good answer succeeds within the SDK's retries", async () => {
    srv.failNext({ status: 429, headers: { "retry-after": "0.01" } });
    srv.reply({ text: "fine" });
    const a = await client({ maxRetries: 1 }).complete(baseReq(), { signal: signal() });
    expect(a.text).toBe("fine");
    expect(messages().map((r) => r.status)).toEqual([429, 200]);
  });

  it("529 overloaded and 500 are unavailable and retryable", async () => {
    srv.failNext({ status: 529 });
    expect(await failure(client().complete(baseReq(), { signal: signal() }))).toMatchObject({
      reason: "responder_model_unavailable",
      status: 529,
      retryable: true,
    });
    srv.failNext({ status: 500 });
    expect(await failure(client().complete(baseReq(), { signal: signal() }))).toMatchObject({
      reason: "responder_model_unavailable",
      status: 500,
    });
  });

  it("400 'prompt is too long' and 413 are context_too_long; another 400 is bad_request", async () => {
    srv.failNext({ status: 400, message: "prompt is too long: 215000 tokens > 200000 maximum" });
    expect(await failure(client().complete(baseReq(), { signal: signal() }))).toMatchObject({
      reason: "responder_model_context_too_long",
      status: 400,
      retryable: false,
    });
    srv.failNext({ status: 413 });
    expect((await failure(client().complete(baseReq(), { signal: signal() }))).reason).toBe("responder_model_context_too_long");
    const e = await failure(client().complete(baseReq({ maxOutputTokens: 0 }), { signal: signal() }));
    expect(e).toMatchObject({ reason: "responder_model_bad_request", status: 400 });
    expect(e.message).toContain("max_tokens");
  });

  it("a server that never answers is a timeout", async () => {
    srv.hangNext();
    const e = await failure(client({ timeoutMs: 150 }).complete(baseReq(), { signal: signal() }));
    expect(e).toMatchObject({ reason: "responder_model_timeout", retryable: true });
  });

  it("a stream that stalls after its headers is a timeout (idle watchdog)", async () => {
    srv.hangNext({ midStream: true });
    let first = 0;
    const e = await failure(client({ timeoutMs: 150 }).complete(baseReq(), { signal: signal(), onFirstToken: () => first++ }));
    expect(e).toMatchObject({ reason: "responder_model_timeout", retryable: true });
    expect(first).toBe(1);
  });

  it("connection resets are retried, then unavailable", async () => {
    srv.resetNext({ times: 2 });
    const e = await failure(client({ maxRetries: 1 }).complete(baseReq(), { signal: signal() }));
    expect(e).toMatchObject({ reason: "responder_model_unavailable", retryable: true, status: null });
    expect(messages()).toHaveLength(2);
  });

  it("an `event: error` mid-stream is stream_error and is not retried", async () => {
    srv.midStreamErrorNext();
    const e = await failure(client({ maxRetries: 2 }).complete(baseReq(), { signal: signal() }));
    expect(e).toMatchObject({ reason: "responder_model_stream_error", status: null, retryable: true });
    expect(e.message).toContain("Overloaded");
    expect(messages()).toHaveLength(1);
  });

  it("a stream that ends without message_stop is stream_error", async () => {
    srv.cutStreamNext();
    const e = await failure(client().complete(baseReq(), { signal: signal() }));
    expect(e).toMatchObject({ reason: "responder_model_stream_error" });
    expect(e.message).toContain("message_stop");
  });

  it("abort before the headers and abort mid-stream are both `aborted`", async () => {
    srv.reply({ text: "slow", delayMs: 5_000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    expect((await failure(client().complete(baseReq(), { signal: ac.signal }))).reason).toBe("responder_model_aborted");

    srv.hangNext({ midStream: true });
    const ac2 = new AbortController();
    const e = await failure(client().complete(baseReq(), { signal: ac2.signal, onFirstToken: () => ac2.abort() }));
    expect(e.reason).toBe("responder_model_aborted");

    const ac3 = new AbortController();
    ac3.abort();
    expect((await failure(client().complete(baseReq(), { signal: ac3.signal }))).reason).toBe("responder_model_aborted");
  });
});

describe("anthropic server fidelity (raw HTTP)", () => {
  const post = (body: unknown, headers: Record<string, string>) =>
    fetch(`${srv.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  const ok = { model: "claude-test", max_tokens: 64, messages: [{ role: "user", content: "hi" }] };

  it("accepts x-api-key with 2023-06-01 and answers a non-stream message", async () => {
    const r = await post({ ...ok, temperature: 0.2 }, { "x-api-key": KEY, "anthropic-version": "2023-06-01" });
    expect(r.status).toBe(200);
    expect(r.headers.get("request-id")).toBe("req_000001");
    expect(await r.json()).toMatchObject({
      type: "message",
      role: "assistant",
      content: [{ type: "text", text: "echo: hi" }],
      stop_reason: "end_turn",
    });
  });

  it("under 2026-10-21 rejects temperature and a missing max_tokens; a bad key gets the error body", async () => {
    const h = { authorization: `Bearer ${KEY}`, "anthropic-version": "2026-10-21" };
    const t = await post({ ...ok, temperature: 1 }, h);
    expect(t.status).toBe(400);
    expect(await t.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" }, request_id: "req_000001" });
    const m = await post({ model: "claude-test", messages: ok.messages }, h);
    expect(m.status).toBe(400);
    expect(((await m.json()) as { error: { message: string } }).error.message).toContain("max_tokens");
    const k = await post(ok, { ...h, authorization: "Bearer nope" });
    expect(k.status).toBe(401);
    expect(await k.json()).toEqual({
      type: "error",
      error: { type: "authentication_error", message: "invalid x-api-key" },
      request_id: "req_000003",
    });
  });
});
