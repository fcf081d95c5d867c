/** Proves the local Discord REST + gateway server works with the real discord.js client (PROVIDERS.md §2, §5). */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ChannelType,
  Client,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  Partials,
  Routes,
  type Message,
  type TextChannel,
} from "discord.js";
import { WebSocket } from "ws";
import { startDiscordServer, type DiscordServer } from "../helpers/discord-server.ts";

const TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMQ.GfAkE1.tau-discord-test-token";
const GUILD = "1100000000000000001";
const CHANNEL = "1100000000000000010";
const THREAD = "1100000000000000020";
const USER = "1200000000000000001";
const BOT = "1300000000000000001";

let server: DiscordServer;
const clients: Client[] = [];

beforeEach(async () => {
  server = await startDiscordServer({
    token: TOKEN,
    guilds: [
      {
        id: GUILD,
        name: "Tau Test Guild",
        channels: [{ id: CHANNEL, name: "general" }],
        threads: [{ id: THREAD, name: "ops-thread", parent_id: CHANNEL }],
      },
    ],
  });
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.destroy();
  await server.close();
});

function newClient(
  intents: GatewayIntentBits[] = [
    GatewayIntentBits.Guilds,
    GatewayIntentBits.GuildMessages,
    GatewayIntentBits.DirectMessages,
    GatewayIntentBits.MessageContent,
  ],
): Client {
  const client = new Client({ intents, partials: [Partials.Channel], rest: { api: `${server.url}/api` } });
  clients.push(client);
  return client;
}
async function loggedIn(client = newClient()): Promise<Client<true>> {
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(TOKEN);
  await ready;
  return client as Client<true>;
}
function nextMessage(client: Client, pred: (m: Message) => boolean = () => true): Promise<Message> {
  return new Promise((resolve) => {
    const on = (m: Message) => {
      if (pred(m)) {
        client.off(Events.MessageCreate, on);
        resolve(m);
      }
    };
    client.on(Events.MessageCreate, on);
  });
}

