/**
 * @module Speech to text with the real SDKs against the local fakes: the OpenAI client's multipart upload (the
 * fake's parser gives back the file bytes, name and type, `model` and `response_format` exactly), usage by type,
 * string answers, the whisper.cpp deviations (no auth, `model` ignored, `{"error":"…"}` bodies), every failure
 * mapped as chat calls are; Gemini transcription as one `generateContent` with the audio inline; the loader; and the
 * fake's multipart parser and answer formats on their own.
 */
import { afterEach, describe, expect, it } from "vitest";
import { OpenAI, toFile } from "openai";
import { createGeminiTranscriptionClient, TRANSCRIBE_INSTRUCTION } from "../../../src/responders/llm/gemini.ts";
import { ModelError } from "../../../src/responders/llm/model-client.ts";
import { createOpenAITranscriptionClient, transcriptionFilename, transcriptionOf } from "../../../src/responders/llm/openai.ts";
import { loadTranscriptionClient } from "../../../src/responders/llm/transcription.ts";
import { startGeminiServer, type GeminiServerHandle } from "../../helpers/gemini-server.ts";
import { boundaryOf, parseMultipart } from "../../helpers/openai-server-multipart.ts";
import {
  rateLimitFailure,
  startOpenAIServer,
  type OpenAIServerHandle,
  type StartOpenAIServerOptions,
} from "../../helpers/openai-server.ts";
import { makeWav } from "./media-fixtures.ts";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

async function openaiServer(opts?: StartOpenAIServerOptions): Promise<OpenAIServerHandle> {
  const s = await startOpenAIServer(opts);
  closers.push(() => s.close());
  return s;
}
async function geminiServer(): Promise<GeminiServerHandle> {
  const s = await startGeminiServer();
  closers.push(() => s.close());
  return s;
}

const WAV = makeWav(120);
const voice = (over: Partial<{ bytes: Uint8Array; mime: string; filename: string }> = {}) => ({
  bytes: WAV,
  mime: "audio/wav",
  filename: "voice.wav",
  ...over,
});
const signal = () => new AbortController().signal;
const stt = (s: OpenAIServerHandle, over: Partial<{ apiKey: string; model: string; timeoutMs: number; maxRetries: number }> = {}) =>
  createOpenAITranscriptionClient({ baseUrl: s.url, apiKey: s.apiKey, timeoutMs: 5_000, maxRetries: 0, model: "whisper-1", ...over });

async function failure(p: Promise<unknown>): Promise<ModelError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ModelError);
  return e as ModelError;
}

