/**
 * Discord interactions (issue 12 §2): the HTTP endpoint `POST /webhooks/discord` (Ed25519 over timestamp + raw body,
 * stale timestamps and bad signatures → 401, PING → PONG, a deferred response and an appended command, a component
 * press → type 6 and a callback envelope) through `app.request()`, and `INTERACTION_CREATE` over the gateway with the
 * real discord.js client against the local server, which enforces the 3 s deadline and one initial response.
 */
import { Hono } from "hono";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDiscordConnector, type DiscordConnectorConfig } from "../../connectors/discord/inbound.ts";
import type { Connector } from "../../connectors/shared/connector.ts";
import { createRegistry } from "../../src/app/registry.ts";
import { interactionCommandText, planNativeCommands } from "../../src/commands/native-commands.ts";
import { makeHarness, waitFor, type Harness } from "../helpers/connector-harness.ts";
import { createInteractionSigner } from "../helpers/discord-server-interactions.ts";
import { startDiscordServer, type DiscordServer } from "../helpers/discord-server.ts";
import { TEST_IDENTITY } from "../helpers/identity.ts";

const TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMQ.GfAkE1.tau-discord-test-token";
const APP_ID = "1300000000000000001";
const CHANNEL = "1200000000000000110";
const USER = "1300000000000000042";

const plan = planNativeCommands({
  capabilities: createRegistry().list(),
  prefix: "/tau",
  roleOverrides: {},
  telegramOpsChats: [],
  telegramRoles: [],
});

let server: DiscordServer;
let h: Harness;
const signer = createInteractionSigner();
const connectors: Connector[] = [];

beforeEach(async () => {
  server = await startDiscordServer({ token: TOKEN, heartbeatIntervalMs: 500 });
  server.setInteractionChannel(CHANNEL);
  h = makeHarness();
});
afterEach(async () => {
  for (const c of connectors.splice(0)) await c.stop();
  await server.close();
  await h.cleanup();
});

function connector(overrides: Partial<DiscordConnectorConfig> = {}, publicKey = signer.publicKeyHex): Connector {
  const c = createDiscordConnector({
    ...h.deps(
      { "discord-bot-token": TOKEN, "discord-public-key": publicKey },
      { identity: { ...TEST_IDENTITY, discord: { user_id: APP_ID, application_id: APP_ID } }, clock: () => Date.now() },
    ),
    mode: "polling",
    channelIds: [],
    pollIntervalMs: 60_000,
    apiRoot: `${server.url}/api`,
    backoff: { baseMs: 20, maxMs: 100 },
    resolveCommand: (d) => interactionCommandText(plan, d),
    ...overrides,
  });
  connectors.push(c);
  return c;
}

/** The connector's routes mounted on a Hono app, as the HTTP server does. */
function http(c: Connector): Hono {
  const app = new Hono();
  for (const r of c.webhooks ?? []) app.on(r.method, r.path, (ctx) => r.handler(ctx));
  return app;
}

function post(app: Hono, body: string, headers: Record<string, string>) {
  return app.request("/webhooks/discord", { method: "POST", headers, body });
}
const nowS = () => Math.floor(Date.now() / 1000);

/** `/tau whoami` as Discord sends it. */
const whoami = { type: 2, data: { id: "1400000000000000001", name: "tau", type: 1, options: [{ name: "whoami", type: 1, options: [] }] } };

