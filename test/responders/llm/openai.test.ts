/**
 * @module The OpenAI adapter with the real `openai` SDK against the local OpenAI-compatible server
 * (`test/helpers/openai-server.ts`): streamed text, tool calls joined from fragments, usage, the exact request body,
 * every failure mapped to its ModelError reason (and retried or not, counted in requests), timeouts, aborts, and
 * the Ollama / old-vLLM / llama.cpp deviations. Proves what a responder relies on, over real HTTP on 127.0.0.1.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ModelClientOptions, ModelRequest, ToolSpec } from "../../../src/responders/llm/model-client.ts";
import { ModelError } from "../../../src/responders/llm/model-client.ts";
import { ChatStreamAccumulator, createOpenAIClient, retryAfterMsOf } from "../../../src/responders/llm/openai.ts";
import type { OpenAIServerHandle, StartOpenAIServerOptions } from "../../helpers/openai-server.ts";
import { contextFailure, htmlFailure, quotaFailure, rateLimitFailure, startOpenAIServer } from "../../helpers/openai-server.ts";

const STATUS_TOOL: ToolSpec = {
  name: "tau_status",
  description: "Service status",
  parameters: { type: "object", properties: { service: { type: "string" } }, required: ["service"], additionalProperties: false },
};

let server: OpenAIServerHandle;
const servers: OpenAIServerHandle[] = [];

async function start(opts?: StartOpenAIServerOptions): Promise<OpenAIServerHandle> {
  const s = await startOpenAIServer(opts);
  servers.push(s);
  return s;
}

beforeEach(async () => {
  server = await start();
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const client = (over: Partial<ModelClientOptions> = {}, s = server) =>
  createOpenAIClient({ baseUrl: s.url, apiKey: s.apiKey, timeoutMs: 5_000, maxRetries: 0, ...over });
const request = (over: Partial<ModelRequest> = {}): ModelRequest => ({
  model: "gpt-test",
  system: "You are tau.",
  messages: [{ role: "user", text: "status of web?" }],
  tools: [],
  maxOutputTokens: 256,
  ...over,
});
const call = (signal = new AbortController().signal) => ({ signal });

/** The ModelError a call rejects with. */
async function failure(p: Promise<unknown>): Promise<ModelError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ModelError);
  return e as ModelError;
}