describe("openai transcription", () => {
  it("uploads the audio as multipart: the fake parses back the exact bytes, file name and type, model and response_format", async () => {
    const server = await openaiServer();
    server.transcribeNext({ text: "  The database is down again.\n" });
    const t = await stt(server).transcribe(voice(), { signal: signal() });
    expect(t).toEqual({ text: "The database is down again.", usage: { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 } });
    const [rec] = server.transcriptionRequests();
    expect(rec!.path).toBe("/v1/audio/transcriptions");
    expect(rec!.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    expect(rec!.headers.authorization).toBe(`Bearer ${server.apiKey}`);
    const tr = rec!.transcription!;
    expect(tr.file!.bytes.equals(WAV)).toBe(true);
    expect([tr.file!.filename, tr.file!.contentType]).toEqual(["voice.wav", "audio/wav"]);
    expect(tr.fields).toEqual({ model: ["whisper-1"], response_format: ["json"] });
    expect([tr.model, tr.responseFormat, tr.language]).toEqual(["whisper-1", "json", null]);
  });

  it("reports token usage when the model bills by tokens, zeros when by duration; unscripted calls get the default transcript", async () => {
    const server = await openaiServer();
    server.transcribeNext({ text: "hello", usage: { type: "tokens", inputTokens: 40, outputTokens: 3 } });
    const a = await stt(server, { model: "gpt-4o-mini-transcribe" }).transcribe(voice(), { signal: signal() });
    expect(a).toEqual({ text: "hello", usage: { inputTokens: 40, outputTokens: 3, cachedInputTokens: 0 } });
    const b = await stt(server).transcribe(voice({ filename: "note.ogg", mime: "audio/ogg" }), { signal: signal() });
    expect(b.text).toBe(`transcript of note.ogg (${WAV.length} bytes)`);
    expect(b.usage.inputTokens).toBe(0);
  });

  it("accepts a plain-text answer from a server that ignores response_format", async () => {
    const server = await openaiServer();
    server.transcribeNext({ text: "plain words", format: "text" });
    expect((await stt(server).transcribe(voice(), { signal: signal() })).text).toBe("plain words");
    expect(transcriptionOf("1\n00:00:00,000 --> 00:00:01,000\nhi\n\n")).toMatchObject({ text: "1\n00:00:00,000 --> 00:00:01,000\nhi" });
    expect(() => transcriptionOf({ segments: [] })).toThrow(ModelError);
  });

  it("names the file with an extension OpenAI takes, from the mime when the name has none it knows", async () => {
    expect(transcriptionFilename("file_9.oga", "audio/ogg")).toBe("file_9.oga");
    expect(transcriptionFilename("voice.x-wav", "audio/x-wav")).toBe("voice.wav");
    expect(transcriptionFilename("voice", "audio/mpeg")).toBe("voice.mp3");
    expect(transcriptionFilename("dir/voice.mp4", "audio/mp4")).toBe("voice.mp4");
    expect(transcriptionFilename("voice.aac", "audio/aac")).toBe("voice.aac");
    const server = await openaiServer();
    await stt(server).transcribe(voice({ filename: "voice.x-wav", mime: "audio/x-wav" }), { signal: signal() });
    expect(server.transcriptionRequests()[0]!.transcription!.file!.filename).toBe("voice.wav");
    // AAC has no extension OpenAI takes: the fake says so as OpenAI does, and it is a bad request.
    const e = await failure(stt(server).transcribe(voice({ filename: "voice.aac", mime: "audio/aac" }), { signal: signal() }));
    expect([e.reason, e.status]).toEqual(["responder_model_bad_request", 400]);
    expect(e.message).toContain(
      "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']",
    );
  });

  it("maps failures as chat calls: 401 auth_failed (not retried), 429 rate_limited with its wait, 500 unavailable, 400 bad_request", async () => {
    const server = await openaiServer();
    const bad = await failure(stt(server, { apiKey: "sk-wrong-999", maxRetries: 2 }).transcribe(voice(), { signal: signal() }));
    expect([bad.reason, bad.status, bad.retryable]).toEqual(["responder_model_auth_failed", 401, false]);
    expect(bad.message).not.toContain("sk-wrong-999");
    expect(server.requests).toHaveLength(1);

    server.failNext(rateLimitFailure(20));
    const limited = await failure(stt(server).transcribe(voice(), { signal: signal() }));
    expect([limited.reason, limited.retryable, limited.retryAfterMs]).toEqual(["responder_model_rate_limited", true, 20]);

    server.failNext({ status: 500, message: "The server had an error" });
    const down = await failure(stt(server).transcribe(voice(), { signal: signal() }));
    expect([down.reason, down.status, down.retryable]).toEqual(["responder_model_unavailable", 500, true]);

    const empty = await failure(stt(server).transcribe(voice({ bytes: new Uint8Array(0) }), { signal: signal() }));
    expect([empty.reason, empty.status]).toEqual(["responder_model_bad_request", 400]);
    expect(empty.message).toContain("Audio file is too short");
  });

  it("the SDK retries a 503 within maxRetries and the transcript still arrives", async () => {
    const server = await openaiServer();
    server.failNext({ status: 503, message: "overloaded", headers: { "retry-after-ms": "5" } });
    server.transcribeNext({ text: "second time lucky" });
    expect((await stt(server, { maxRetries: 1 }).transcribe(voice(), { signal: signal() })).text).toBe("second time lucky");
    expect(server.transcriptionRequests().map((r) => [r.retryCount, r.status])).toEqual([
      [0, 503],
      [1, 200],
    ]);
  });

  it("a hung server is a timeout, and an abort is an abort, both at once", async () => {
    const server = await openaiServer();
    server.hangNext();
    const slow = await failure(stt(server, { timeoutMs: 150 }).transcribe(voice(), { signal: signal() }));
    expect([slow.reason, slow.retryable]).toEqual(["responder_model_timeout", true]);
    server.hangNext();
    const ac = new AbortController();
    const p = stt(server).transcribe(voice(), { signal: ac.signal });
    setTimeout(() => ac.abort(), 30);
    expect((await failure(p)).reason).toBe("responder_model_aborted");
  });

  it("transcripts and chat replies queued together each reach their own kind of request", async () => {
    const server = await openaiServer();
    server.reply({ text: "chat answer" });
    server.transcribeNext({ text: "spoken words" });
    expect((await stt(server).transcribe(voice(), { signal: signal() })).text).toBe("spoken words");
    expect(server.pending()).toBe(1);
  });
});

describe("whisper.cpp server", () => {
  it("needs no key, ignores model, keeps whisper's leading space (trimmed by the client) and sends no usage", async () => {
    const server = await openaiServer({ mode: "whisper.cpp" });
    server.transcribeNext({ text: "check the replica" });
    const t = await stt(server, { apiKey: "anything", model: "ignored-model" }).transcribe(voice(), { signal: signal() });
    expect(t).toEqual({ text: "check the replica", usage: { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 } });
  });

  it('maps its {"error":"…"} bodies: 400 bad_request with the plain message, 500 unavailable', async () => {
    const server = await openaiServer({ mode: "whisper.cpp" });
    server.failNext({ status: 400, message: "failed to read audio data" });
    const e = await failure(stt(server).transcribe(voice(), { signal: signal() }));
    expect([e.reason, e.status, e.retryable]).toEqual(["responder_model_bad_request", 400, false]);
    expect(e.message).toBe("openai: 400 failed to read audio data (request id req_1)");
    server.failNext({ status: 500, message: "ffmpeg conversion failed" });
    const f = await failure(stt(server).transcribe(voice(), { signal: signal() }));
    expect([f.reason, f.retryable]).toEqual(["responder_model_unavailable", true]);
    expect(f.message).toContain("ffmpeg conversion failed");
  });

  it("serves /inference too, refuses a request without a file in its own words, and has no chat route", async () => {
    const server = await openaiServer({ mode: "whisper.cpp" });
    const form = new FormData();
    form.append("response_format", "json");
    const r = await fetch(`http://127.0.0.1:${server.port}/inference`, { method: "POST", body: form });
    expect([r.status, await r.json()]).toEqual([400, { error: "no 'file' field in the request" }]);
    const form2 = new FormData();
    form2.append("file", new Blob([WAV], { type: "audio/wav" }), "a.wav");
    form2.append("response_format", "text");
    const ok = await fetch(`http://127.0.0.1:${server.port}/inference`, { method: "POST", body: form2 });
    expect([ok.status, ok.headers.get("content-type"), await ok.text()]).toEqual([
      200,
      "text/html; charset=utf-8",
      ` transcript of a.wav (${WAV.length} bytes)\n`,
    ]);
    const chat = await fetch(`${server.url}/chat/completions`, { method: "POST", body: "{}" });
    expect(chat.status).toBe(404);
  });
});

describe("the fake's transcription formats, read by the real SDK", () => {
  const sdk = (s: OpenAIServerHandle) => new OpenAI({ apiKey: s.apiKey, baseURL: s.url, maxRetries: 0, organization: null, project: null });

  it("json, text, srt, vtt and verbose_json come back as the SDK expects; language and granularities are fields", async () => {
    const server = await openaiServer();
    const client = sdk(server);
    const file = () => toFile(WAV, "voice.wav", { type: "audio/wav" });
    for (let i = 0; i < 5; i++) server.transcribeNext({ text: "all good", duration: 1.5 });
    const json = await client.audio.transcriptions.create({ file: await file(), model: "gpt-4o-transcribe", response_format: "json" });
    expect(json).toMatchObject({ text: "all good", usage: { type: "tokens", output_tokens: 2 } });
    const text = await client.audio.transcriptions.create({ file: await file(), model: "whisper-1", response_format: "text" });
    expect(text).toBe("all good\n");
    const srt = await client.audio.transcriptions.create({ file: await file(), model: "whisper-1", response_format: "srt" });
    expect(srt).toBe("1\n00:00:00,000 --> 00:00:01,500\nall good\n\n");
    const vtt = await client.audio.transcriptions.create({ file: await file(), model: "whisper-1", response_format: "vtt" });
    expect(vtt).toBe("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nall good\n\n");
    const verbose = await client.audio.transcriptions.create({
      file: await file(),
      model: "whisper-1",
      response_format: "verbose_json",
      language: "en",
      timestamp_granularities: ["word", "segment"],
    });
    expect(verbose).toMatchObject({ task: "transcribe", duration: 1.5, text: "all good", usage: { type: "duration", seconds: 2 } });
    expect(verbose.segments![0]).toMatchObject({ id: 0, start: 0, end: 1.5, text: "all good" });
    const last = server.transcriptionRequests().at(-1)!.transcription!;
    expect(last.language).toBe("en");
    expect(last.fields["timestamp_granularities[]"]).toEqual(["word", "segment"]);
  });

  it("refuses an unknown response_format and a request without a file", async () => {
    const server = await openaiServer();
    const client = sdk(server);
    await expect(
      client.audio.transcriptions.create({
        file: await toFile(WAV, "v.wav"),
        model: "whisper-1",
        response_format: "xml" as "json",
      }),
    ).rejects.toMatchObject({ status: 400, param: "response_format" });
    const form = new FormData();
    form.append("model", "whisper-1");
    const r = await fetch(`${server.url}/audio/transcriptions`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.apiKey}` },
      body: form,
    });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { message: string } }).error.message).toContain("body -> file");
  });
});

describe("gemini transcription", () => {
  it("sends the instruction then the audio inline in one generateContent, and answers with the transcript and usage", async () => {
    const server = await geminiServer();
    const client = createGeminiTranscriptionClient({
      baseUrl: server.url,
      apiKey: server.apiKey,
      timeoutMs: 5_000,
      maxRetries: 0,
      model: "gemini-2.5-flash",
    });
    const t = await client.transcribe(voice({ mime: "audio/ogg" }), { signal: signal() });
    expect(t.text).toBe(`transcript: ${WAV.length} bytes of audio/ogg`);
    expect(t.usage.inputTokens).toBeGreaterThan(0);
    expect(t.usage.outputTokens).toBeGreaterThan(0);
    const rec = server.requests[0]!;
    expect([rec.action, rec.model]).toEqual(["generateContent", "gemini-2.5-flash"]);
    expect(rec.body.contents).toEqual([
      { parts: [{ text: TRANSCRIBE_INSTRUCTION }, { inlineData: { mimeType: "audio/ogg", data: WAV.toString("base64") } }], role: "user" },
    ]);
    expect(rec.inline[0]!.bytes.equals(WAV)).toBe(true);
  });

  it("maps failures (a bad key is Google's 400 API_KEY_INVALID → auth_failed), blocks, and refuses a non-audio type before any call", async () => {
    const server = await geminiServer();
    const make = (apiKey: string) =>
      createGeminiTranscriptionClient({ baseUrl: server.url, apiKey, timeoutMs: 5_000, maxRetries: 0, model: "gemini-2.5-flash" });
    const bad = await failure(make("wrong-key").transcribe(voice(), { signal: signal() }));
    expect([bad.reason, bad.status]).toEqual(["responder_model_auth_failed", 400]);
    server.failNext({ status: 503 });
    expect((await failure(make(server.apiKey).transcribe(voice(), { signal: signal() }))).reason).toBe("responder_model_unavailable");
    server.blockNext("PROHIBITED_CONTENT");
    expect((await failure(make(server.apiKey).transcribe(voice(), { signal: signal() }))).reason).toBe("responder_model_blocked");
    const before = server.requests.length;
    const img = await failure(make(server.apiKey).transcribe(voice({ mime: "image/png" }), { signal: signal() }));
    expect(img.reason).toBe("responder_model_bad_request");
    expect(server.requests.length).toBe(before);
  });
});

describe("loadTranscriptionClient", () => {
  it("loads the adapter of each provider on demand", async () => {
    const o = await openaiServer();
    const g = await geminiServer();
    const a = await loadTranscriptionClient("openai", {
      baseUrl: o.url,
      apiKey: o.apiKey,
      timeoutMs: 5_000,
      maxRetries: 0,
      model: "whisper-1",
    });
    const b = await loadTranscriptionClient("gemini", {
      baseUrl: g.url,
      apiKey: g.apiKey,
      timeoutMs: 5_000,
      maxRetries: 0,
      model: "gemini-2.5-flash",
    });
    expect([a.provider, b.provider]).toEqual(["openai", "gemini"]);
    expect((await a.transcribe(voice(), { signal: signal() })).text).toBe(`transcript of voice.wav (${WAV.length} bytes)`);
    expect((await b.transcribe(voice(), { signal: signal() })).text).toBe(`transcript: ${WAV.length} bytes of audio/wav`);
  });
});

describe("the fake's multipart parser", () => {
  const B = "----formdata-undici-0123456789";
  const CT = `multipart/form-data; boundary=${B}`;

  it("reads undici's own encoding byte for byte, binary content with CRLF and dashes included", async () => {
    const tricky = Buffer.concat([Buffer.from(`\r\n--${B.slice(0, -1)}\r\n--\r\n`), Buffer.from([0, 255, 13, 10, 45, 45]), WAV]);
    const form = new FormData();
    form.append("model", "whisper-1");
    form.append("file", new Blob([tricky], { type: "audio/ogg" }), 'we"ird\nname.ogg');
    form.append("timestamp_granularities[]", "word");
    form.append("timestamp_granularities[]", "segment");
    const req = new Request("http://x/", { method: "POST", body: form });
    const body = Buffer.from(await req.arrayBuffer());
    const boundary = boundaryOf(req.headers.get("content-type")!)!;
    const parts = parseMultipart(body, boundary);
    expect(parts.map((p) => [p.name, p.filename, p.contentType])).toEqual([
      ["model", null, null],
      ["file", 'we"ird\nname.ogg', "audio/ogg"],
      ["timestamp_granularities[]", null, null],
      ["timestamp_granularities[]", null, null],
    ]);
    expect(parts[1]!.data.equals(tricky)).toBe(true);
    expect(parts.map((p) => (p.filename ? null : p.data.toString()))).toEqual(["whisper-1", null, "word", "segment"]);
  });

  it("takes a preamble, a quoted boundary, padding after a delimiter, and RFC 5987 file names", () => {
    expect(boundaryOf(`multipart/form-data; boundary="${B}"`)).toBe(B);
    expect(boundaryOf("application/json")).toBeNull();
    const body = Buffer.from(
      `preamble text\r\n--${B}  \r\nContent-Disposition: form-data; name="file"; filename="a.ogg"; filename*=utf-8''%C3%A9t%C3%A9.ogg\r\n` +
        `Content-Type: audio/ogg\r\n\r\nOggS\r\n--${B}--\r\nepilogue`,
    );
    const [p] = parseMultipart(body, B);
    expect([p!.name, p!.filename, p!.data.toString()]).toEqual(["file", "été.ogg", "OggS"]);
  });

  it("throws on a body without its opening or closing boundary, or a part without a name", () => {
    expect(() => parseMultipart(Buffer.from("no boundary here"), B)).toThrow(/opening boundary/);
    expect(() => parseMultipart(Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue`), B)).toThrow(/closing/);
    expect(() => parseMultipart(Buffer.from(`--${B}\r\nContent-Disposition: form-data\r\n\r\nv\r\n--${B}--`), B)).toThrow(/name/);
    expect(() => parseMultipart(Buffer.from(`--${B}\r\nContent-Type: text/plain\r\n\r\nv\r\n--${B}--`), B)).toThrow(/form-data/);
    expect(CT).toContain(B);
  });
});
