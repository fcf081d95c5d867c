/**
 * Provider senders under faults (issue 14), one suite for every real client against its local server: grammY
 * (node-fetch on node:http) → Telegram, @discordjs/rest (undici) → Discord, axios (node:http) → WhatsApp. Each fault
 * is injected by script. The verdicts: a send whose bytes never reached a connection is retried; one that may have
 * arrived is ambiguous (re-sent only with Discord's nonce); an HTTP status classifies the failure whatever the body.
 */
import { createHash } from "node:crypto";
import dc from "node:diagnostics_channel";
import type { Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { ProviderSender, SendOutcome } from "../../src/contracts/delivery.ts";
import type { ChunkJob } from "../../src/contracts/outbound.ts";
import { createTelegramSender } from "../../connectors/telegram/sender.ts";
import { createDiscordSender } from "../../connectors/discord/sender.ts";
import { createWhatsAppSender } from "../../connectors/whatsapp/sender.ts";
import { freePort } from "../helpers/free-port.ts";
import { startTelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";
import { startDiscordServer, DEFAULT_CHANNEL_ID } from "../helpers/discord-server.ts";
import { startWhatsAppGraphServer } from "../helpers/whatsapp-graph-server.ts";

/** What each provider's rig offers the shared suite: a sender, and faults on its send route. */
interface Rig {
  sender(timeoutMs?: number): ProviderSender;
  job(text: string): ChunkJob;
  /** Messages the provider holds with this text. */
  held(text: string): number;
  /** Send requests the server saw (faulted ones included). */
  sends(): number;
  raw(f: { status: number; body: string; contentType?: string; headers?: Record<string, string> }): void;
  html(status: number): void;
  reset(): void;
  drop(): void;
  resetMidBody(): void;
  closeAfter(): void;
  delay(ms: number): void;
  /** A 429 whose only wait is the Retry-After header (the body is the provider's, without its wait value). */
  rateLimitHeaderOnly(seconds: number): void;
  /** A 429 (or the provider's rate-limit answer) whose wait, if any, is only in the body. */
  rateLimitBodyOnly(seconds: number): void;
  close(): Promise<void>;
}

interface Provider {
  name: "telegram" | "discord" | "whatsapp";
  idempotent: boolean;
  /** The client itself moves a request off a pooled socket the server closed (undici), instead of failing it. */
  reconnectsStaleSockets: boolean;
  /**
   * The wait a body-only rate limit yields, as [min, max] ms or null for "not stated": Telegram's `retry_after`;
   * Discord's client ignores the JSON `retry_after` and falls back to its bucket's reset (the fake's 1 s window);
   * a Graph rate-limit code states no wait.
   */
  bodyOnlyWaitMs: (seconds: number) => [number, number] | null;
  start(port?: number): Promise<Rig>;
  /** A sender pointed at a port nothing listens on. */
  refused(port: number): ProviderSender;
}

const target = { account_id: "106540352242922", thread_id: null, reply_to: null };
const conversation = { telegram: "4242", discord: DEFAULT_CHANNEL_ID, whatsapp: "16505551234" } as const;

/** One chunk to `p`'s test conversation; the outbox id (and so Discord's nonce) follows the text. */
function jobOf(p: { name: keyof typeof conversation }, text: string): ChunkJob {
  return {
    outbox_id: `ob_${createHash("sha256").update(text).digest("hex").slice(0, 24)}`,
    idx: 0,
    chunk_count: 1,
    text,
    target: { ...target, transport: p.name, conversation_id: conversation[p.name] },
  };
}

const telegram: Provider = {
  name: "telegram",
  idempotent: false,
  reconnectsStaleSockets: false,
  bodyOnlyWaitMs: (s) => [s * 1000, s * 1000],
  refused: (port) =>
    createTelegramSender({ apiRoot: `http://127.0.0.1:${port}`, token: () => "123456:TEST-token_abcdefghijklmnopqrstuvwx" }),
  async start(port) {
    const s = await startTelegramBotApiServer(port ? { port } : {});
    const m = { method: "sendMessage" };
    return {
      sender: (timeoutMs = 2000) => createTelegramSender({ apiRoot: s.url, token: () => s.token, timeoutMs }),
      job: (text) => jobOf(telegram, text),
      held: (text) => s.sentMessages.filter((x) => x.text === text).length,
      sends: () => s.callsTo("sendMessage").length,
      raw: (f) => s.failRawNext({ ...m, ...f }),
      html: (status) => s.htmlErrorNext(status, m),
      reset: () => s.resetNext(m),
      drop: () => s.dropNext(m),
      resetMidBody: () => s.resetMidBodyNext(m),
      closeAfter: () => s.closeAfterNext(m),
      delay: (ms) => s.delayNext(ms, m),
      rateLimitHeaderOnly: (sec) =>
        s.failNext({
          ...m,
          status: 429,
          body: { ok: false, error_code: 429, description: "Too Many Requests" },
          headers: { "retry-after": String(sec) },
        }),
      rateLimitBodyOnly: (sec) => s.rateLimitNext(sec, m),
      close: () => s.close(),
    };
  },
};

const discord: Provider = {
  name: "discord",
  idempotent: true,
  reconnectsStaleSockets: true,
  bodyOnlyWaitMs: () => [1, 1000],
  refused: (port) => createDiscordSender({ apiRoot: `http://127.0.0.1:${port}/api`, token: () => "MTMw.GfAkE1.refused" }),
  async start(port) {
    const s = await startDiscordServer({ echoOwnMessages: false, ...(port ? { port } : {}) });
    const m = { match: "POST /channels" };
    return {
      sender: (timeoutMs = 2000) => createDiscordSender({ apiRoot: `${s.url}/api`, token: () => s.token, timeoutMs }),
      job: (text) => jobOf(discord, text),
      held: (text) => s.messagesIn(DEFAULT_CHANNEL_ID).filter((x) => x["content"] === text).length,
      sends: () => s.requests.filter((r) => r.method === "POST" && r.path.endsWith("/messages")).length,
      raw: (f) => s.failRawNext({ ...m, ...f }),
      html: (status) => s.htmlErrorNext(status, m),
      reset: () => s.resetNext(m),
      drop: () => s.dropNext(m),
      resetMidBody: () => s.resetMidBodyNext(m),
      closeAfter: () => s.closeAfterNext(m),
      delay: (ms) => s.delayNext(ms, m),
      rateLimitHeaderOnly: (sec) =>
        s.rateLimitNext({ ...m, retryAfter: sec, body: { message: "You are being rate limited.", global: false } }),
      rateLimitBodyOnly: (sec) =>
        s.failNext({ ...m, status: 429, body: { message: "You are being rate limited.", retry_after: sec, global: false } }),
      close: () => s.close(),
    };
  },
};

const whatsapp: Provider = {
  name: "whatsapp",
  idempotent: false,
  reconnectsStaleSockets: false,
  bodyOnlyWaitMs: () => null,
  refused: (port) => createWhatsAppSender({ apiRoot: `http://127.0.0.1:${port}/v23.0`, token: () => "EAAGrefused" }),
  async start(port) {
    const s = await startWhatsAppGraphServer(port ? { port } : {});
    s.recordInbound("16505551234");
    const m = { match: "POST /" };
    return {
      sender: (timeoutMs = 2000) => createWhatsAppSender({ apiRoot: `${s.url}/v23.0`, token: () => s.accessToken, timeoutMs }),
      job: (text) => jobOf(whatsapp, text),
      held: (text) => s.sentMessages.filter((x) => x.text === text).length,
      sends: () => s.requests.filter((r) => r.method === "POST" && r.path.endsWith("/messages")).length,
      raw: (f) => s.failRawNext({ ...m, ...f }),
      html: (status) => s.htmlErrorNext(status, m),
      reset: () => s.resetNext(m),
      drop: () => s.dropNext(m),
      resetMidBody: () => s.resetMidBodyNext(m),
      closeAfter: () => s.closeAfterNext(m),
      delay: (ms) => s.delayNext(ms, m),
      rateLimitHeaderOnly: (sec) =>
        s.failRawNext({ ...m, status: 429, body: "Too Many Requests", contentType: "text/plain", headers: { "retry-after": String(sec) } }),
      rateLimitBodyOnly: () => s.failNextWithCode(130429, m),
      close: () => s.close(),
    };
  },
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function rigOf(p: Provider, port?: number): Promise<Rig> {
  const r = await p.start(port);
  cleanups.push(() => r.close());
  return r;
}

/** A failed outcome, for reading its fields. */
function failed(o: SendOutcome) {
  if (o.ok) throw new Error(`expected a failure, got ${JSON.stringify(o)}`);
  return o;
}

describe.each([telegram, discord, whatsapp])("$name sender under faults", (p) => {
  it("a refused connection (reset before any byte) is retryable; once the server is up the retry delivers once", async () => {
    const port = await freePort();
    const out = failed(await p.refused(port).send(jobOf(p, "knock knock")));
    expect(out).toMatchObject({ code: "delivery_transport_error", retryable: true, ambiguous: false, status: null });
    expect(out.detail).toContain("no byte reached the connection");
    const rig = await rigOf(p, port);
    expect(await rig.sender().send(rig.job("knock knock"))).toMatchObject({ ok: true });
    expect(rig.held("knock knock")).toBe(1);
  });

  it("a connection closed after the whole request was read is ambiguous", async () => {
    const rig = await rigOf(p);
    rig.reset();
    const out = failed(await rig.sender().send(rig.job("did it arrive?")));
    expect(out).toMatchObject({ code: "delivery_ambiguous", ambiguous: true, retryable: p.idempotent, status: null });
    expect(out.detail).toContain("may have been delivered");
  });

  it("a connection closed after the request was processed is ambiguous, and the provider holds the message once", async () => {
    const rig = await rigOf(p);
    rig.drop();
    const out = failed(await rig.sender().send(rig.job("processed, unanswered")));
    expect(out).toMatchObject({ code: "delivery_ambiguous", ambiguous: true, retryable: p.idempotent });
    expect(rig.held("processed, unanswered")).toBe(1);
    if (p.idempotent) {
      // Discord: the nonce makes the re-send return the message that exists.
      expect(await rig.sender().send(rig.job("processed, unanswered"))).toMatchObject({ ok: true });
      expect(rig.held("processed, unanswered")).toBe(1);
    }
  });

  it("a connection closed half-way through the body is ambiguous (the client never saw its body finish)", async () => {
    const rig = await rigOf(p);
    rig.resetMidBody();
    const big = `${"x".repeat(16_000_000)} end`;
    const out = failed(await rig.sender().send(rig.job(big)));
    expect(out).toMatchObject({ code: "delivery_ambiguous", ambiguous: true, retryable: p.idempotent });
  });

  it.each([502, 503, 504])("an HTML %i from a proxy is the provider being unavailable: retryable", async (status) => {
    const rig = await rigOf(p);
    rig.html(status);
    const out = failed(await rig.sender().send(rig.job("through the proxy")));
    expect(out).toMatchObject({ code: "delivery_provider_unavailable", retryable: true, ambiguous: false, status });
  });

  it("an empty 500 is retryable; a truncated JSON 400 is final — the status decides, not the body", async () => {
    const rig = await rigOf(p);
    rig.raw({ status: 500, body: "" });
    expect(failed(await rig.sender().send(rig.job("empty")))).toMatchObject({
      code: "delivery_provider_unavailable",
      retryable: true,
      status: 500,
    });
    rig.raw({ status: 400, body: '{"ok":false,"error_code":400,"descr', contentType: "application/json" });
    expect(failed(await rig.sender().send(rig.job("truncated")))).toMatchObject({
      code: "delivery_request_rejected",
      retryable: false,
      ambiguous: false,
      status: 400,
    });
  });

  it("a 2xx whose body cannot be read was accepted: sent, not sent again", async () => {
    const rig = await rigOf(p);
    rig.raw({ status: 200, body: '{"ok":true,"result":{"message_id":', contentType: "application/json" });
    expect(await rig.sender().send(rig.job("accepted"))).toEqual({ ok: true, provider_message_id: "unknown:200" });
  });

  it("a 429 with only a Retry-After header is waited for as told", async () => {
    const rig = await rigOf(p);
    rig.rateLimitHeaderOnly(7);
    const out = failed(await rig.sender().send(rig.job("slow down")));
    expect(out).toMatchObject({ code: "delivery_rate_limited", retryable: true, status: 429 });
    expect(out.retry_after_ms).toBeGreaterThanOrEqual(7000);
    expect(out.retry_after_ms).toBeLessThan(7100);
  });

  it("a rate limit stated only in the body is waited for as the provider's client allows", async () => {
    const rig = await rigOf(p);
    rig.rateLimitBodyOnly(3);
    const out = failed(await rig.sender().send(rig.job("slow down")));
    expect(out).toMatchObject({ code: "delivery_rate_limited", retryable: true, ambiguous: false });
    const want = p.bodyOnlyWaitMs(3);
    if (want === null) expect(out.retry_after_ms).toBeNull();
    else {
      expect(out.retry_after_ms).toBeGreaterThanOrEqual(want[0]);
      expect(out.retry_after_ms).toBeLessThanOrEqual(want[1]);
    }
  });

  it("a pooled keep-alive socket the server already closed fails before writing: retryable, and the retry delivers once", async () => {
    const rig = await rigOf(p);
    const sender = rig.sender();
    rig.closeAfter();
    // The moment the client reads the server's FIN, send again on the pool (the socket is not destroyed yet).
    let second: Promise<SendOutcome> | null = null;
    const started = new Promise<Promise<SendOutcome>>((resolve) => {
      const onSocket = (m: unknown) => {
        (m as { socket: Socket }).socket.once("end", () => {
          if (second) return;
          second = sender.send(rig.job("second"));
          resolve(second);
        });
      };
      dc.subscribe("net.client.socket", onSocket);
      cleanups.push(() => {
        dc.unsubscribe("net.client.socket", onSocket);
      });
    });
    expect(await sender.send(rig.job("first"))).toMatchObject({ ok: true });
    const out = await await started;
    if (p.reconnectsStaleSockets) {
      // undici never writes to a socket whose end it has read: it sends on a fresh connection by itself.
      expect(out).toMatchObject({ ok: true });
    } else {
      expect(out).toMatchObject({ code: "delivery_transport_error", retryable: true, ambiguous: false });
      expect(await sender.send(rig.job("second"))).toMatchObject({ ok: true });
    }
    expect(rig.held("second")).toBe(1);
  });

  it("a timeout after the request was written is ambiguous", async () => {
    const rig = await rigOf(p);
    rig.delay(1500);
    const out = failed(await rig.sender(300).send(rig.job("too slow")));
    expect(out).toMatchObject({ code: "delivery_ambiguous", ambiguous: true, retryable: p.idempotent, status: null });
  });
});