describe("discord HTTP interactions endpoint", () => {
  it("answers PING with PONG, and refuses bad signatures, stale timestamps and unsigned requests with 401", async () => {
    const c = connector();
    await c.start();
    const app = http(c);
    const ping = JSON.stringify({ id: "1400000000000000002", application_id: APP_ID, type: 1, token: "t", version: 1 });

    const pong = await post(app, ping, signer.sign(ping, nowS()));
    expect(pong.status).toBe(200);
    expect(pong.headers.get("content-type")).toContain("application/json");
    expect(await pong.json()).toEqual({ type: 1 });

    const other = createInteractionSigner();
    expect((await post(app, ping, other.sign(ping, nowS()))).status).toBe(401);
    // A valid signature over a body that was changed afterwards.
    expect((await post(app, ping.replace('"version":1', '"version":2'), signer.sign(ping, nowS()))).status).toBe(401);
    // Correctly signed, but ten minutes old: a replay.
    expect((await post(app, ping, signer.sign(ping, nowS() - 600))).status).toBe(401);
    expect((await post(app, ping, { "content-type": "application/json" })).status).toBe(401);

    const codes = h.logger.records.filter((r) => r.obj["event"] === "webhook.refused").map((r) => r.obj["code"]);
    expect(codes).toEqual([
      "discord_signature_invalid",
      "discord_signature_invalid",
      "discord_signature_stale",
      "discord_signature_missing",
    ]);
    expect(c.status().auth_failures).toBe(4);
    expect(h.read("discord")).toEqual([]);
  });

  it("takes interactions on a node standing by for another node's gateway lease (not started), and 503 when it is simply stopped", async () => {
    let standby = false;
    const c = connector({ httpIntakeOnStandby: () => standby });
    const app = http(c);
    const interaction = server.interactions.create({ ...whoami, userId: USER });
    const body = JSON.stringify(interaction);
    // Stopped (logged out, shutting down): nothing can be acknowledged.
    expect((await post(app, body, signer.sign(body, nowS()))).status).toBe(503);
    expect(h.read("discord")).toEqual([]);
    // Standing by (another node polls): the HTTP endpoint is stateless, so this node defers and appends.
    standby = true;
    const res = await post(app, body, signer.sign(body, nowS()));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ type: 5, data: { flags: 64 } });
    expect(h.read("discord")).toMatchObject([{ event_id: `discord:${interaction["id"] as string}`, text: "/tau whoami" }]);
  });

  it("answers 503 without a valid public key (nothing is trusted)", async () => {
    const c = connector({}, "not-a-key");
    await c.start();
    const body = JSON.stringify({ id: "1400000000000000002", application_id: APP_ID, type: 1, token: "t", version: 1 });
    expect((await post(http(c), body, signer.sign(body, nowS()))).status).toBe(503);
  });

  it("defers a slash command (ephemeral for a read) and appends the equivalent /tau command, durable before the answer", async () => {
    const c = connector();
    await c.start();
    const app = http(c);
    const interaction = server.interactions.create({ ...whoami, userId: USER });
    const body = JSON.stringify(interaction);
    const res = await post(app, body, signer.sign(body, nowS()));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ type: 5, data: { flags: 64 } });

    const [env] = h.read("discord");
    expect(env).toMatchObject({
      event_id: `discord:${interaction["id"] as string}`,
      kind: "message",
      text: "/tau whoami",
      conversation_id: CHANNEL,
      chat_type: "group",
      actor: { id: USER, display: "Alice", is_bot: false },
      mentions_bot: true,
      meta: {
        interaction_id: interaction["id"],
        interaction_token: interaction["token"],
        application_id: APP_ID,
        interaction_acked: true,
        interaction_source: "http",
        command_name: "tau",
        ephemeral: true,
      },
    });
  });

  it("turns options into flags: a write command is answered visibly (type 5 without flags)", async () => {
    const c = connector();
    await c.start();
    const interaction = server.interactions.create({
      type: 2,
      data: {
        name: "tau-communications",
        type: 1,
        options: [
          {
            name: "incident",
            type: 2,
            options: [
              {
                name: "note",
                type: 1,
                options: [
                  { name: "id", type: 3, value: "inc_7" },
                  { name: "text", type: 3, value: 'disk "sdb" full' },
                ],
              },
            ],
          },
        ],
      },
    });
    const body = JSON.stringify(interaction);
    const res = await post(http(c), body, signer.sign(body, nowS()));
    expect(await res.json()).toEqual({ type: 5 });
    expect(h.read("discord")[0]?.text).toBe('/tau incident note --id inc_7 --text "disk \\"sdb\\" full"');
  });

  it("answers an unknown command privately and appends nothing", async () => {
    const c = connector();
    await c.start();
    const interaction = server.interactions.create({ type: 2, data: { name: "tau", type: 1, options: [{ name: "reboot", type: 1 }] } });
    const body = JSON.stringify(interaction);
    const res = await post(http(c), body, signer.sign(body, nowS()));
    const answer = (await res.json()) as { type: number; data: { flags: number; content: string } };
    expect(answer.type).toBe(4);
    expect(answer.data.flags).toBe(64);
    expect(answer.data.content).toContain("tau channel login discord");
    expect(h.read("discord")).toEqual([]);
  });

  it("acknowledges a component press with DEFERRED_UPDATE_MESSAGE and appends a callback envelope for the presser", async () => {
    const c = connector();
    await c.start();
    const interaction = server.interactions.create({
      type: 3,
      data: { custom_id: "tau:abc123", component_type: 2 },
      message: { id: "1500000000000000007", channel_id: CHANNEL, content: "Approve?" },
      userId: USER,
      guildId: null,
    });
    const body = JSON.stringify(interaction);
    const res = await post(http(c), body, signer.sign(body, nowS()));
    expect(await res.json()).toEqual({ type: 6 });
    const [env] = h.read("discord");
    expect(env).toMatchObject({
      kind: "callback",
      text: "tau:abc123",
      chat_type: "dm",
      actor: { id: USER },
      meta: {
        callback_id: interaction["id"],
        prompt_message_id: "1500000000000000007",
        interaction_token: interaction["token"],
        application_id: APP_ID,
        interaction_acked: true,
      },
    });
  });
});