describe("answers", () => {
  it("streams a plain text answer with usage and the request id", async () => {
    server.reply({ text: "All systems are up.", usage: { promptTokens: 42, completionTokens: 5, cachedTokens: 8 } });
    const answer = await client().complete(request(), call());
    expect(answer).toEqual({
      text: "All systems are up.",
      toolCalls: [],
      finish: "stop",
      usage: { inputTokens: 42, outputTokens: 5, cachedInputTokens: 8 },
      requestId: "req_1",
    });
    const [rec] = server.requests;
    expect(rec!.headers.authorization).toBe("Bearer sk-test-123");
    expect(rec!.headers.accept).toBe("application/json");
    expect(rec!.retryCount).toBe(0);
  });

  it("answers unscripted calls with the default responder, which tests can replace", async () => {
    const answer = await client().complete(request(), call());
    expect(answer.text).toBe("echo: status of web?");
    expect(answer.usage.outputTokens).toBe(5); // 20 characters / 4
    expect(answer.usage.inputTokens).toBeGreaterThan(0);
    server.setDefault((body) => ({ text: `model ${String(body.model)}` }));
    expect((await client().complete(request(), call())).text).toBe("model gpt-test");
  });

  it("joins a tool call's argument fragments", async () => {
    const args = '{"service":"web","verbose":true,"note":"a \\"quoted\\" word"}';
    server.reply({ toolCalls: [{ name: "tau_status", arguments: args }], argumentChunk: 5 });
    const answer = await client().complete(request({ tools: [STATUS_TOOL] }), call());
    expect(answer.toolCalls).toEqual([{ id: "call_1", name: "tau_status", argumentsJson: args }]);
    expect(answer.finish).toBe("tool_calls");
    expect(answer.text).toBe("");
  });

  it("keeps two tool calls of one turn apart, after the text", async () => {
    server.reply({
      text: "Checking both.",
      toolCalls: [
        { name: "tau_status", arguments: '{"service":"web"}', id: "call_web" },
        { name: "tau_status", arguments: '{"service":"db"}', id: "call_db" },
      ],
      argumentChunk: 3,
    });
    const answer = await client().complete(request({ tools: [STATUS_TOOL] }), call());
    expect(answer.text).toBe("Checking both.");
    expect(answer.toolCalls).toEqual([
      { id: "call_web", name: "tau_status", argumentsJson: '{"service":"web"}' },
      { id: "call_db", name: "tau_status", argumentsJson: '{"service":"db"}' },
    ]);
  });

  it("fires onFirstToken once, for text and for a tool-call-only answer", async () => {
    for (const reply of [
      { deltas: ["one ", "two ", "three ", "four"] },
      { toolCalls: [{ name: "tau_status", arguments: '{"service":"web"}' }] },
    ]) {
      server.reply(reply);
      let fired = 0;
      await client().complete(request({ tools: [STATUS_TOOL] }), { signal: new AbortController().signal, onFirstToken: () => fired++ });
      expect(fired).toBe(1);
    }
  });

  it("waits for a slow model within the timeout", async () => {
    server.reply({ text: "thought about it", delayMs: 150, chunkDelayMs: 30 });
    expect((await client({ timeoutMs: 1_000 }).complete(request(), call())).text).toBe("thought about it");
  });

  it("reports length when max_completion_tokens cuts the answer", async () => {
    server.reply({ text: "a long answer that goes on" });
    const answer = await client().complete(request({ maxOutputTokens: 2 }), call());
    expect(answer).toMatchObject({ text: "a long a", finish: "length" });
  });
});

describe("the request", () => {
  it("describe() is exactly the body the server received", async () => {
    const req = request({
      messages: [
        { role: "user", text: "status of web?" },
        { role: "assistant", text: "", toolCalls: [{ id: "call_0", name: "tau_status", argumentsJson: '{"service":"web"}' }] },
        { role: "tool", callId: "call_0", name: "tau_status", content: '{"ok":true}' },
        { role: "assistant", text: "Web is up." },
        { role: "user", text: "thanks" },
      ],
      tools: [STATUS_TOOL],
    });
    const c = client();
    await c.complete(req, call());
    const described = c.describe(req);
    expect(described).toEqual({
      method: "POST",
      url: `${server.url}/chat/completions`,
      headers: { authorization: "Bearer <redacted>", "content-type": "application/json" },
      body: {
        model: "gpt-test",
        messages: [
          { role: "system", content: "You are tau." },
          { role: "user", content: "status of web?" },
          {
            role: "assistant",
            content: null,
            tool_calls: [{ id: "call_0", type: "function", function: { name: "tau_status", arguments: '{"service":"web"}' } }],
          },
          { role: "tool", tool_call_id: "call_0", content: '{"ok":true}' },
          { role: "assistant", content: "Web is up." },
          { role: "user", content: "thanks" },
        ],
        tools: [{ type: "function", function: { name: "tau_status", description: "Service status", parameters: STATUS_TOOL.parameters } }],
        max_completion_tokens: 256,
        stream: true,
        stream_options: { include_usage: true },
      },
    });
    expect(server.chatRequests()[0]!.body).toEqual(described.body);
    expect(server.chatRequests()[0]!.path).toBe("/v1/chat/completions");
  });

  it("sends neither tools nor tool_choice when there are no tools", async () => {
    await client().complete(request(), call());
    const body = server.chatRequests()[0]!.body!;
    expect(Object.keys(body).sort()).toEqual(["max_completion_tokens", "messages", "model", "stream", "stream_options"]);
  });

  it("the fake enforces OpenAI's tool-call pairing (a 400 the adapter maps to bad_request)", async () => {
    const req = request({
      messages: [
        { role: "user", text: "status?" },
        { role: "assistant", text: "", toolCalls: [{ id: "call_0", name: "tau_status", argumentsJson: "{}" }] },
        { role: "user", text: "well?" },
      ],
    });
    const e = await failure(client().complete(req, call()));
    expect(e).toMatchObject({ reason: "responder_model_bad_request", status: 400, retryable: false });
    expect(e.message).toContain("did not have response messages: call_0");
  });
});

