/**
 * @module The Gemini adapter with the real `@google/genai` SDK against the local Gemini server
 * (test/helpers/gemini-server.ts): answers, tool round trips with echoed `thoughtSignature` parts, the exact request
 * body (`describe()` against the wire), and every failure mapped to its `ModelError` reason (TESTING.md: real client,
 * real wire protocol, 127.0.0.1 only).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createGeminiClient, parseGoogleError, parseRetryDelay, toGeminiContents } from "../../../src/responders/llm/gemini.ts";
import { ModelError, type ModelClient, type ModelRequest } from "../../../src/responders/llm/model-client.ts";
import { googleError, startGeminiServer, type GeminiServerHandle } from "../../helpers/gemini-server.ts";

let server: GeminiServerHandle;
let client: ModelClient;

const MODEL = "gemini-2.5-flash";
const STATUS_TOOL = {
  name: "tau_status",
  description: "Status of a service",
  parameters: { type: "object", properties: { service: { type: "string" } }, required: ["service"], additionalProperties: false },
};

function request(over: Partial<ModelRequest> = {}): ModelRequest {
  return { model: MODEL, system: "You are tau.", messages: [{ role: "user", text: "hello" }], tools: [], maxOutputTokens: 256, ...over };
}

const signal = () => new AbortController().signal;

/** The ModelError a call rejects with. */
async function failure(p: Promise<unknown>): Promise<ModelError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ModelError);
  return e as ModelError;
}

/** Wait (bounded) until the server has seen `n` requests. */
async function requestsSeen(n: number): Promise<void> {
  const deadline = performance.now() + 2_000;
  while (server.requests.length < n) {
    if (performance.now() > deadline) throw new Error(`server saw ${server.requests.length} requests, expected ${n}`);
    await new Promise((r) => setImmediate(r));
  }
}

beforeAll(async () => {
  server = await startGeminiServer();
  client = createGeminiClient({ baseUrl: server.url, apiKey: server.apiKey, timeoutMs: 5_000, maxRetries: 0 });
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.requests.length = 0;
});

