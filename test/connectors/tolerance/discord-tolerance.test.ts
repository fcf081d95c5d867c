/**
 * Discord tolerance (issue 12 §4): reactions over the real discord.js gateway against the local gateway (which only
 * dispatches MESSAGE_REACTION_* to sessions that identified with the reaction intents), and per-item refusal in a
 * REST page. Frames are shaped as in the Discord docs (gateway-events.mdx: Message Reaction Add / Remove fields).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDiscordConnector } from "../../../connectors/discord/inbound.ts";
import { normalizeDiscordPayload } from "../../../connectors/discord/normalize.ts";
import type { Connector } from "../../../connectors/shared/connector.ts";
import { makeHarness, waitFor, type Harness } from "../../helpers/connector-harness.ts";
import { startDiscordServer, type DiscordServer } from "../../helpers/discord-server.ts";
import { TEST_IDENTITY } from "../../helpers/identity.ts";

const TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMQ.GfAkE1.tau-discord-test-token";
const GUILD = "1200000000000000100";
const CHANNEL = "1200000000000000110";
const USER = "1300000000000000042";
const BOT = "1300000000000000001";

let server: DiscordServer;
let h: Harness;
let c: Connector;

beforeEach(async () => {
  server = await startDiscordServer({
    token: TOKEN,
    heartbeatIntervalMs: 500,
    guilds: [{ id: GUILD, name: "Tau Ops", channels: [{ id: CHANNEL, name: "ops" }] }],
  });
  h = makeHarness();
  c = createDiscordConnector({
    ...h.deps({ "discord-bot-token": TOKEN }, { identity: { ...TEST_IDENTITY, discord: { user_id: "", application_id: "" } } }),
    mode: "gateway",
    apiRoot: `${server.url}/api`,
    backoff: { baseMs: 20, maxMs: 100 },
  });
  await c.start();
  await server.waitForSession();
});
afterEach(async () => {
  await c.stop();
  await server.close();
  await h.cleanup();
});

describe("reactions over the gateway", () => {
  it("identifies with the reaction intents and records MESSAGE_REACTION_ADD/REMOVE as kind reaction", async () => {
    const ours = server.receiveMessage(CHANNEL, { content: "deploy done", author: server.botUser });
    const ourId = ours["id"] as string;
    const add = {
      user_id: USER,
      channel_id: CHANNEL,
      message_id: ourId,
      guild_id: GUILD,
      message_author_id: BOT,
      member: { user: { id: USER, username: "ada", global_name: "Ada" }, roles: [], joined_at: "2025-01-01T00:00:00.000Z" },
      emoji: { id: null, name: "👍" },
      burst: false,
      type: 0,
    };
    // Guild reactions need GUILD_MESSAGE_REACTIONS: the local gateway drops them for a session without it.
    expect(server.dispatch("MESSAGE_REACTION_ADD", add)).toBe(1);
    expect(
      server.dispatch("MESSAGE_REACTION_REMOVE", {
        user_id: USER,
        channel_id: CHANNEL,
        message_id: ourId,
        guild_id: GUILD,
        emoji: { id: "1250000000000000777", name: "shipit" },
        burst: false,
        type: 0,
      }),
    ).toBe(1);
    // A DM reaction (no guild_id) needs DIRECT_MESSAGE_REACTIONS.
    expect(
      server.dispatch("MESSAGE_REACTION_ADD", {
        user_id: USER,
        channel_id: "1400000000000000001",
        message_id: "1400000000000000002",
        emoji: { id: null, name: "🔥" },
        burst: false,
        type: 0,
      }),
    ).toBe(1);
    await waitFor(() => h.read("discord").length === 3, 5000, "three reactions");
    expect(
      h.read("discord").map((e) => [e.kind, e.chat_type, e.reply_to, e.actor.id, e.mentions_bot, e.meta.reaction, e.meta.emoji]),
    ).toEqual([
      ["reaction", "group", ourId, USER, true, "added", "👍"],
      ["reaction", "group", ourId, USER, false, "removed", "custom:shipit:1250000000000000777"],
      ["reaction", "dm", "1400000000000000002", USER, true, "added", "🔥"],
    ]);
    expect(h.read("discord")[0]!.actor.display).toBe("Ada");
    expect(new Set(h.read("discord").map((e) => e.event_id)).size).toBe(3);
  });
});

describe("per-item refusal in a batch", () => {
  it("keeps the good messages of a REST page when one is broken", () => {
    const m = (id: string, content: string) => ({
      id,
      channel_id: CHANNEL,
      guild_id: GUILD,
      author: { id: USER, username: "ada" },
      content,
      timestamp: "2025-11-21T08:00:00.000Z",
      type: 0,
    });
    const page = [
      m("1500000000000000001", "one"),
      { ...m("1500000000000000002", "two"), author: undefined },
      m("1500000000000000003", "three"),
    ];
    const r = normalizeDiscordPayload(page, {
      identity: { ...TEST_IDENTITY, discord: { user_id: BOT, application_id: BOT } },
      receivedAtMs: 0,
    });
    expect(r.ok && r.envelopes.map((e) => e.text)).toEqual(["one", "three"]);
    expect(r.ok && r.refused?.map((x) => [x.code, x.detail])).toEqual([
      ["ingress_payload_invalid", "1.author: Invalid input: expected object, received undefined"],
    ]);
  });

  it("accepts a message missing display-only fields (author.username, attachment filename/size) and unknown fields", () => {
    const r = normalizeDiscordPayload(
      {
        id: "1500000000000000009",
        channel_id: CHANNEL,
        author: { id: USER, avatar_decoration_data: null },
        content: "see attached",
        timestamp: "2025-11-21T08:00:00.000Z",
        type: 0,
        attachments: [{ id: "1500000000000000010", content_type: "image/png", placeholder: "abc" }],
        poll: null,
        new_field_from_2027: { anything: true },
      },
      { identity: { ...TEST_IDENTITY, discord: { user_id: BOT, application_id: BOT } }, receivedAtMs: 0 },
    );
    expect(r).toMatchObject({
      ok: true,
      envelopes: [
        {
          actor: { id: USER, display: null, is_bot: false },
          attachments: [{ kind: "image", mime: "image/png", size: null, name: null, ref: "1500000000000000010" }],
        },
      ],
    });
  });
});