describe("failures", () => {
  it("401 is auth_failed, not retried, and the key never shows", async () => {
    const key = "sk-wrong-secret-key-999";
    const e = await failure(client({ apiKey: key, maxRetries: 2 }).complete(request(), call()));
    expect(e).toMatchObject({ reason: "responder_model_auth_failed", status: 401, retryable: false });
    expect(e.message).toContain("Incorrect API key provided: sk-wr***999");
    expect(server.requests).toHaveLength(1);
    // A server that echoes the whole key: redacted.
    server.failNext({ status: 401, message: `Incorrect API key provided: ${server.apiKey}`, code: "invalid_api_key" });
    const echoed = await failure(client().complete(request(), call()));
    expect(echoed.message).not.toContain(server.apiKey);
    expect(echoed.message).toContain("<redacted>");
  });

  it("a 429 is retried by the SDK after retry-after-ms, and is rate_limited once retries run out", async () => {
    server.failNext(rateLimitFailure(20));
    expect((await client({ maxRetries: 1 }).complete(request(), call())).text).toBe("echo: status of web?");
    expect(server.chatRequests().map((r) => [r.status, r.retryCount])).toEqual([
      [429, 0],
      [200, 1],
    ]);

    server.failNext(rateLimitFailure(20), 2);
    const e = await failure(client({ maxRetries: 1 }).complete(request(), call()));
    expect(e).toMatchObject({ reason: "responder_model_rate_limited", status: 429, retryable: true, retryAfterMs: 20 });
    expect(server.chatRequests()).toHaveLength(4);
  });

  it("insufficient_quota is quota_exceeded and not retried", async () => {
    server.failNext(quotaFailure());
    const e = await failure(client({ maxRetries: 2 }).complete(request(), call()));
    expect(e).toMatchObject({ reason: "responder_model_quota_exceeded", status: 429, retryable: false });
    expect(server.requests).toHaveLength(1);
  });

  it("400 context_length_exceeded is context_too_long", async () => {
    server.failNext(contextFailure());
    const e = await failure(client({ maxRetries: 2 }).complete(request(), call()));
    expect(e).toMatchObject({ reason: "responder_model_context_too_long", status: 400, retryable: false });
    expect(server.requests).toHaveLength(1);
  });

  it("503 with an HTML body is unavailable and retryable", async () => {
    server.failNext(htmlFailure(503));
    const e = await failure(client().complete(request(), call()));
    expect(e).toMatchObject({ reason: "responder_model_unavailable", status: 503, retryable: true });
    expect(e.message).toContain("503 <html>");
  });

  it("a hung server is a timeout", async () => {
    server.hangNext();
    const t0 = Date.now();
    const e = await failure(client({ timeoutMs: 200 }).complete(request(), call()));
    expect(e).toMatchObject({ reason: "responder_model_timeout", retryable: true });
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it("a stream that goes quiet after the headers is a timeout too (the SDK's timeout stops at the headers)", async () => {
    server.reply({ text: "one two three", chunkDelayMs: 500 });
    const e = await failure(client({ timeoutMs: 150 }).complete(request(), call()));
    expect(e).toMatchObject({ reason: "responder_model_timeout", retryable: true });
  });

  it("a reset connection is unavailable (retryable), and the SDK retries it when allowed", async () => {
    server.resetNext();
    const e = await failure(client().complete(request(), call()));
    expect(e).toMatchObject({ reason: "responder_model_unavailable", retryable: true, status: null });
    server.resetNext();
    expect((await client({ maxRetries: 1 }).complete(request(), call())).text).toBe("echo: status of web?");
    expect(server.requests).toHaveLength(3);
  });

  it("an error event inside the stream is stream_error, not retried", async () => {
    server.midStreamErrorNext({ text: "Partial ", message: "upstream model crashed" });
    const e = await failure(client({ maxRetries: 2 }).complete(request(), call()));
    expect(e).toMatchObject({ reason: "responder_model_stream_error", retryable: false, status: null });
    expect(e.message).toContain("upstream model crashed");
    expect(server.requests).toHaveLength(1);
  });

  it("a cut stream: empty is stream_error, partial text comes back as finish other, a dropped socket is stream_error", async () => {
    server.cutStreamNext();
    expect(await failure(client().complete(request(), call()))).toMatchObject({ reason: "responder_model_stream_error" });

    server.cutStreamNext({ text: "Partial answer" });
    expect(await client().complete(request(), call())).toMatchObject({ text: "Partial answer", finish: "other", toolCalls: [] });

    server.cutStreamNext({ text: "Partial answer", destroy: true });
    expect(await failure(client().complete(request(), call()))).toMatchObject({ reason: "responder_model_stream_error", retryable: true });
  });

  it("a stream that ends inside a tool call is stream_error (half a tool call never runs)", () => {
    const acc = new ChatStreamAccumulator();
    const chunk = (delta: Record<string, unknown>) =>
      ({ id: "c", object: "chat.completion.chunk", created: 0, model: "m", choices: [{ index: 0, delta, finish_reason: null }] }) as never;
    acc.add(chunk({ role: "assistant", content: "" }));
    acc.add(chunk({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "tau_status", arguments: "" } }] }));
    acc.add(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"serv' } }] }));
    expect(() => acc.answer(null)).toThrow(expect.objectContaining({ reason: "responder_model_stream_error" }));
  });

  it("retry-after-ms wins over retry-after, which may be seconds or an HTTP date", () => {
    const h = (o: Record<string, string>) => new Headers(o);
    expect(retryAfterMsOf(h({ "retry-after-ms": "250", "retry-after": "3" }))).toBe(250);
    expect(retryAfterMsOf(h({ "retry-after": "3" }))).toBe(3_000);
    const sent = new Date("2026-12-06T09:00:00Z");
    const later = new Date(sent.getTime() + 60_000).toUTCString();
    expect(retryAfterMsOf(h({ "retry-after": later, date: sent.toUTCString() }))).toBe(60_000);
    // Without the response's Date header there is nothing to measure the date against.
    expect(retryAfterMsOf(h({ "retry-after": later }))).toBeNull();
    expect(retryAfterMsOf(h({}))).toBeNull();
  });
});