describe("gemini adapter: answers", () => {
  it("streams text over several chunks and reports the last chunk's usage (thoughts count as output)", async () => {
    server.reply({
      text: "Hello from the fake Gemini",
      usage: { promptTokenCount: 12, candidatesTokenCount: 6, thoughtsTokenCount: 4, cachedContentTokenCount: 3 },
    });
    let firstTokens = 0;
    const a = await client.complete(request(), { signal: signal(), onFirstToken: () => firstTokens++ });
    expect(a.text).toBe("Hello from the fake Gemini");
    expect(a.finish).toBe("stop");
    expect(a.toolCalls).toEqual([]);
    expect(a.usage).toEqual({ inputTokens: 12, outputTokens: 10, cachedInputTokens: 3 });
    expect(a.requestId).toMatch(/^resp-\d+$/);
    expect(firstTokens).toBe(1);
    expect(a.providerParts).toEqual([{ text: "Hello fro" }, { text: "m the fak" }, { text: "e Gemini" }]);
    const rec = server.requests[0]!;
    expect(rec.path).toBe(`/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`);
    expect(rec.headers["x-goog-api-key"]).toBe(server.apiKey);
  });

  it("leaves thought parts out of the text and maps MAX_TOKENS to length", async () => {
    server.reply({ parts: [{ text: "let me think", thought: true }, { text: "Short answer" }], finishReason: "MAX_TOKENS" });
    const a = await client.complete(request(), { signal: signal() });
    expect(a.text).toBe("Short answer");
    expect(a.finish).toBe("length");
  });

  it("maps a SAFETY finish to content_filter", async () => {
    server.reply({ text: "", finishReason: "SAFETY" });
    const a = await client.complete(request(), { signal: signal() });
    expect(a.finish).toBe("content_filter");
  });

  it("returns function calls with their args as JSON; finish STOP with calls is tool_calls; missing ids become call_<i>", async () => {
    server.reply({ functionCalls: [{ name: "tau_status", args: { service: "web" }, id: "fc-1" }, { name: "tau_ping" }] });
    const a = await client.complete(request({ tools: [STATUS_TOOL] }), { signal: signal() });
    expect(a.finish).toBe("tool_calls");
    expect(a.toolCalls).toEqual([
      { id: "fc-1", name: "tau_status", argumentsJson: '{"service":"web"}' },
      { id: "call_1", name: "tau_ping", argumentsJson: "{}" },
    ]);
    expect(server.requests[0]!.body.tools).toEqual([
      { functionDeclarations: [{ name: "tau_status", description: "Status of a service", parametersJsonSchema: STATUS_TOOL.parameters }] },
    ]);
  });

  it("tool round trip: model parts (with thoughtSignature) echoed unchanged, the result as functionResponse in a user turn", async () => {
    server.reply({ functionCalls: [{ name: "tau_status", args: { service: "web" } }], thoughtSignature: "c2lnLW9uZQ==" });
    const first = await client.complete(request({ tools: [STATUS_TOOL], messages: [{ role: "user", text: "is web up?" }] }), {
      signal: signal(),
    });
    expect(first.toolCalls).toEqual([{ id: "call_0", name: "tau_status", argumentsJson: '{"service":"web"}' }]);

    server.reply({ text: "web is up" });
    const second = await client.complete(
      request({
        tools: [STATUS_TOOL],
        messages: [
          { role: "user", text: "is web up?" },
          { role: "assistant", text: first.text, toolCalls: first.toolCalls, providerParts: first.providerParts },
          { role: "tool", callId: "call_0", name: "tau_status", content: '{"ok":true}' },
        ],
      }),
      { signal: signal() },
    );
    expect(second.text).toBe("web is up");
    expect(server.requests[1]!.body.contents).toEqual([
      { parts: [{ text: "is web up?" }], role: "user" },
      { parts: [{ functionCall: { args: { service: "web" }, name: "tau_status" }, thoughtSignature: "c2lnLW9uZQ==" }], role: "model" },
      { parts: [{ functionResponse: { name: "tau_status", response: { output: { ok: true } } } }], role: "user" },
    ]);
  });

  it("merges consecutive tool results into one user turn, keeps call ids, sends errors as {error}", async () => {
    server.reply({ text: "done" });
    await client.complete(
      request({
        messages: [
          { role: "user", text: "check both" },
          {
            role: "assistant",
            text: "Checking.",
            toolCalls: [
              { id: "fc-a", name: "tau_status", argumentsJson: '{"service":"web"}' },
              { id: "fc-b", name: "tau_status", argumentsJson: '{"service":"db"}' },
            ],
          },
          { role: "tool", callId: "fc-a", name: "tau_status", content: '{"ok":true}' },
          { role: "tool", callId: "fc-b", name: "tau_status", content: "db unreachable", isError: true },
        ],
      }),
      { signal: signal() },
    );
    expect(server.requests[0]!.body.contents.slice(1)).toEqual([
      {
        parts: [
          { text: "Checking." },
          { functionCall: { args: { service: "web" }, id: "fc-a", name: "tau_status" } },
          { functionCall: { args: { service: "db" }, id: "fc-b", name: "tau_status" } },
        ],
        role: "model",
      },
      {
        parts: [
          { functionResponse: { id: "fc-a", name: "tau_status", response: { output: { ok: true } } } },
          { functionResponse: { id: "fc-b", name: "tau_status", response: { error: "db unreachable" } } },
        ],
        role: "user",
      },
    ]);
  });

  it("describe() is exactly the request the SDK sends, credentials redacted", async () => {
    const req = request({
      tools: [STATUS_TOOL],
      maxOutputTokens: 512,
      messages: [
        { role: "user", text: "is web up?" },
        { role: "assistant", text: "", toolCalls: [{ id: "fc-9", name: "tau_status", argumentsJson: '{"service":"web"}' }] },
        { role: "tool", callId: "fc-9", name: "tau_status", content: "up" },
      ],
    });
    server.reply({ text: "yes" });
    await client.complete(req, { signal: signal() });
    const d = client.describe(req);
    const rec = server.requests[0]!;
    expect(d.method).toBe("POST");
    expect(d.url).toBe(`${server.url}${rec.path}`);
    expect(d.headers).toEqual({ "x-goog-api-key": "<redacted>", "content-type": "application/json" });
    expect(rec.headers["content-type"]).toBe("application/json");
    expect(rec.raw).toBe(JSON.stringify(d.body));
    expect(d.body).toEqual({
      contents: [
        { parts: [{ text: "is web up?" }], role: "user" },
        { parts: [{ functionCall: { args: { service: "web" }, id: "fc-9", name: "tau_status" } }], role: "model" },
        { parts: [{ functionResponse: { id: "fc-9", name: "tau_status", response: { output: "up" } } }], role: "user" },
      ],
      systemInstruction: { parts: [{ text: "You are tau." }], role: "user" },
      tools: [
        {
          functionDeclarations: [{ name: "tau_status", description: "Status of a service", parametersJsonSchema: STATUS_TOOL.parameters }],
        },
      ],
      generationConfig: { maxOutputTokens: 512 },
    });
  });

  it("describe() of a request with echoed provider parts equals the received body as JSON", async () => {
    const req = request({
      messages: [
        { role: "user", text: "hi" },
        { role: "assistant", text: "hello", providerParts: [{ text: "hello", thoughtSignature: "c2ln" }] },
        { role: "user", text: "again" },
      ],
    });
    server.reply({ text: "ok" });
    await client.complete(req, { signal: signal() });
    expect(server.requests[0]!.body).toStrictEqual(client.describe(req).body);
  });

  it("with an empty queue the server echoes the last user text; setDefault replaces the echo", async () => {
    const a = await client.complete(request({ messages: [{ role: "user", text: "echo me" }] }), { signal: signal() });
    expect(a.text).toBe("echo me");
    server.setDefault(() => ({ text: "default" }));
    const b = await client.complete(request(), { signal: signal() });
    expect(b.text).toBe("default");
  });

  it("probe lists the models", async () => {
    const p = await client.probe(signal());
    expect(p).toEqual({ ok: true, detail: `gemini: 2 model(s) listed at ${server.url}` });
    expect(server.requests[0]!.path).toBe("/v1beta/models?pageSize=100");
  });
});

