/**
 * Media understanding end to end: real runner and responder worker over real SQLite, attachments fetched from the
 * local Telegram / Discord / WhatsApp servers with each platform's protocol, vision through the real `openai` SDK
 * against the local OpenAI-compatible server, audio through its `/v1/audio/transcriptions`. Media files are made by
 * code (a PNG, a WAV, an Ogg voice note, a PDF). Replies are recorded in channel-store mode.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createAppRunner, createServices, openApp, openIngressWriter, type App } from "../../src/app/index.ts";
import type { Attachment, Envelope } from "../../src/contracts/envelope.ts";
import { makeDm, makeEnvelope } from "../helpers/envelope-factory.ts";
import { makeOggOpus, makePdf, makePng } from "../helpers/media-files.ts";
import { startOpenAIServer, type OpenAIServerHandle } from "../helpers/openai-server.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";
import { startTelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";
import { startWhatsAppGraphServer } from "../helpers/whatsapp-graph-server.ts";
import { startDiscordServer } from "../helpers/discord-server.ts";
import { runTau } from "../helpers/run-tau.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const KEY = "sk-test-123";

async function rig(opts: { media?: string; transcription?: boolean } = {}) {
  const openai = await startOpenAIServer({ apiKey: KEY });
  cleanups.push(() => openai.close());
  const tg = await startTelegramBotApiServer();
  cleanups.push(() => tg.close());
  const wa = await startWhatsAppGraphServer({ mediaUrlTtlMs: 50 });
  cleanups.push(() => wa.close());
  const dc = await startDiscordServer();
  cleanups.push(() => dc.close());
  const lines = [
    ...(opts.media ? [opts.media] : []),
    ...(opts.transcription ? [`  transcription: { provider: openai, base_url: ${openai.url}, model: whisper-1 }`] : []),
  ];
  const media = lines.length ? ["media:", ...lines].join("\n") : "";
  const h: TauHome = makeTauHome(
    `runner:\n  coalesce_window_ms: 0\noutbound:\n  mode: channel-store\n` +
      `connectors:\n  telegram: { api_root: ${tg.url} }\n  discord: { api_root: ${dc.url}/api }\n  whatsapp: { api_root: ${wa.url}/v23.0 }\n` +
      `responders:\n  assistant:\n    kind: llm\n    provider: openai\n    base_url: ${openai.url}\n    model: gpt-test\n    sdk_max_retries: 0\n` +
      `default_responder: assistant\n${media}\n`,
    { "channel-policy.yaml": OPEN_CHANNEL_POLICY },
  );
  cleanups.push(() => h.cleanup());
  const env = {
    TAU_OPENAI_API_KEY: KEY,
    TAU_TELEGRAM_BOT_TOKEN: tg.token,
    TAU_DISCORD_BOT_TOKEN: dc.token,
    TAU_WHATSAPP_ACCESS_TOKEN: wa.accessToken,
  };
  const app = openApp({ stateDir: h.stateDir, configPath: h.configPath, env });
  cleanups.push(() => app.close());
  return { h, app, openai, tg, wa, dc, env };
}

async function run(app: App, ...envs: Envelope[]) {
  const w = openIngressWriter(app);
  for (const e of envs) await w.append(e.transport, [e]);
  await w.close();
  const { runner, close } = createAppRunner(app);
  try {
    await runner.drain();
  } finally {
    close();
  }
}

const att = (a: Partial<Attachment> & Pick<Attachment, "kind" | "ref">): Attachment => ({ mime: null, size: null, name: null, ...a });
/** The user turn of the main answer: the last chat request's last message. */
const lastUserContent = (s: OpenAIServerHandle) => {
  const msgs = s.chatRequests().at(-1)!.body!.messages as { role: string; content: unknown }[];
  return String(msgs.at(-1)!.content);
};
const records = (app: App, eventId: string) =>
  app.store.media.recordsOf(eventId).map(({ idx, status, reason, summary }) => ({ idx, status, reason, summary }));