describe("aborts", () => {
  it("the caller's signal aborts a waiting call", async () => {
    server.hangNext();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    expect(await failure(client().complete(request(), call(ac.signal)))).toMatchObject({
      reason: "responder_model_aborted",
      retryable: false,
    });
  });

  it("the signal aborts a streaming answer at once", async () => {
    server.reply({ text: "one two three four five six", chunkDelayMs: 100 });
    const ac = new AbortController();
    const t0 = Date.now();
    const e = await failure(client().complete(request(), { signal: ac.signal, onFirstToken: () => ac.abort() }));
    expect(e.reason).toBe("responder_model_aborted");
    expect(Date.now() - t0).toBeLessThan(400);
  });

  it("the signal aborts during the SDK's retry sleep, which itself ignores it", async () => {
    server.failNext(rateLimitFailure(600));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const t0 = Date.now();
    expect((await failure(client({ maxRetries: 1 }).complete(request(), call(ac.signal)))).reason).toBe("responder_model_aborted");
    expect(Date.now() - t0).toBeLessThan(400);
  });

  it("an already aborted signal sends nothing", async () => {
    const ac = new AbortController();
    ac.abort();
    expect((await failure(client().complete(request(), call(ac.signal)))).reason).toBe("responder_model_aborted");
    expect(server.requests).toHaveLength(0);
  });
});