describe("discord gateway interactions (discord.js)", () => {
  it("acknowledges INTERACTION_CREATE within the deadline (type 5 / type 6), once, then appends", async () => {
    const c = connector({ mode: "gateway" });
    await c.start();
    await server.waitForSession();

    const command = server.dispatchInteraction({ ...whoami, userId: USER });
    const press = server.dispatchInteraction({
      type: 3,
      data: { custom_id: "tau:def456", component_type: 2 },
      message: { id: "1500000000000000008", channel_id: CHANNEL, content: "Approve?" },
      userId: USER,
    });
    await waitFor(() => h.read("discord").length === 2, 5000, "two envelopes");
    const recCommand = server.interactions.byToken.get(command["token"] as string)!;
    const recPress = server.interactions.byToken.get(press["token"] as string)!;
    // The local server accepts an initial response only within 3 s and only once.
    expect(recCommand.response?.body).toEqual({ type: 5, data: { flags: 64 } });
    expect(recPress.response?.body).toEqual({ type: 6 });
    expect([...recCommand.refusedCallbacks, ...recPress.refusedCallbacks]).toEqual([]);

    const envs = h.read("discord");
    expect(envs.map((e) => [e.kind, e.text, e.meta["interaction_source"]])).toEqual([
      ["message", "/tau whoami", "gateway"],
      ["callback", "tau:def456", "gateway"],
    ]);
    // The ack went out with the interaction token, never the bot token.
    const ack = server.requests.find((r) => r.path.startsWith(`/interactions/${command["id"] as string}/`))!;
    expect(ack.headers["authorization"]).toBeUndefined();
  });

  it("does not act on an interaction it could not acknowledge in time (10062 Unknown interaction)", async () => {
    const c = connector({ mode: "gateway" });
    await c.start();
    await server.waitForSession();
    const late = server.dispatchInteraction({ ...whoami, userId: USER });
    server.advanceTime(3500); // the ack arrives after Discord's 3 s
    const rec = server.interactions.byToken.get(late["token"] as string)!;
    await waitFor(() => rec.refusedCallbacks.length === 1, 5000, "the refused late callback");
    expect(rec.refusedCallbacks[0]!.code).toBe(10062);
    await waitFor(() => h.logger.records.some((r) => r.obj["event"] === "connector.interaction_ack_failed"), 5000, "ack failure log");
    expect(h.read("discord")).toEqual([]);
  });
});