describe("media understanding", () => {
  it("describes a Telegram screenshot through the model as data, feeds the answer, records it, and deletes the file", async () => {
    const { app, openai, tg, h } = await rig();
    const png = makePng(8, 8);
    const file = tg.addFile({ content: png, file_path: "photos/file_1.png" });
    openai.reply({ text: "A red square: the dashboard's error banner." });
    openai.reply({ text: "That banner means the web tier is failing its health check." });
    await run(
      app,
      makeDm("4242", { event_id: "telegram:6112:u:1", text: "what is this?", attachments: [att({ kind: "image", ref: file.file_id })] }),
    );
    const describeReq = openai.chatRequests()[0]!.body!.messages as { role: string; content: unknown }[];
    const parts = describeReq.at(-1)!.content as { type: string; image_url?: { url: string } }[];
    expect(parts.find((p) => p.type === "image_url")?.image_url?.url).toBe(`data:image/png;base64,${png.toString("base64")}`);
    expect(JSON.stringify(openai.chatRequests()[0]!.body)).not.toContain(tg.token);
    expect(lastUserContent(openai)).toBe("what is this?\n\n[attachment 1 (image/png): A red square: the dashboard's error banner.]");
    expect(records(app, "telegram:6112:u:1")).toEqual([
      { idx: 0, status: "processed", reason: "media_image_described", summary: "A red square: the dashboard's error banner." },
    ]);
    expect(fs.readdirSync(path.join(h.stateDir, "media"))).toEqual([]);
    // The same file again (same file_unique_id): the earlier result, no download, no model call.
    const downloads = tg.requests.filter((r) => r.path.startsWith("/file/")).length;
    openai.reply({ text: "Same banner as before." });
    await run(
      app,
      makeDm("4242", { event_id: "telegram:6112:u:2", text: "and this?", attachments: [att({ kind: "image", ref: file.file_id })] }),
    );
    expect(records(app, "telegram:6112:u:2")).toEqual([
      { idx: 0, status: "processed", reason: "media_duplicate_attachment", summary: "A red square: the dashboard's error banner." },
    ]);
    expect(tg.requests.filter((r) => r.path.startsWith("/file/")).length).toBe(downloads);
    expect(openai.chatRequests()).toHaveLength(3);
  });

  it("gives honest codes: over the attachment limit, over the size cap (no download), empty, a PDF, a voice note without transcription", async () => {
    const { app, openai, tg } = await rig({ media: "  max_attachments: 4\n  max_bytes: { image: 1000 }" });
    const big = tg.addFile({ content: makePng(64, 64, [1, 2, 3]), file_size: 5000 });
    const empty = tg.addFile({ content: Buffer.alloc(0) });
    const pdf = tg.addFile({ content: makePdf() });
    const voice = tg.addFile({ content: makeOggOpus() });
    const extra = tg.addFile({ content: makePng() });
    openai.reply({ text: "I could not look at the attachments, but here is what I know." });
    await run(
      app,
      makeDm("4242", {
        event_id: "telegram:6112:u:1",
        text: "see attached",
        attachments: [
          att({ kind: "image", ref: big.file_id, size: 5000 }),
          att({ kind: "image", ref: empty.file_id }),
          att({ kind: "document", ref: pdf.file_id }),
          att({ kind: "voice", ref: voice.file_id }),
          att({ kind: "image", ref: extra.file_id }),
        ],
      }),
    );
    expect(records(app, "telegram:6112:u:1").map((r) => [r.idx, r.status, r.reason])).toEqual([
      [0, "skipped", "media_attachment_limit_exceeded"],
      [1, "skipped", "media_unsupported_attachment_type"],
      [2, "skipped", "media_unsupported_attachment_type"],
      [3, "skipped", "media_unsupported_attachment_type"],
      [4, "skipped", "media_attachment_limit_exceeded"],
    ]);
    expect(tg.requests.filter((r) => r.path.includes(big.file_path!)).length).toBe(0);
    // The text is still answered, and the model is told honestly what it did not see.
    expect(openai.chatRequests()).toHaveLength(1);
    const said = lastUserContent(openai);
    expect(said).toContain("see attached");
    expect(said).toContain("[attachment 4 (voice): not understood — no transcription is configured (media.transcription)]");
    expect(said).not.toMatch(/described|transcript:/);
  });

  it("transcribes a voice note, types a mislabelled file by its bytes, and reports a truncated download as a provider error", async () => {
    const { app, openai, tg } = await rig({ transcription: true });
    const voice = tg.addFile({ content: makeOggOpus(), file_path: "voice/file_9.oga" });
    const lying = tg.addFile({ content: makePng(), file_path: "voice/file_10.oga" });
    const cut = tg.addFile({ content: makePng().subarray(0, 30), file_size: 400 });
    openai.transcribeNext({ text: "The database is down again, please check the replica." });
    openai.reply({ text: "A tiny red picture." });
    openai.reply({ text: "Checking the replica now." });
    await run(
      app,
      makeDm("4242", {
        event_id: "telegram:6112:u:1",
        text: "",
        attachments: [
          att({ kind: "voice", ref: voice.file_id }),
          att({ kind: "voice", ref: lying.file_id }),
          att({ kind: "image", ref: cut.file_id }),
        ],
      }),
    );
    expect(records(app, "telegram:6112:u:1").map((r) => [r.status, r.reason])).toEqual([
      ["processed", "media_audio_transcribed"],
      ["processed", "media_image_described"],
      ["failed", "media_provider_error"],
    ]);
    expect(lastUserContent(openai)).toContain("transcript: The database is down again, please check the replica.");
    expect(app.store.media.recordsOf("telegram:6112:u:1")[1]!.detected_mime).toBe("image/png");
  });

  it("downloads WhatsApp media with the bearer token, looking the URL up again once when it has expired", async () => {
    const { app, openai, wa } = await rig();
    const m = wa.addMedia({ content: makePng(), mime_type: "audio/ogg" });
    openai.reply({ text: "A picture of a red square." });
    openai.reply({ text: "Got it." });
    // The lookup's URL lives 50 ms; the first download is held past that, so the server refuses it as expired.
    wa.delayNext(120, { match: (r) => r.method === "GET" && r.path.startsWith("/media/") });
    const env = makeEnvelope({
      event_id: "whatsapp:106540352242922:wamid.1",
      transport: "whatsapp",
      provider: "whatsapp-cloud-api",
      account_id: "106540352242922",
      conversation_id: "15551234567",
      chat_type: "dm",
      actor: { id: "15551234567" },
      text: "look",
      attachments: [att({ kind: "image", ref: m.id })],
    });
    await run(app, env);
    expect(records(app, env.event_id).map((r) => [r.status, r.reason])).toEqual([["processed", "media_image_described"]]);
    expect(app.store.media.recordsOf(env.event_id)[0]!.file_identity).toBe(`whatsapp:${m.sha256}`);
    expect(wa.requests.filter((r) => r.method === "GET" && r.path === `/${m.id}`)).toHaveLength(2);
    expect(wa.requests.filter((r) => r.method === "GET" && r.path.startsWith("/media/")).map((r) => r.status)).toEqual([404, 200]);
    expect(
      wa.requests
        .filter((r) => r.method === "GET" && r.path.startsWith("/media/"))
        .every((r) => r.headers.authorization === `Bearer ${wa.accessToken}`),
    ).toBe(true);
  });

  it("reads a Discord attachment's fresh URL from the message and shows the records with tau media inspect --json", async () => {
    const { app, openai, dc, h, env: secrets } = await rig();
    const a = dc.addAttachment("shot.png", makePng(), "image/png");
    const msg = dc.addMessage("1100000000000000010", { content: "error?", attachments: [a] });
    openai.reply({ text: "An error dialog." });
    openai.reply({ text: "That dialog is the 502 page." });
    const env = makeEnvelope({
      event_id: `discord:1:m:${String(msg.id)}`,
      transport: "discord",
      provider: "discord",
      account_id: "1100000000000000001",
      conversation_id: "1100000000000000010",
      chat_type: "group",
      text: "error?",
      meta: { message_id: String(msg.id) },
      attachments: [att({ kind: "image", ref: String(a.id) })],
    });
    await run(app, env);
    expect(records(app, env.event_id)).toEqual([
      { idx: 0, status: "processed", reason: "media_image_described", summary: "An error dialog." },
    ]);
    const out = await runTau(["media", "inspect", env.event_id, "--json", "--config", h.configPath, "--state-dir", h.stateDir], {
      env: secrets,
    });
    expect(out.code).toBe(0);
    expect(out.json<{ records: { reason: string; detected_mime: string }[] }>().records).toMatchObject([
      { reason: "media_image_described", detected_mime: "image/png" },
    ]);
    const traces = await runTau(["traces", "--event", env.event_id, "--json", "--config", h.configPath, "--state-dir", h.stateDir], {
      env: secrets,
    });
    expect(traces.json<{ media_understanding: unknown[] }[]>()[0]!.media_understanding).toEqual([
      { attachment: 1, kind: "image", status: "processed", reason: "media_image_described", summary: "An error dialog." },
    ]);
    const services = createServices(app);
    const status = await services.registry
      .get("tau.status")!
      .run({}, { principal: "cli:root", role: "admin", surface: "cli", now: app.clock(), services, origin: null });
    expect((status.data as { media: Record<string, number> }).media).toEqual({ media_image_described: 1 });
    expect(status.text).toContain("Media (24 h): media_image_described ×1.");
  });
});
