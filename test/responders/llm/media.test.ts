/**
 * @module Vision and media input through the three adapters with their real SDKs against the local fakes: a PNG
 * built byte by byte travels as an OpenAI `image_url` data URL, an Anthropic base64 `image` block and a Gemini
 * `inlineData` part, after the text, and each fake decodes exactly those bytes back; `describe()` is that wire body;
 * media an adapter does not take is refused before any request; and the fakes refuse what the real APIs refuse
 * (unsupported types, broken base64, Anthropic's 5 MB base64 cap, Gemini's missing GIF support).
 */
import { afterEach, describe, expect, it } from "vitest";
import { createAnthropicClient } from "../../../src/responders/llm/anthropic.ts";
import { createGeminiClient } from "../../../src/responders/llm/gemini.ts";
import { ModelError, type ModelClient, type ModelRequest } from "../../../src/responders/llm/model-client.ts";
import { createOpenAIClient } from "../../../src/responders/llm/openai.ts";
import { startAnthropicServer } from "../../helpers/anthropic-server.ts";
import { startGeminiServer } from "../../helpers/gemini-server.ts";
import { startOpenAIServer } from "../../helpers/openai-server.ts";
import { crc32, makePng, makeWav } from "./media-fixtures.ts";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

async function openai() {
  const server = await startOpenAIServer();
  closers.push(() => server.close());
  const client = createOpenAIClient({ baseUrl: server.url, apiKey: server.apiKey, timeoutMs: 5_000, maxRetries: 0 });
  return { server, client };
}
async function anthropic() {
  const server = await startAnthropicServer();
  closers.push(() => server.close());
  const client = createAnthropicClient({ baseUrl: server.url, apiKey: server.apiKey, timeoutMs: 5_000, maxRetries: 0 });
  return { server, client };
}
async function gemini() {
  const server = await startGeminiServer();
  closers.push(() => server.close());
  const client = createGeminiClient({ baseUrl: server.url, apiKey: server.apiKey, timeoutMs: 5_000, maxRetries: 0 });
  return { server, client };
}

const PNG = makePng(3, 2, [12, 200, 34]);
const B64 = PNG.toString("base64");
const signal = () => new AbortController().signal;

const request = (model: string, media: { mime: string; base64: string }[], text = "what is in this picture?"): ModelRequest => ({
  model,
  system: "You are tau.",
  messages: [{ role: "user", text, media }],
  tools: [],
  maxOutputTokens: 256,
});

/** The ModelError a call rejects with. */
async function failure(p: Promise<unknown>): Promise<ModelError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ModelError);
  return e as ModelError;
}

describe("the PNG fixture", () => {
  it("is a well-formed PNG: signature, IHDR 3×2 RGB, chunk CRCs that check out, IEND last", () => {
    expect(PNG.subarray(0, 8)).toEqual(Buffer.from("89504e470d0a1a0a", "hex"));
    const chunks: string[] = [];
    for (let at = 8; at < PNG.length;) {
      const len = PNG.readUInt32BE(at);
      const type = PNG.toString("latin1", at + 4, at + 8);
      expect(PNG.readUInt32BE(at + 8 + len)).toBe(crc32(PNG.subarray(at + 4, at + 8 + len)));
      chunks.push(type);
      at += 12 + len;
    }
    expect(chunks).toEqual(["IHDR", "IDAT", "IEND"]);
    expect([PNG.readUInt32BE(16), PNG.readUInt32BE(20), PNG[24], PNG[25]]).toEqual([3, 2, 8, 2]);
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926); // the CRC-32 check value
  });
});