describe("gemini adapter: failures", () => {
  it("a bad key (400 INVALID_ARGUMENT, API_KEY_INVALID) is auth_failed, in complete and probe, key never shown", async () => {
    const bad = createGeminiClient({ baseUrl: server.url, apiKey: "AIza-wrong-key", timeoutMs: 2_000, maxRetries: 0 });
    const e = await failure(bad.complete(request(), { signal: signal() }));
    expect(e.reason).toBe("responder_model_auth_failed");
    expect(e.status).toBe(400);
    expect(e.retryable).toBe(false);
    expect(e.message).not.toContain("AIza-wrong-key");
    const p = await bad.probe(signal());
    expect(p).toMatchObject({ ok: false, reason: "responder_model_auth_failed" });
  });

  it("429 RESOURCE_EXHAUSTED is rate_limited with retryAfterMs from RetryInfo, and not retried by the SDK", async () => {
    server.failNext({ status: 429 });
    const e = await failure(client.complete(request(), { signal: signal() }));
    expect(e.reason).toBe("responder_model_rate_limited");
    expect(e.retryAfterMs).toBe(7000);
    expect(e.retryable).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  it("500 and 503 are unavailable and retryable", async () => {
    server.failNext({ status: 503 });
    const e = await failure(client.complete(request(), { signal: signal() }));
    expect([e.reason, e.status, e.retryable]).toEqual(["responder_model_unavailable", 503, true]);
    server.failNext({ status: 500 });
    const f = await failure(client.complete(request(), { signal: signal() }));
    expect([f.reason, f.status]).toEqual(["responder_model_unavailable", 500]);
  });

  it("with maxRetries 1 the SDK retries a 503 once (retryOptions.attempts 2)", async () => {
    const retrying = createGeminiClient({ baseUrl: server.url, apiKey: server.apiKey, timeoutMs: 2_000, maxRetries: 1 });
    server.failNext({ status: 503 });
    server.reply({ text: "second time lucky" });
    const a = await retrying.complete(request(), { signal: signal() });
    expect(a.text).toBe("second time lucky");
    expect(server.requests).toHaveLength(2);
  });

  it("a 400 about the token count is context_too_long; another 400 is bad_request", async () => {
    server.failNext({
      status: 400,
      body: googleError(400, "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."),
    });
    expect((await failure(client.complete(request(), { signal: signal() }))).reason).toBe("responder_model_context_too_long");
    server.failNext({ status: 400, body: googleError(400, "User location is not supported for the API use.") });
    expect((await failure(client.complete(request(), { signal: signal() }))).reason).toBe("responder_model_bad_request");
  });

  it("the fake refuses function responses that do not answer the previous turn's calls (Google's 400)", async () => {
    const e = await failure(
      client.complete(request({ messages: [{ role: "tool", callId: "x", name: "tau_status", content: "{}" }] }), { signal: signal() }),
    );
    expect(e.reason).toBe("responder_model_bad_request");
    expect(e.message).toContain("number of function response parts");
  });

  it("a blocked prompt (promptFeedback.blockReason, no candidates) is blocked", async () => {
    server.blockNext("PROHIBITED_CONTENT");
    const e = await failure(client.complete(request(), { signal: signal() }));
    expect(e.reason).toBe("responder_model_blocked");
    expect(e.message).toContain("PROHIBITED_CONTENT");
  });

  it("a server that never answers is a timeout after timeoutMs", { timeout: 3_000 }, async () => {
    const quick = createGeminiClient({ baseUrl: server.url, apiKey: server.apiKey, timeoutMs: 200, maxRetries: 0 });
    server.hangNext();
    const e = await failure(quick.complete(request(), { signal: signal() }));
    expect(e.reason).toBe("responder_model_timeout");
    expect(e.retryable).toBe(true);
  });

  it("a stream that stalls past timeoutMs is a timeout, not a stream error", { timeout: 3_000 }, async () => {
    const quick = createGeminiClient({ baseUrl: server.url, apiKey: server.apiKey, timeoutMs: 200, maxRetries: 0 });
    server.reply({ text: "a slow streamed answer", chunkDelayMs: 10_000 });
    let firstTokens = 0;
    const e = await failure(quick.complete(request(), { signal: signal(), onFirstToken: () => firstTokens++ }));
    expect(e.reason).toBe("responder_model_timeout");
    expect(firstTokens).toBe(1);
  });

  it("a connection reset before any response is unavailable", async () => {
    server.resetNext();
    const e = await failure(client.complete(request(), { signal: signal() }));
    expect(e.reason).toBe("responder_model_unavailable");
    expect(e.retryable).toBe(true);
  });

  it("an error event in the middle of the stream is stream_error, after the first token", async () => {
    server.midStreamErrorNext();
    let firstTokens = 0;
    const e = await failure(client.complete(request(), { signal: signal(), onFirstToken: () => firstTokens++ }));
    expect(e.reason).toBe("responder_model_stream_error");
    expect(e.status).toBe(500);
    expect(firstTokens).toBe(1);
  });

  it("a stream cut inside its last frame is stream_error", async () => {
    server.cutStreamNext();
    const e = await failure(client.complete(request(), { signal: signal() }));
    expect(e.reason).toBe("responder_model_stream_error");
    expect(e.message).toContain("Incomplete JSON segment");
  });

  it("tau's abort before the answer is aborted", { timeout: 3_000 }, async () => {
    server.hangNext();
    const ctl = new AbortController();
    const p = client.complete(request(), { signal: ctl.signal });
    await requestsSeen(1);
    ctl.abort();
    expect((await failure(p)).reason).toBe("responder_model_aborted");
  });

  it("tau's abort in the middle of a stream is aborted", { timeout: 3_000 }, async () => {
    server.reply({ text: "a long streamed answer", chunkDelayMs: 10_000 });
    const ctl = new AbortController();
    const e = await failure(client.complete(request(), { signal: ctl.signal, onFirstToken: () => ctl.abort() }));
    expect(e.reason).toBe("responder_model_aborted");
  });

  it("an already aborted signal makes no request", async () => {
    const ctl = new AbortController();
    ctl.abort();
    expect((await failure(client.complete(request(), { signal: ctl.signal }))).reason).toBe("responder_model_aborted");
    expect(server.requests).toHaveLength(0);
  });

  it("a refused connection is unavailable, and probe says so", async () => {
    const gone = await startGeminiServer();
    await gone.close();
    const dead = createGeminiClient({ baseUrl: gone.url, apiKey: "k", timeoutMs: 1_000, maxRetries: 0 });
    expect((await failure(dead.complete(request(), { signal: signal() }))).reason).toBe("responder_model_unavailable");
    expect(await dead.probe(signal())).toMatchObject({ ok: false, reason: "responder_model_unavailable" });
  });
});

describe("the local Gemini server's wire format", () => {
  const post = (path: string, body: unknown) =>
    fetch(`${server.url}/v1beta/models/${MODEL}${path}`, {
      method: "POST",
      headers: { "x-goog-api-key": server.apiKey, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const contents = [{ role: "user", parts: [{ text: "hi" }] }];

  it("streams only `data: <json>` frames split by CRLF CRLF, the last with finishReason and usage", async () => {
    server.reply({ text: "abcdef", usage: { promptTokenCount: 3, candidatesTokenCount: 2 } });
    const res = await post(":streamGenerateContent?alt=sse", { contents });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const frames = (await res.text()).split("\r\n\r\n");
    expect(frames.pop()).toBe("");
    expect(frames.every((f) => f.startsWith("data: {"))).toBe(true);
    const chunks = frames.map((f) => JSON.parse(f.slice(6)));
    expect(chunks.map((c) => c.candidates[0].content.parts[0].text)).toEqual(["ab", "cd", "ef"]);
    expect(chunks[2].candidates[0].finishReason).toBe("STOP");
    expect(chunks[2].usageMetadata).toMatchObject({ promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 5 });
  });

  it("answers :generateContent in one JSON body, requires alt=sse on the stream route, serves GET models/{model}", async () => {
    server.reply({ text: "abcdef", functionCalls: [{ name: "tau_status", args: { service: "web" } }] });
    const one = (await (await post(":generateContent", { contents })).json()) as any;
    expect(one.candidates[0]).toEqual({
      content: {
        parts: [{ text: "ab" }, { text: "cd" }, { text: "ef" }, { functionCall: { name: "tau_status", args: { service: "web" } } }],
        role: "model",
      },
      finishReason: "STOP",
      index: 0,
    });
    expect((await post(":streamGenerateContent", { contents })).status).toBe(400);
    expect((await post(":generateContent", { contents, temperature: 1 })).status).toBe(400);
    const got = await fetch(`${server.url}/v1beta/models/${MODEL}`, { headers: { "x-goog-api-key": server.apiKey } });
    expect(((await got.json()) as { name: string }).name).toBe(`models/${MODEL}`);
    const none = await fetch(`${server.url}/v1beta/models/${MODEL}`);
    expect(none.status).toBe(403);
  });
});

describe("gemini contents", () => {
  it("leaves out an assistant turn with no parts (a SAFETY-cut answer) rather than send an empty model turn", () => {
    expect(
      toGeminiContents([
        { role: "user", text: "a" },
        { role: "assistant", text: "", providerParts: [] },
        { role: "user", text: "b" },
      ]),
    ).toEqual([
      { parts: [{ text: "a" }], role: "user" },
      { parts: [{ text: "b" }], role: "user" },
    ]);
  });
});

describe("gemini error parsing", () => {
  it("reads retryDelay durations and both ApiError message shapes", () => {
    expect(parseRetryDelay("7s")).toBe(7000);
    expect(parseRetryDelay("1.5s")).toBe(1500);
    expect(parseRetryDelay("soon")).toBeNull();
    expect(parseGoogleError('{"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}')).toEqual({
      code: 503,
      message: "overloaded",
      status: "UNAVAILABLE",
    });
    expect(parseGoogleError('got status: INTERNAL. {"error":{"code":500,"message":"boom","status":"INTERNAL"}}').status).toBe("INTERNAL");
    expect(parseGoogleError("plain text")).toEqual({ message: "plain text" });
  });
});
