/** Discord inbound: gateway mode with the real discord.js client and REST polling, against the local Discord server. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDiscordConnector, type DiscordConnectorConfig } from "../../connectors/discord/inbound.ts";
import type { Connector } from "../../connectors/shared/connector.ts";
import { makeHarness, waitFor, type Harness } from "../helpers/connector-harness.ts";
import { startDiscordServer, type DiscordServer } from "../helpers/discord-server.ts";
import { TEST_IDENTITY } from "../helpers/identity.ts";

const TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMQ.GfAkE1.tau-discord-test-token";
const GUILD = "1200000000000000100";
const CHANNEL = "1200000000000000110";
const OTHER_CHANNEL = "1200000000000000120";
const USER = "1300000000000000042";
const BOT = "1300000000000000001";

let server: DiscordServer;
let h: Harness;
const connectors: Connector[] = [];

beforeEach(async () => {
  server = await startDiscordServer({
    token: TOKEN,
    heartbeatIntervalMs: 500,
    guilds: [
      {
        id: GUILD,
        name: "Tau Ops",
        channels: [
          { id: CHANNEL, name: "ops" },
          { id: OTHER_CHANNEL, name: "alerts" },
        ],
      },
    ],
  });
  h = makeHarness();
});
afterEach(async () => {
  for (const c of connectors.splice(0)) await c.stop();
  await server.close();
  await h.cleanup();
});

function connector(overrides: Partial<DiscordConnectorConfig> = {}, token = TOKEN): Connector {
  const c = createDiscordConnector({
    // user_id left empty: the connector learns its own id (READY / GET /users/@me).
    ...h.deps({ "discord-bot-token": token }, { identity: { ...TEST_IDENTITY, discord: { user_id: "", application_id: "" } } }),
    mode: "gateway",
    apiRoot: `${server.url}/api`,
    backoff: { baseMs: 20, maxMs: 100 },
    ...overrides,
  });
  connectors.push(c);
  return c;
}

describe("discord gateway (discord.js)", () => {
  it("ingests MESSAGE_CREATE/UPDATE/DELETE from raw frames, ignores its own messages, and keeps working after a resume", async () => {
    const c = connector();
    await c.start();
    const session = await server.waitForSession();
    expect(session.identify["intents"]).toBe(46593); // Guilds | GuildMessages | GuildMessageReactions | DirectMessages | DirectMessageReactions | MessageContent
    await waitFor(() => c.status().liveness === "live", 5000, "live after READY");

    const msg = server.receiveMessage(CHANNEL, { content: `<@${BOT}> status`, author: { id: USER, username: "ada" } });
    server.receiveMessage(CHANNEL, { content: "my own reply", author: server.botUser }); // the bot's own message
    const id = msg["id"] as string;
    const edited = "2025-11-21T08:05:00.000Z";
    server.dispatch("MESSAGE_UPDATE", {
      ...msg,
      guild_id: GUILD,
      channel_type: 0,
      content: `<@${BOT}> status --all`,
      edited_timestamp: edited,
    });
    server.dispatch("MESSAGE_DELETE", { id, channel_id: CHANNEL, guild_id: GUILD });
    await waitFor(() => h.read("discord").length === 3, 5000, "three envelopes");
    expect(h.read("discord").map((e) => [e.event_id, e.kind, e.chat_type, e.account_id, e.mentions_bot, e.text])).toEqual([
      [`discord:${id}`, "message", "group", BOT, true, `<@${BOT}> status`],
      [`discord:${id}:e:${edited}`, "edit", "group", BOT, true, `<@${BOT}> status --all`],
      [`discord:${id}:d`, "system", "group", BOT, false, ""],
    ]);
    expect(h.read("discord")[0]!.meta).toMatchObject({ gateway_event: "MESSAGE_CREATE" });

    // Close 4000 (unknown error): discord.js reconnects to resume_gateway_url and RESUMEs; a message sent
    // while disconnected is replayed by the gateway and still arrives.
    server.closeWith(4000);
    const during = server.receiveMessage(CHANNEL, { content: "sent during the reconnect", author: { id: USER } });
    await waitFor(() => server.gateway.resumes.length === 1, 10_000, "RESUME");
    await waitFor(() => h.read("discord").some((e) => e.event_id === `discord:${during["id"]}`), 10_000, "replayed message");
    const after = server.receiveMessage(CHANNEL, { content: "after resume", author: { id: USER } });
    await waitFor(() => h.read("discord").some((e) => e.event_id === `discord:${after["id"]}`), 5000, "message after resume");
    expect(server.gateway.identifies).toHaveLength(1);
    await waitFor(() => c.status().events_ingested === 5, 5000, "counters after the fsync");
    expect(h.read("discord")).toHaveLength(5);
    expect(c.status()).toMatchObject({ transport: "discord", mode: "gateway", liveness: "live", events_ingested: 5 });
  });

  it("backfills over REST what a non-resumable session or a restart lost (GET …/messages?after=)", async () => {
    const c = connector();
    await c.start();
    await server.waitForSession();
    const first = server.receiveMessage(CHANNEL, { content: "before the gap", author: { id: USER } });
    await waitFor(() => h.read("discord").length === 1, 5000, "first message");
    await waitFor(() => c.status().events_ingested === 1, 5000, "cursor after the fsync");
    expect(h.cursors.data.get(`discord:after:${CHANNEL}`)).toBe(first["id"]);

    // Posted while the session is gone: in the channel's history, never dispatched on this gateway.
    const lost = server.addMessage(CHANNEL, { content: "lost in the gap", author: { id: USER } });
    server.gateway.invalidateSession(false); // op 9 d:false → IDENTIFY, a new READY
    await waitFor(() => server.gateway.identifies.length === 2, 10_000, "a second IDENTIFY");
    await waitFor(() => h.read("discord").some((e) => e.event_id === `discord:${lost["id"]}`), 10_000, "backfilled message");

    // A restart is a gap too: what arrives while tau is down is fetched at the next READY.
    await c.stop();
    const whileDown = server.addMessage(CHANNEL, { content: "while tau was down", author: { id: USER } });
    await c.start();
    await waitFor(() => h.read("discord").some((e) => e.event_id === `discord:${whileDown["id"]}`), 10_000, "message from the downtime");
    const ids = h.read("discord").map((e) => e.event_id);
    expect(ids.filter((id) => id === `discord:${first["id"]}`)).toHaveLength(1); // history before the cursor is not refetched
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("receives DMs (Partials.Channel) as chat_type dm", async () => {
    const c = connector();
    await c.start();
    await server.waitForSession();
    const dm = server.dmChannel(USER);
    const m = server.receiveMessage(dm["id"] as string, { content: "hi", author: { id: USER } });
    await waitFor(() => h.read("discord").length === 1, 5000, "DM envelope");
    expect(h.read("discord")[0]).toMatchObject({
      event_id: `discord:${m["id"]}`,
      chat_type: "dm",
      conversation_id: dm["id"],
      mentions_bot: true,
      text: "hi",
    });
  });

  it("a bad token is discord_unauthorized, retried with backoff, and stop() still returns", async () => {
    const c = connector({}, "bad.token.value");
    await c.start();
    await waitFor(() => c.status().auth_failures >= 2, 5000, "login retried");
    expect(c.status()).toMatchObject({ liveness: "failing", last_error_code: "discord_unauthorized" });
    await c.stop();
    expect(c.status().liveness).toBe("stopped");
  });
});

describe("discord REST polling", () => {
  function poller(channelIds = [CHANNEL]): Connector {
    return connector({ mode: "polling", channelIds, pollIntervalMs: 30 });
  }

  it("starts at the newest message, then ingests new ones oldest first and commits the cursor after the append", async () => {
    for (const text of ["history 1", "history 2", "history 3"]) server.addMessage(CHANNEL, { content: text, author: { id: USER } });
    const newest = server.messagesIn(CHANNEL).at(-1)!["id"] as string;
    const c = poller();
    await c.start();
    await waitFor(() => h.cursors.get(`discord:after:${CHANNEL}`) === newest, 5000, "cursor at the newest message");
    const first = server.requests.find((r) => r.method === "GET" && r.path === `/channels/${CHANNEL}/messages`)!;
    expect(first.query).toEqual({ limit: "1" });

    const fresh = ["new 1", "new 2", "new 3"].map(
      (text) => server.addMessage(CHANNEL, { content: text, author: { id: USER } })["id"] as string,
    );
    const own = server.addMessage(CHANNEL, { content: "bot reply", author: server.botUser })["id"] as string;
    await waitFor(() => h.cursors.get(`discord:after:${CHANNEL}`) === own, 5000, "cursor past the own message");
    expect(h.read("discord").map((e) => [e.event_id, e.text, e.chat_type, e.conversation_id])).toEqual([
      [`discord:${fresh[0]}`, "new 1", "group", CHANNEL],
      [`discord:${fresh[1]}`, "new 2", "group", CHANNEL],
      [`discord:${fresh[2]}`, "new 3", "group", CHANNEL],
    ]);
    const pages = server.requests.filter(
      (r) => r.method === "GET" && r.path === `/channels/${CHANNEL}/messages` && r.query["after"] !== undefined,
    );
    expect(pages[0]!.query).toEqual({ after: newest, limit: "100" });
    // guild_id / channel_type come from GET /channels/{id}, fetched once.
    expect(server.requests.filter((r) => r.path === `/channels/${CHANNEL}`)).toHaveLength(1);
    expect(c.status()).toMatchObject({ liveness: "live", events_ingested: 3 });
  });

  it("pages through a burst of 150 in order and does not replay after a restart", async () => {
    const c = poller();
    await c.start();
    await waitFor(() => h.cursors.get(`discord:after:${CHANNEL}`), 5000, "cursor initialized");
    await c.stop();
    const ids = Array.from(
      { length: 150 },
      (_, i) => server.addMessage(CHANNEL, { content: `burst ${i}`, author: { id: USER } })["id"] as string,
    );
    const c2 = poller();
    await c2.start();
    await waitFor(() => h.read("discord").length === 150, 10_000, "150 envelopes");
    expect(h.read("discord").map((e) => e.event_id)).toEqual(ids.map((id) => `discord:${id}`));
    await waitFor(() => h.cursors.get(`discord:after:${CHANNEL}`) === ids[149], 5000, "cursor at the last id");
    await c2.stop();

    const c3 = poller();
    expect(await c3.pollOnce!()).toEqual({ ok: true, appended: 0, code: null });
    const late = server.addMessage(CHANNEL, { content: "late", author: { id: USER } })["id"] as string;
    expect(await c3.pollOnce!()).toEqual({ ok: true, appended: 1, code: null });
    expect(h.read("discord").at(-1)!.event_id).toBe(`discord:${late}`);
  });

  it("keeps a cursor per channel; a forbidden channel does not stop the others; DMs are chat_type dm", async () => {
    const dm = server.dmChannel(USER)["id"] as string;
    server.forbidChannel(OTHER_CHANNEL);
    const c = poller([CHANNEL, OTHER_CHANNEL, dm]);
    await c.start();
    await waitFor(() => h.cursors.get(`discord:after:${CHANNEL}`) && h.cursors.get(`discord:after:${dm}`), 5000, "cursors");
    const m = server.addMessage(dm, { content: "dm poll", author: { id: USER } })["id"] as string;
    await waitFor(() => h.read("discord").length === 1, 5000, "DM envelope");
    expect(h.read("discord")[0]).toMatchObject({ event_id: `discord:${m}`, chat_type: "dm", conversation_id: dm });
    expect(c.status()).toMatchObject({ last_error_code: "discord_forbidden", liveness: "live" });
    expect(h.cursors.get(`discord:after:${OTHER_CHANNEL}`)).toBe(undefined);
  });
});