describe("compatible servers", () => {
  it("ollama: a whole tool call in one delta, any key, max_completion_tokens ignored, reasoning not in the text", async () => {
    const ollama = await start({ mode: "ollama" });
    const c = client({ apiKey: "ollama" }, ollama);
    ollama.reply({ toolCalls: [{ name: "tau_status", arguments: '{"service":"web"}', id: "call_x1" }], reasoning: "Need the status." });
    const answer = await c.complete(request({ tools: [STATUS_TOOL] }), call());
    expect(answer).toMatchObject({
      text: "",
      finish: "tool_calls",
      toolCalls: [{ id: "call_x1", name: "tau_status", argumentsJson: '{"service":"web"}' }],
    });
    expect(answer.usage.cachedInputTokens).toBe(0);

    ollama.reply({ text: "a long answer that goes on" });
    expect(await c.complete(request({ maxOutputTokens: 2 }), call())).toMatchObject({ text: "a long answer that goes on", finish: "stop" });
  });

  it("vllm-old: a top-level error body still gives the message and the reason", async () => {
    const vllm = await start({ mode: "vllm-old" });
    vllm.failNext(contextFailure());
    const e = await failure(client({}, vllm).complete(request(), call()));
    expect(e).toMatchObject({ reason: "responder_model_context_too_long", status: 400 });
    expect(e.message).toContain("maximum context length is 128000 tokens");

    vllm.failNext({ status: 400, message: "temperature must be non-negative", type: "BadRequestError" });
    const bad = await failure(client({}, vllm).complete(request(), call()));
    expect(bad).toMatchObject({ reason: "responder_model_bad_request", status: 400 });
    expect(bad.message).toContain("temperature must be non-negative");
  });

  it("llama.cpp: exceed_context_size_error is context_too_long", async () => {
    server.failNext({
      status: 400,
      body: {
        error: {
          code: 400,
          message: "the request exceeds the available context size",
          type: "exceed_context_size_error",
          n_prompt_tokens: 5000,
          n_ctx: 4096,
        },
      },
    });
    expect(await failure(client().complete(request(), call()))).toMatchObject({ reason: "responder_model_context_too_long" });
  });
});

describe("probe and loading", () => {
  it("probe lists the models, or says why not", async () => {
    expect(await client().probe(new AbortController().signal)).toEqual({ ok: true, detail: `1 model(s) at ${server.url}: gpt-test` });
    expect(server.requests.at(-1)).toMatchObject({ method: "GET", path: "/v1/models" });
    const bad = await client({ apiKey: "sk-nope-nope" }).probe(new AbortController().signal);
    expect(bad).toMatchObject({ ok: false, reason: "responder_model_auth_failed" });
    expect(JSON.stringify(bad)).not.toContain("sk-nope-nope");
    expect(await client({ apiKey: "" }).probe(new AbortController().signal)).toMatchObject({
      ok: false,
      reason: "responder_model_auth_failed",
    });
  });

  it("openai.ts is the only file in src that imports the SDK, and only lazily", () => {
    const root = path.resolve(import.meta.dirname, "../../../src");
    const importers: string[] = [];
    const walk = (dir: string) => {
      for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, ent.name);
        if (ent.isDirectory()) walk(p);
        else if (p.endsWith(".ts") && /from "openai(\/[^"]*)?"|import\("openai"\)/.test(fs.readFileSync(p, "utf8")))
          importers.push(path.relative(root, p));
      }
    };
    walk(root);
    expect(importers).toEqual([path.join("responders", "llm", "openai.ts")]);
    const src = fs.readFileSync(path.join(root, "responders/llm/openai.ts"), "utf8");
    expect(src.match(/^import .*"openai";$/gm)).toEqual(['import type { OpenAI } from "openai";']);
  });
});
