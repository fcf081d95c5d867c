/**
 * Email attachments understood end to end: a real Dovecot on 127.0.0.1 holds a message delivered over LMTP (MIME
 * built here: a PNG inline in an HTML body by Content-ID, a PDF and a PNG attached), the real IMAP path (imapflow +
 * mailparser) and the real email normalizer make its envelope, and the real runner and responder worker fetch the
 * attachments from IMAP by UID and part, with vision through the real `openai` SDK against the local server.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { normalizeEmail } from "../../connectors/email/normalize.ts";
import { streamToFile } from "../../connectors/shared/download.ts";
import { createAppRunner, openApp, openIngressWriter, type App } from "../../src/app/index.ts";
import {
  connectImap,
  connectImapPartReader,
  IMAP_CLIENT_DEFAULTS,
  type ImapClientConfig,
} from "../../src/capabilities/mail/imap-client.ts";
import { createEmailMediaSource, stackImapConfig } from "../../src/capabilities/mail/imap-media-source.ts";
import type { Envelope } from "../../src/contracts/envelope.ts";
import { stackYaml } from "../capabilities/mail/support.ts";
import { deliverViaLmtp, startDovecot, type DovecotHandle } from "../helpers/dovecot.ts";
import { TEST_IDENTITY } from "../helpers/identity.ts";
import { makePdf, makePng } from "../helpers/media-files.ts";
import { startOpenAIServer, type OpenAIServerHandle } from "../helpers/openai-server.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY } from "../helpers/tau-home.ts";

const OPS = "ops@example.test";
/** Distinctive, so a leak into any record or detail would be found. */
const PASSWORD = "pw-Zq81-media-secret";
const KEY = "sk-test-123";