describe("openai: images as data URLs", () => {
  it("sends a text part then an image_url part; the fake decodes exactly the PNG, and describe() is the wire body", async () => {
    const { server, client } = await openai();
    server.reply({ text: "A small green rectangle." });
    const req = request("gpt-test", [{ mime: "image/png", base64: B64 }]);
    const answer = await client.complete(req, { signal: signal() });
    expect(answer.text).toBe("A small green rectangle.");
    const rec = server.chatRequests()[0]!;
    const messages = rec.body!.messages as Array<{ role: string; content: unknown }>;
    expect(messages.at(-1)).toEqual({
      role: "user",
      content: [
        { type: "text", text: "what is in this picture?" },
        { type: "image_url", image_url: { url: `data:image/png;base64,${B64}` } },
      ],
    });
    expect(rec.images).toHaveLength(1);
    expect(rec.images[0]!.mime).toBe("image/png");
    expect(rec.images[0]!.bytes.equals(PNG)).toBe(true);
    expect(rec.body).toEqual(client.describe(req).body);
    expect(JSON.stringify(client.describe(req).body)).toContain('"url":"data:image/png;base64,iVBORw0KGgo');
  });

  it("a user turn without media keeps its plain string content; an empty text with media sends only the images", async () => {
    const { client } = await openai();
    const plain = client.describe({ ...request("gpt-test", []), messages: [{ role: "user", text: "hi" }] }).body as {
      messages: unknown[];
    };
    expect(plain.messages.at(-1)).toEqual({ role: "user", content: "hi" });
    const noText = client.describe(request("gpt-test", [{ mime: "image/jpeg", base64: B64 }], "")).body as { messages: unknown[] };
    expect(noText.messages.at(-1)).toEqual({
      role: "user",
      content: [{ type: "image_url", image_url: { url: `data:image/jpeg;base64,${B64}` } }],
    });
  });

  it("takes png, jpeg, gif and webp only, and refuses anything else before any request", async () => {
    const { server, client } = await openai();
    expect(["image/png", "image/jpeg", "image/gif", "image/webp", "IMAGE/PNG"].map((m) => client.acceptsMedia(m))).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(["audio/ogg", "video/mp4", "image/heic", "application/pdf"].map((m) => client.acceptsMedia(m))).toEqual([
      false,
      false,
      false,
      false,
    ]);
    const e = await failure(client.complete(request("gpt-test", [{ mime: "audio/ogg", base64: "T2dnUw==" }]), { signal: signal() }));
    expect(e.reason).toBe("responder_model_bad_request");
    expect(e.message).toContain("audio/ogg");
    expect(() => client.describe(request("gpt-test", [{ mime: "audio/ogg", base64: "T2dnUw==" }]))).toThrow(ModelError);
    expect(server.requests).toHaveLength(0);
  });

  it("the fake answers a broken data URL as OpenAI does: 400 invalid_image_format, mapped to bad_request", async () => {
    const { server, client } = await openai();
    const e = await failure(client.complete(request("gpt-test", [{ mime: "image/png", base64: "not base64!" }]), { signal: signal() }));
    expect(e.reason).toBe("responder_model_bad_request");
    expect(e.status).toBe(400);
    expect(e.message).toContain("unsupported image");
    const post = (url: string) =>
      fetch(`${server.url}/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${server.apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({
          model: "gpt-test",
          messages: [{ role: "user", content: [{ type: "image_url", image_url: { url } }] }],
        }),
      });
    const bmp = await post(`data:image/bmp;base64,${B64}`);
    expect(bmp.status).toBe(400);
    expect(((await bmp.json()) as { error: { code: string } }).error.code).toBe("invalid_image_format");
    const remote = await post("https://api.telegram.org/file/bot123:secret/photo.png");
    expect(((await remote.json()) as { error: { code: string } }).error.code).toBe("invalid_image_url");
  });
});

describe("anthropic: base64 image blocks", () => {
  it("sends the text block then the image block; the fake decodes exactly the PNG, and describe() is the wire body", async () => {
    const { server, client } = await anthropic();
    server.reply({ text: "A green rectangle." });
    const req = request("claude-test", [{ mime: "image/png", base64: B64 }]);
    const answer = await client.complete(req, { signal: signal() });
    expect(answer.text).toBe("A green rectangle.");
    const rec = server.requests.find((r) => r.path === "/v1/messages")!;
    expect((rec.body!.messages as unknown[]).at(-1)).toEqual({
      role: "user",
      content: [
        { type: "text", text: "what is in this picture?" },
        { type: "image", source: { type: "base64", media_type: "image/png", data: B64 } },
      ],
    });
    expect(rec.images.map((i) => [i.mediaType, i.bytes.equals(PNG)])).toEqual([["image/png", true]]);
    expect(rec.body).toEqual(client.describe(req).body);
  });

  it("takes jpeg, png, gif and webp only, and refuses anything else before any request", async () => {
    const { server, client } = await anthropic();
    expect(["image/jpeg", "image/png", "image/gif", "image/webp"].every((m) => client.acceptsMedia(m))).toBe(true);
    expect(["audio/ogg", "video/mp4", "image/heic"].some((m) => client.acceptsMedia(m))).toBe(false);
    const e = await failure(client.complete(request("claude-test", [{ mime: "video/mp4", base64: "AAAA" }]), { signal: signal() }));
    expect(e.reason).toBe("responder_model_bad_request");
    expect(server.requests).toHaveLength(0);
  });

  it("the fake refuses a bad media_type, broken base64 and an image over 5 MB of base64 with Anthropic's 400", async () => {
    const { server, client } = await anthropic();
    const post = async (source: Record<string, unknown>) => {
      const r = await fetch(`${server.url}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": server.apiKey, "anthropic-version": "2023-06-01", "content-type": "application/json" },
        body: JSON.stringify({
          model: "claude-test",
          max_tokens: 16,
          messages: [
            {
              role: "user",
              content: [
                { type: "text", text: "hi" },
                { type: "image", source: { type: "base64", ...source } },
              ],
            },
          ],
        }),
      });
      return { status: r.status, body: (await r.json()) as { type: string; error: { type: string; message: string } } };
    };
    const bmp = await post({ media_type: "image/bmp", data: B64 });
    expect(bmp.status).toBe(400);
    expect(bmp.body.error).toEqual({
      type: "invalid_request_error",
      message:
        "messages.0.content.1.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'",
    });
    expect((await post({ media_type: "image/png", data: "@@@@" })).body.error.message).toContain("invalid base64");
    // 4 MB of image is about 5.3 MB of base64: over the cap, which Anthropic measures on the base64 text.
    const big = Buffer.alloc(4 * 1024 * 1024, 7).toString("base64");
    const tooBig = await post({ media_type: "image/png", data: big });
    expect(tooBig.status).toBe(400);
    expect(tooBig.body.error.message).toBe(
      `messages.0.content.1.image.source.base64: image exceeds 5 MB maximum: ${big.length} bytes > 5242880 bytes`,
    );
    // Through the adapter the same 400 is a non-retryable bad_request.
    const e = await failure(client.complete(request("claude-test", [{ mime: "image/png", base64: big }]), { signal: signal() }));
    expect([e.reason, e.status, e.retryable]).toEqual(["responder_model_bad_request", 400, false]);
  });
});