describe("discord server with discord.js", () => {
  it("logs in over REST + gateway: HELLO, IDENTIFY with intents, READY and GUILD_CREATE", async () => {
    const client = await loggedIn();
    expect(client.user.id).toBe(BOT);
    expect(client.user.bot).toBe(true);
    expect(server.gateway.identifies).toHaveLength(1);
    expect(server.gateway.identifies[0]).toMatchObject({ token: TOKEN, intents: 37377, shard: [0, 1] });
    expect(client.guilds.cache.get(GUILD)?.name).toBe("Tau Test Guild");
    expect(client.channels.cache.get(CHANNEL)?.type).toBe(ChannelType.GuildText);
    expect(client.channels.cache.get(THREAD)?.type).toBe(ChannelType.PublicThread);
    const gw = server.requests.find((r) => r.path === "/gateway/bot")!;
    expect(gw.headers["authorization"]).toBe(`Bot ${TOKEN}`);
    expect(gw.response).toEqual({
      url: server.wsUrl,
      shards: 1,
      session_start_limit: { total: 1000, remaining: 999, reset_after: 14400000, max_concurrency: 1 },
    });
    expect(gw.responseHeaders).toMatchObject({ "x-ratelimit-limit": "50", "x-ratelimit-remaining": "49" });
  });

  it("rejects a wrong token at login with 401", async () => {
    const client = newClient();
    await expect(client.login("wrong.token.value")).rejects.toThrow();
    expect(server.requests[0]).toMatchObject({ path: "/gateway/bot", status: 401, response: { message: "401: Unauthorized", code: 0 } });
  });

  it("delivers a dispatched MESSAGE_CREATE as messageCreate and sends replies over REST", async () => {
    const client = await loggedIn();
    const got = nextMessage(client, (m) => m.author.id === USER);
    server.receiveMessage(CHANNEL, { content: "!status", author: { id: USER, username: "ada" } });
    const msg = await got;
    expect(msg.content).toBe("!status");
    expect(msg.guildId).toBe(GUILD);
    expect(msg.channelId).toBe(CHANNEL);

    const sent = await (msg.channel as TextChannel).send({ content: "all green", allowedMentions: { parse: [] } });
    expect(sent.content).toBe("all green");
    expect(sent.author.id).toBe(BOT);
    expect(server.sentMessages).toHaveLength(1);
    expect(server.sentMessages[0]).toMatchObject({ channelId: CHANNEL, content: "all green", allowed_mentions: { parse: [] } });
    const post = server.requests.find((r) => r.method === "POST" && r.path === `/channels/${CHANNEL}/messages`)!;
    expect(post.headers["authorization"]).toBe(`Bot ${TOKEN}`);
    expect(post.responseHeaders).toMatchObject({ "x-ratelimit-limit": "50", "x-ratelimit-remaining": "49" });
    expect(post.responseHeaders?.["x-ratelimit-bucket"]).toMatch(/^[0-9a-f]{16}$/);

    const reply = await msg.reply("replying");
    expect(reply.type).toBe(19);
    expect(server.sentMessages[1]!.message_reference).toMatchObject({ message_id: msg.id });
  });

  it("delivers DMs with Partials.Channel", async () => {
    const client = await loggedIn();
    const dm = server.dmChannel(USER);
    const got = nextMessage(client, (m) => m.author.id === USER);
    server.receiveMessage(dm["id"] as string, { content: "hi bot", author: { id: USER } });
    const msg = await got;
    expect([msg.content, msg.guildId, msg.channel.type]).toEqual(["hi bot", null, ChannelType.DM]);
  });

  it("blanks guild message content for a client without MESSAGE_CONTENT", async () => {
    const client = await loggedIn(newClient([GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages]));
    expect(server.gateway.identifies[0]!["intents"]).toBe(513);
    const got = nextMessage(client);
    server.receiveMessage(CHANNEL, { content: "secret", author: { id: USER } });
    expect((await got).content).toBe("");
  });

  it("accepts multipart uploads and serves attachment URLs from the CDN route without the bot token", async () => {
    const client = await loggedIn();
    const channel = client.channels.cache.get(CHANNEL) as TextChannel;
    const sent = await channel.send({ content: "log attached", files: [{ attachment: Buffer.from("line 1\n"), name: "run.log" }] });
    expect(server.sentMessages[0]!.files.map((f) => [f.name, f.size])).toEqual([["run.log", 7]]);
    expect(server.requests.find((r) => r.method === "POST")!.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    const att = sent.attachments.first()!;
    expect(att.name).toBe("run.log");
    const dl = await fetch(att.url);
    expect([dl.status, await dl.text()]).toEqual([200, "line 1\n"]);

    const got = nextMessage(client, (m) => m.author.id === USER);
    server.receiveMessage(CHANNEL, {
      content: "see file",
      author: { id: USER },
      attachments: [server.addAttachment("photo.png", "PNGDATA", "image/png")],
    });
    const inbound = (await got).attachments.first()!;
    expect([inbound.name, inbound.contentType, inbound.size]).toEqual(["photo.png", "image/png", 7]);
    expect(await (await fetch(inbound.url)).text()).toBe("PNGDATA");
    expect(server.requests.filter((r) => r.path.startsWith("/attachments/")).map((r) => r.headers["authorization"])).toEqual([
      undefined,
      undefined,
    ]);
    server.advanceTime(24 * 3600 * 1000 + 1);
    expect((await fetch(inbound.url)).status).toBe(404);
  });

  it("retries an injected 429 using the rate-limit headers", async () => {
    const client = await loggedIn();
    const channel = client.channels.cache.get(CHANNEL) as TextChannel;
    server.rateLimitNext({ retryAfter: 0.2, match: `POST /channels/${CHANNEL}/messages` });
    const sent = await channel.send("after the limit");
    expect(sent.content).toBe("after the limit");
    const posts = server.requests.filter((r) => r.method === "POST" && r.path === `/channels/${CHANNEL}/messages`);
    expect(posts.map((r) => r.status)).toEqual([429, 200]);
    expect(posts[0]!.response).toEqual({ message: "You are being rate limited.", retry_after: 0.2, global: false });
    expect(posts[0]!.responseHeaders).toMatchObject({
      "retry-after": "0.2",
      "x-ratelimit-scope": "user",
      "x-ratelimit-remaining": "0",
    });
    // A countdown from when the limit was set: 0.200, or a millisecond or two less on a loaded machine.
    const resetAfter = Number(posts[0]!.responseHeaders?.["x-ratelimit-reset-after"]);
    expect(resetAfter).toBeGreaterThan(0.15);
    expect(resetAfter).toBeLessThanOrEqual(0.2);
    expect(posts[0]!.responseHeaders?.["x-ratelimit-global"]).toBeUndefined();
    expect(server.sentMessages).toHaveLength(1);
  });

  it("rejects a too-long message with DiscordAPIError 50035 and an empty one with 50006", async () => {
    const client = await loggedIn();
    const channel = client.channels.cache.get(CHANNEL) as TextChannel;
    await expect(channel.send("😀".repeat(2000))).resolves.toBeDefined();
    const err = await channel.send("x".repeat(2001)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DiscordAPIError);
    expect((err as DiscordAPIError).status).toBe(400);
    expect((err as DiscordAPIError).code).toBe(50035);
    expect((err as DiscordAPIError).message).toBe("Invalid Form Body\ncontent[BASE_TYPE_MAX_LENGTH]: Must be 2000 or fewer in length.");
    expect((err as DiscordAPIError).rawError).toEqual({
      message: "Invalid Form Body",
      code: 50035,
      errors: { content: { _errors: [{ code: "BASE_TYPE_MAX_LENGTH", message: "Must be 2000 or fewer in length." }] } },
    });
    const empty = await client.rest.post(Routes.channelMessages(CHANNEL), { body: { content: "" } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(empty).toBeInstanceOf(DiscordAPIError);
    expect([(empty as DiscordAPIError).code, (empty as DiscordAPIError).message]).toEqual([50006, "Cannot send an empty message"]);
  });

  it("returns the existing message for a repeated nonce with enforce_nonce", async () => {
    const client = await loggedIn();
    const channel = client.channels.cache.get(CHANNEL) as TextChannel;
    const a = await channel.send({ content: "exactly once", nonce: "tau-0001", enforceNonce: true });
    const b = await channel.send({ content: "exactly once", nonce: "tau-0001", enforceNonce: true });
    expect(b.id).toBe(a.id);
    expect(server.sentMessages).toHaveLength(1);
    expect(server.messagesIn(CHANNEL)).toHaveLength(1);
  });

  it("lists messages after a cursor newest to oldest", async () => {
    const client = await loggedIn();
    const m1 = server.addMessage(CHANNEL, { content: "one" });
    const m2 = server.addMessage(CHANNEL, { content: "two" });
    const m3 = server.addMessage(CHANNEL, { content: "three" });
    server.addMessage(CHANNEL, { content: "four" });
    const raw = (await client.rest.get(Routes.channelMessages(CHANNEL), {
      query: new URLSearchParams({ after: m1["id"] as string, limit: "2" }),
    })) as { id: string; content: string }[];
    expect(raw.map((m) => m.content)).toEqual(["three", "two"]);
    expect(raw.map((m) => m.id)).toEqual([m3["id"], m2["id"]]);
    const fetched = await (client.channels.cache.get(CHANNEL) as TextChannel).messages.fetch({ after: m2["id"] as string, limit: 10 });
    expect([...fetched.values()].map((m) => m.content)).toEqual(["four", "three"]);
  });

  it("RESUMEs after close 4000 and replays the events it missed", async () => {
    const client = await loggedIn();
    const session = server.gateway.currentSession!;
    const missed = nextMessage(client, (m) => m.content === "sent while disconnected");
    server.closeWith(4000, "Unknown error");
    server.receiveMessage(CHANNEL, { content: "sent while disconnected", author: { id: USER } });
    const resumed = new Promise<void>((resolve) => client.once(Events.ShardResume, () => resolve()));
    await resumed;
    expect((await missed).content).toBe("sent while disconnected");
    expect(server.gateway.identifies).toHaveLength(1);
    expect(server.gateway.resumes).toHaveLength(1);
    expect(server.gateway.resumes[0]).toMatchObject({ token: TOKEN, session_id: session.sessionId, seq: 2 });
    expect(server.gateway.closes[0]).toMatchObject({ code: 4000, by: "server" });
  });

  it("resumes after op 7 RECONNECT and re-identifies after op 9 INVALID_SESSION(false)", async () => {
    const client = await loggedIn();
    const resumed = new Promise<void>((resolve) => client.once(Events.ShardResume, () => resolve()));
    server.requestReconnect();
    await resumed;
    expect(server.gateway.resumes).toHaveLength(1);
    server.invalidateSession(false);
    await server.waitUntil(() => server.gateway.identifies.length === 2, 10_000);
    const got = nextMessage(client, (m) => m.content === "after re-identify");
    server.receiveMessage(CHANNEL, { content: "after re-identify", author: { id: USER } });
    expect((await got).content).toBe("after re-identify");
  });

  it("answers heartbeats with op 11", async () => {
    await server.close();
    server = await startDiscordServer({ token: TOKEN, heartbeatIntervalMs: 40 });
    const client = await loggedIn();
    await server.waitUntil(() => server.gateway.heartbeats >= 2);
    await server.waitUntil(() => client.ws.ping >= 0);
    // Heartbeat d = last sequence seen: READY (s=1) + GUILD_CREATE (s=2).
    await server.waitUntil(() => server.gateway.received.filter((f) => f.op === 1).at(-1)?.d === 2);
    expect(server.gateway.received.filter((f) => f.op === 11)).toEqual([]);
  });

  it("closes the socket with 4004 on a bad IDENTIFY token, 4014 on disallowed intents and 4013 on invalid ones", async () => {
    await server.close();
    server = await startDiscordServer({ token: TOKEN, allowedPrivilegedIntents: 0 });
    const closeCode = async (identify: Record<string, unknown>) => {
      const ws = new WebSocket(`${server.wsUrl}/?v=10&encoding=json`);
      const hello = await new Promise<{ op: number; d: { heartbeat_interval: number } }>((resolve) =>
        ws.once("message", (m) => resolve(JSON.parse(m.toString()))),
      );
      expect(hello).toMatchObject({ op: 10, d: { heartbeat_interval: 41250 } });
      const closed = new Promise<[number, string]>((resolve) => ws.once("close", (code, reason) => resolve([code, reason.toString()])));
      ws.send(JSON.stringify({ op: 2, d: { properties: { os: "linux", browser: "test", device: "test" }, ...identify } }));
      return closed;
    };
    expect(await closeCode({ token: "bad", intents: 513 })).toEqual([4004, "Authentication failed."]);
    expect(await closeCode({ token: TOKEN, intents: 513 | 32768 })).toEqual([4014, "Disallowed intent(s)."]);
    expect(await closeCode({ token: TOKEN, intents: 1 << 22 })).toEqual([4013, "Invalid intent(s)."]);
    expect(server.gateway.closes.map((c) => [c.code, c.by])).toEqual([
      [4004, "server"],
      [4014, "server"],
      [4013, "server"],
    ]);
  });
});