let dc: DovecotHandle;
beforeAll(async () => {
  dc = await startDovecot({ users: [{ user: OPS, pass: PASSWORD }] });
}, 30_000);
afterAll(async () => {
  await dc?.stop();
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const imapCfg = (password = PASSWORD): ImapClientConfig => ({
  host: "127.0.0.1",
  port: dc.imapPort,
  secure: false,
  starttls: false,
  user: OPS,
  password: () => password,
  ...IMAP_CLIENT_DEFAULTS,
});

/** Base64 body lines of 76 characters (RFC 2045 §6.8). */
const b64 = (b: Buffer) => b.toString("base64").replace(/.{76}/g, "$&\r\n");

/** One leaf part: headers, blank line, body. */
const leaf = (headers: string[], body: string) => [...headers, "", body].join("\r\n");
/** A multipart body with `boundary` around `parts`. */
const multipart = (boundary: string, parts: string[]) => [...parts.map((p) => `--${boundary}\r\n${p}`), `--${boundary}--`, ""].join("\r\n");

function message(subject: string, contentType: string, body: string, id: string): string {
  return [
    "From: Alice Ops <alice@example.test>",
    `To: ${OPS}`,
    `Subject: ${subject}`,
    `Message-ID: <${id}@example.test>`,
    "Date: Sat, 05 Dec 2026 10:00:00 +0000",
    "MIME-Version: 1.0",
    `Content-Type: ${contentType}`,
    "",
    body,
  ].join("\r\n");
}

/** Deliver over LMTP, then read it back the way the email connector does (fetchSince → normalizeEmail). */
async function deliver(raw: string): Promise<Envelope> {
  await deliverViaLmtp(dc, { from: "alice@example.test", to: OPS, raw });
  const s = await connectImap(imapCfg());
  try {
    const batch = await s.fetchSince("INBOX", 0, 1000);
    const mail = batch.messages.at(-1)!;
    const out = normalizeEmail({ mailbox: "INBOX", uidValidity: batch.uidValidity, mail }, { identity: TEST_IDENTITY, receivedAtMs: 1 });
    if (!out.ok) throw new Error(`normalize: ${out.code} ${out.detail}`);
    return out.envelopes[0]!;
  } finally {
    await s.close();
  }
}

const LOGO = makePng(4, 4, [0, 0, 255]);
const SHOT = makePng(16, 16, [200, 30, 30]);

/** A screenshot mail: HTML with an inline logo (by Content-ID), a PDF and a PNG attached. */
function screenshotMail(id: string): string {
  const related = multipart("REL", [
    leaf(["Content-Type: text/html; charset=utf-8"], '<p>see <img src="cid:logo@example.test"></p>'),
    leaf(
      [
        "Content-Type: image/png",
        "Content-ID: <logo@example.test>",
        'Content-Disposition: inline; filename="logo.png"',
        "Content-Transfer-Encoding: base64",
      ],
      b64(LOGO),
    ),
  ]);
  const alternative = multipart("ALT", [
    leaf(["Content-Type: text/plain; charset=utf-8"], "The dashboard is red, screenshot attached."),
    leaf(['Content-Type: multipart/related; boundary="REL"'], related),
  ]);
  return message(
    "dashboard is red",
    'multipart/mixed; boundary="MIX"',
    multipart("MIX", [
      leaf(['Content-Type: multipart/alternative; boundary="ALT"'], alternative),
      leaf(
        [
          'Content-Type: application/pdf; name="runbook.pdf"',
          'Content-Disposition: attachment; filename="runbook.pdf"',
          "Content-Transfer-Encoding: base64",
        ],
        b64(makePdf()),
      ),
      leaf(
        [
          'Content-Type: image/png; name="shot.png"',
          'Content-Disposition: attachment; filename="shot.png"',
          "Content-Transfer-Encoding: base64",
        ],
        b64(SHOT),
      ),
    ]),
    id,
  );
}

async function rig() {
  const openai = await startOpenAIServer({ apiKey: KEY });
  cleanups.push(() => openai.close());
  const h = makeTauHome(
    `runner:\n  coalesce_window_ms: 0\noutbound:\n  mode: channel-store\n` +
      `responders:\n  assistant:\n    kind: llm\n    provider: openai\n    base_url: ${openai.url}\n    model: gpt-test\n    sdk_max_retries: 0\n` +
      `default_responder: assistant\n`,
    { "channel-policy.yaml": OPEN_CHANNEL_POLICY },
  );
  cleanups.push(() => h.cleanup());
  fs.mkdirSync(path.join(h.dir, "policies", "communications"));
  fs.writeFileSync(path.join(h.dir, "policies", "communications", "stack.yaml"), stackYaml({ mode: "live-pilot", imapPort: dc.imapPort }));
  const app = openApp({ stateDir: h.stateDir, configPath: h.configPath, env: { TAU_OPENAI_API_KEY: KEY, TAU_IMAP_PASSWORD: PASSWORD } });
  cleanups.push(() => app.close());
  return { h, app, openai };
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

const records = (app: App, eventId: string) =>
  app.store.media.recordsOf(eventId).map(({ idx, status, reason, summary }) => ({ idx, status, reason, summary }));
/** The data: URL of the image in a describe request. */
const imageUrlOf = (s: OpenAIServerHandle, i: number) => {
  const msgs = s.chatRequests()[i]!.body!.messages as { role: string; content: unknown }[];
  const parts = msgs.at(-1)!.content as { type: string; image_url?: { url: string } }[];
  return parts.find((p) => p.type === "image_url")?.image_url?.url;
};

/** Dovecot's `Logged out in=… out=…` lines so far. */
const logouts = () => [...fs.readFileSync(dc.logPath, "utf8").matchAll(/Logged out in=(\d+) out=(\d+)/g)].map((m) => Number(m[2]));
const logins = () => [...fs.readFileSync(dc.logPath, "utf8").matchAll(/imap-login: Info: Login: user=<ops@example\.test>/g)].length;

async function waitFor<T>(cond: () => T | undefined | null | false, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("email media source", () => {
  it("describes an attached and an inline PNG fetched from IMAP as data, and refuses the PDF honestly", async () => {
    const env = await deliver(screenshotMail("shot-1"));
    expect(env.attachments.map((a) => [a.kind, a.ref, a.name])).toEqual([
      ["image", "logo@example.test", "logo.png"],
      ["document", "part:2", "runbook.pdf"],
      ["image", "part:3", "shot.png"],
    ]);
    const { app, openai, h } = await rig();
    openai.reply({ text: "A small blue logo." });
    openai.reply({ text: "A red square: the dashboard's error banner." });
    openai.reply({ text: "The web tier is failing its health check." });
    await run(app, env);
    expect(imageUrlOf(openai, 0)).toBe(`data:image/png;base64,${LOGO.toString("base64")}`);
    expect(imageUrlOf(openai, 1)).toBe(`data:image/png;base64,${SHOT.toString("base64")}`);
    expect(records(app, env.event_id)).toEqual([
      { idx: 0, status: "processed", reason: "media_image_described", summary: "A small blue logo." },
      { idx: 1, status: "skipped", reason: "media_unsupported_attachment_type", summary: "documents are not read" },
      { idx: 2, status: "processed", reason: "media_image_described", summary: "A red square: the dashboard's error banner." },
    ]);
    const uv = env.meta.uidvalidity as string;
    const uid = env.meta.uid as number;
    expect(app.store.media.recordsOf(env.event_id).map((r) => [r.file_identity, r.detected_mime, r.bytes])).toEqual([
      [`email:INBOX:${uv}:${uid}:1.2.2`, "image/png", LOGO.length],
      [null, null, null],
      [`email:INBOX:${uv}:${uid}:3`, "image/png", SHOT.length],
    ]);
    const said = openai.chatRequests().at(-1)!.body!.messages as { role: string; content: unknown }[];
    expect(String(said.at(-1)!.content)).toContain("[attachment 3 (image/png): A red square: the dashboard's error banner.]");
    expect(fs.readdirSync(path.join(h.stateDir, "media"))).toEqual([]);
  });

  it("gives media_provider_error for a changed UIDVALIDITY, a UID no longer there and an unknown part, never the password", async () => {
    const env = await deliver(screenshotMail("shot-2"));
    const uv = env.meta.uidvalidity as string;
    const { app, openai } = await rig();
    openai.setDefault(() => ({ text: "I could not see the screenshot." }));
    const shot = env.attachments[2]!;
    const variant = (n: number, meta: Envelope["meta"], ref = shot.ref): Envelope => ({
      ...env,
      event_id: `${env.event_id}:v${n}`,
      meta: { ...env.meta, ...meta },
      attachments: [{ ...shot, ref }],
    });
    const changed = variant(1, { uidvalidity: String(Number(uv) + 1) });
    const gone = variant(2, { uid: 999_999 });
    const unknown = variant(3, {}, "part:9");
    const { mailbox: _m, ...unplaced } = env.meta;
    const noWhere: Envelope = { ...variant(4, {}), meta: unplaced };
    await run(app, changed, gone, unknown, noWhere);
    expect(records(app, changed.event_id)).toEqual([
      {
        idx: 0,
        status: "failed",
        reason: "media_provider_error",
        summary: `mailbox changed: INBOX now has UIDVALIDITY ${uv}, the message was ingested under ${Number(uv) + 1}`,
      },
    ]);
    expect(records(app, gone.event_id)).toEqual([
      { idx: 0, status: "failed", reason: "media_provider_error", summary: "message UID 999999 is no longer in INBOX" },
    ]);
    expect(records(app, unknown.event_id)).toEqual([
      {
        idx: 0,
        status: "failed",
        reason: "media_provider_error",
        summary: `message UID ${env.meta.uid as number} has no attachment part:9 (3 attachment parts)`,
      },
    ]);
    expect(records(app, noWhere.event_id)).toEqual([
      {
        idx: 0,
        status: "failed",
        reason: "media_provider_error",
        summary: "the envelope does not say where the message is (meta.mailbox, meta.uid, meta.uidvalidity)",
      },
    ]);
    // Nothing was sent to the model as an image.
    expect(openai.chatRequests().every((r) => !JSON.stringify(r.body).includes("image_url"))).toBe(true);
    expect(JSON.stringify(app.store.media.recordsOf(changed.event_id))).not.toContain(PASSWORD);
  });

  it("fetches only the part, over one connection for resolve and download, and logs out when idle", async () => {
    // A 400 KB PDF in front of a small PNG: the PNG's download must not carry the PDF.
    const pdf = Buffer.concat([makePdf(), Buffer.alloc(400_000, 0x41)]);
    const raw = message(
      "big pdf",
      'multipart/mixed; boundary="M"',
      multipart("M", [
        leaf(["Content-Type: text/plain"], "two files"),
        leaf(['Content-Type: application/pdf; name="big.pdf"', "Content-Transfer-Encoding: base64"], b64(pdf)),
        leaf(['Content-Type: image/png; name="small.png"', "Content-Transfer-Encoding: base64"], b64(SHOT)),
      ]),
      "big-1",
    );
    const env = await deliver(raw);
    await waitFor(() => logouts().length >= logins(), 5000, "the delivery check's logout");
    const [loginsBefore, logoutsBefore] = [logins(), logouts().length];
    const source = createEmailMediaSource({ imap: () => imapCfg(), streamToFile, timeoutMs: 10_000, idleMs: 100 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-email-media-"));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const signal = new AbortController().signal;
    const resolved = await source.resolve(env.attachments[1]!, env, signal);
    if (!resolved.ok) throw new Error(resolved.detail);
    expect(resolved.media.identity).toBe(`INBOX:${env.meta.uidvalidity as string}:${env.meta.uid as number}:3`);
    // base64: the decoded size is not known from BODYSTRUCTURE, so none is declared (the envelope's size stands).
    expect(resolved.media.declaredSize).toBeNull();
    const got = await resolved.media.download(path.join(dir, "small"), 1_000_000, signal);
    expect(got).toEqual({ ok: true, bytes: SHOT.length });
    expect(fs.readFileSync(path.join(dir, "small")).equals(SHOT)).toBe(true);
    expect(logins() - loginsBefore).toBe(1);
    const out = await waitFor(() => logouts().slice(logoutsBefore)[0], 5000, "the idle connection's logout");
    expect(out).toBeLessThan(20_000);
    expect(raw.length).toBeGreaterThan(500_000);

    // Over the cap: cut off, reported, nothing kept.
    const again = await source.resolve(env.attachments[0]!, env, signal);
    if (!again.ok) throw new Error(again.detail);
    const cut = await again.media.download(path.join(dir, "pdf"), 100_000, signal);
    expect(cut).toMatchObject({ ok: false, reason: "media_attachment_limit_exceeded" });
    // Nothing kept: streamToFile opens the file itself before streaming, so its cleanup cannot run before the open.
    expect(fs.existsSync(path.join(dir, "pdf"))).toBe(false);
  });

  it("reports a refused login, a missing stack contract and a missing password as media_provider_error, never the password", async () => {
    const env = await deliver(screenshotMail("shot-3"));
    const wrong = "wrong-pw-Qx9-never-shown";
    const source = createEmailMediaSource({ imap: () => imapCfg(wrong), streamToFile, timeoutMs: 10_000, idleMs: 100 });
    const out = await source.resolve(env.attachments[0]!, env, new AbortController().signal);
    expect(out).toMatchObject({ ok: false, reason: "media_provider_error" });
    expect(!out.ok && out.detail).toContain("imap_auth_failed");
    expect(JSON.stringify(out)).not.toContain(wrong);
    // No stack contract, or no password: said so, before any connection.
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "tau-email-media-"));
    cleanups.push(() => fs.rmSync(empty, { recursive: true, force: true }));
    const noStack = createEmailMediaSource({ imap: stackImapConfig(empty, () => null), streamToFile, timeoutMs: 10_000 });
    const noStackOut = await noStack.resolve(env.attachments[0]!, env, new AbortController().signal);
    expect(noStackOut).toMatchObject({ ok: false, reason: "media_provider_error" });
    expect(!noStackOut.ok && noStackOut.detail).toContain("stack.yaml");
    const noPassword = createEmailMediaSource({ imap: () => imapCfg(""), streamToFile, timeoutMs: 10_000 });
    expect(await noPassword.resolve(env.attachments[0]!, env, new AbortController().signal)).toMatchObject({
      ok: false,
      reason: "media_provider_error",
      detail: expect.stringContaining("MISSING_IMAP_PASSWORD"),
    });
  });

  it("numbers attachments exactly as mailparser lists them, nested messages and body-like types included", async () => {
    const inner = makePng(2, 2, [1, 2, 3]);
    const single = makePng(3, 3, [9, 9, 9]);
    const csv = "host,status\r\nweb-1,down=bad\r\n";
    const forwarded = message(
      "forwarded inline",
      'multipart/mixed; boundary="IN"',
      multipart("IN", [
        leaf(["Content-Type: text/plain"], "inner text"),
        leaf(
          ['Content-Type: image/png; name="inner.png"', "Content-Disposition: attachment", "Content-Transfer-Encoding: base64"],
          b64(inner),
        ),
      ]),
      "inner-1",
    );
    const raw = message(
      "everything",
      'multipart/mixed; boundary="OUT"',
      multipart("OUT", [
        leaf(["Content-Type: text/plain"], "the body"),
        leaf(['Content-Type: text/plain; name="notes.txt"', 'Content-Disposition: attachment; filename="notes.txt"'], "some notes"),
        leaf(["Content-Type: message/rfc822", "Content-Disposition: inline"], forwarded),
        leaf(["Content-Type: message/rfc822", 'Content-Disposition: attachment; filename="fwd.eml"'], forwarded),
        leaf(["Content-Type: message/delivery-status"], "Reporting-MTA: dns; mx.example.test\r\n"),
        leaf(
          ['Content-Type: application/octet-stream; name="data.bin"', "Content-Transfer-Encoding: base64"],
          b64(Buffer.from([0, 1, 2, 255])),
        ),
        leaf(["Content-Type: text/html"], "<p>more body</p>"),
        leaf(['Content-Type: text/csv; name="report.csv"', "Content-Transfer-Encoding: quoted-printable"], csv.replace("=", "=3D")),
        leaf(
          ["Content-Type: message/rfc822", "Content-Disposition: inline"],
          [
            "Subject: one part",
            "MIME-Version: 1.0",
            "Content-Type: image/png; name=single.png",
            "Content-Transfer-Encoding: base64",
            "",
            b64(single),
          ].join("\r\n"),
        ),
      ]),
      "everything-1",
    );
    const env = await deliver(raw);
    // What mailparser (through the real connector path) listed: the normalizer's order.
    expect(env.attachments.map((a) => [a.ref, a.name, a.mime])).toEqual([
      ["part:1", "notes.txt", "text/plain"],
      ["part:2", "inner.png", "image/png"],
      ["part:3", "fwd.eml", "message/rfc822"],
      ["part:4", "data.bin", "application/octet-stream"],
      ["part:5", "report.csv", "text/csv"],
      ["part:6", "single.png", "image/png"],
    ]);
    const reader = await connectImapPartReader(imapCfg());
    try {
      expect(await reader.examine("INBOX")).toBe(env.meta.uidvalidity);
      const parts = (await reader.attachmentsOf(env.meta.uid as number))!;
      expect(parts.map((p) => [p.part, p.filename, p.contentType])).toEqual([
        ["2", "notes.txt", "text/plain"],
        ["3.2", "inner.png", "image/png"],
        ["4", "fwd.eml", "message/rfc822"],
        ["6", "data.bin", "application/octet-stream"],
        ["8", "report.csv", "text/csv"],
        ["9.1", "single.png", "image/png"],
      ]);
      const bodies: Buffer[] = [];
      for (const p of parts) {
        const chunks: Buffer[] = [];
        for await (const c of (await reader.download(env.meta.uid as number, p.part, 1_000_000))! as AsyncIterable<Buffer>) chunks.push(c);
        bodies.push(Buffer.concat(chunks));
      }
      expect(bodies.map((b) => b.length)).toEqual(env.attachments.map((a) => a.size));
      expect(bodies[0]!.toString()).toBe("some notes");
      expect(bodies[1]!.equals(inner)).toBe(true);
      expect(bodies[3]!.equals(Buffer.from([0, 1, 2, 255]))).toBe(true);
      expect(bodies[4]!.toString()).toBe(csv);
      expect(bodies[5]!.equals(single)).toBe(true);
    } finally {
      await reader.close();
    }
  });
});