describe("gemini: inlineData parts", () => {
  it("sends the text part then an inlineData part; the fake decodes exactly the PNG and says what it saw", async () => {
    const { server, client } = await gemini();
    const req = request("gemini-2.5-flash", [{ mime: "image/png", base64: B64 }]);
    const answer = await client.complete(req, { signal: signal() });
    expect(answer.text).toBe(`image: image/png ${PNG.length} bytes`);
    const rec = server.requests[0]!;
    expect(rec.body.contents.at(-1)).toEqual({
      parts: [{ text: "what is in this picture?" }, { inlineData: { mimeType: "image/png", data: B64 } }],
      role: "user",
    });
    expect(rec.inline.map((x) => [x.mimeType, x.bytes.equals(PNG)])).toEqual([["image/png", true]]);
    expect(rec.raw).toBe(JSON.stringify(client.describe(req).body));
  });

  it("audio and video go inline too; the default answer names each", async () => {
    const { server, client } = await gemini();
    const wav = makeWav(50);
    const answer = await client.complete(
      request("gemini-2.5-flash", [
        { mime: "audio/wav", base64: wav.toString("base64") },
        { mime: "video/mp4", base64: "AAAAGGZ0eXBtcDQy" },
      ]),
      { signal: signal() },
    );
    expect(answer.text).toBe(`transcript: ${wav.length} bytes of audio/wav\nvideo: video/mp4 12 bytes`);
    expect(server.requests[0]!.inline.map((x) => x.mimeType)).toEqual(["audio/wav", "video/mp4"]);
  });

  it("takes images (not GIF), audio and video; anything else is refused before any request", async () => {
    const { server, client } = await gemini();
    const yes = ["image/png", "image/jpeg", "image/webp", "audio/ogg", "audio/mpeg", "audio/wav", "audio/aac", "audio/flac", "audio/webm"];
    const yesVideo = ["video/mp4", "video/webm", "video/quicktime", "video/3gpp", "audio/ogg; codecs=opus"];
    expect([...yes, ...yesVideo].filter((m) => !client.acceptsMedia(m))).toEqual([]);
    expect(["image/gif", "application/pdf", "text/plain", "application/zip"].filter((m) => client.acceptsMedia(m))).toEqual([]);
    const e = await failure(
      client.complete(request("gemini-2.5-flash", [{ mime: "image/gif", base64: "R0lGODlh" }]), { signal: signal() }),
    );
    expect(e.reason).toBe("responder_model_bad_request");
    expect(server.requests).toHaveLength(0);
  });

  it("the fake refuses what Google refuses: an unsupported MIME type and broken base64, as 400 INVALID_ARGUMENT", async () => {
    const { server } = await gemini();
    const post = async (inlineData: Record<string, unknown>) => {
      const r = await fetch(`${server.url}/v1beta/models/gemini-2.5-flash:generateContent`, {
        method: "POST",
        headers: { "x-goog-api-key": server.apiKey, "content-type": "application/json" },
        body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "what?" }, { inlineData }] }] }),
      });
      return { status: r.status, body: (await r.json()) as { error: { code: number; message: string; status: string } } };
    };
    expect(await post({ mimeType: "image/gif", data: "R0lGODlh" })).toEqual({
      status: 400,
      body: { error: { code: 400, message: "Unsupported MIME type: image/gif", status: "INVALID_ARGUMENT" } },
    });
    const bad = await post({ mimeType: "image/png", data: "%%%" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain("Base64 decoding failed");
  });
});

describe("every adapter", () => {
  it("refuses media it does not take with the same reason, and never calls the server", async () => {
    const all: Array<{ client: ModelClient; count: () => number; model: string }> = [];
    const o = await openai();
    all.push({ client: o.client, count: () => o.server.requests.length, model: "gpt-test" });
    const a = await anthropic();
    all.push({ client: a.client, count: () => a.server.requests.length, model: "claude-test" });
    const g = await gemini();
    all.push({ client: g.client, count: () => g.server.requests.length, model: "gemini-2.5-flash" });
    for (const { client, count, model } of all) {
      expect(client.acceptsMedia("application/x-msdownload")).toBe(false);
      const e = await failure(
        client.complete(request(model, [{ mime: "application/x-msdownload", base64: "TVo=" }]), { signal: signal() }),
      );
      expect([client.provider, e.reason, e.retryable]).toEqual([client.provider, "responder_model_bad_request", false]);
      expect(count()).toBe(0);
    }
  });
});
