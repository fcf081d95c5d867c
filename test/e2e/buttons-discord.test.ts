/**
 * Approval buttons on Discord, end to end: the prompt goes out with the real @discordjs/rest client as a message
 * with an action row (validated by the local server: custom_id ≤ 100, unique, styles; allowed_mentions), a press is
 * a component interaction (type 3) the connector acked with a deferred update (type 6), and tau edits the original
 * message through the interaction webhook (no Authorization header) or answers privately with an ephemeral follow-up.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { normalizeDiscordInteraction } from "../../connectors/discord/interaction-normalize.ts";
import { makeEnvelope } from "../helpers/envelope-factory.ts";
import { startDiscordServer } from "../helpers/discord-server.ts";
import { GROUP_POLICY, makeButtonsHarness, type ButtonsHarness } from "./buttons-harness.ts";

type DiscordServer = Awaited<ReturnType<typeof startDiscordServer>>;
type Json = Record<string, unknown>;

const ALICE = "1300000000000000011";
const BOB = "1300000000000000012";
const VIEWER = "1300000000000000013";
const RBAC = `schema_version: 1\nadmins: ["discord:${ALICE}", "discord:${BOB}"]\n`;

let dc: DiscordServer;
let h: ButtonsHarness;
let channel: string;
let seq = 0;

beforeEach(async () => {
  const clock = { ms: Date.now() };
  dc = await startDiscordServer({ now: () => clock.ms });
  channel = "1300000000000000500";
  dc.setInteractionChannel(channel);
  h = makeButtonsHarness({
    yaml: `outbound:\n  mode: provider\n  pacing: { enabled: false }\nconnectors:\n  discord: { mode: disabled, api_root: "${dc.url}/api" }\n`,
    env: { TAU_DISCORD_BOT_TOKEN: dc.token },
    policies: { "channel-policy.yaml": GROUP_POLICY, "rbac.yaml": RBAC },
    clock,
  });
});
afterEach(async () => {
  h.close();
  await dc.close();
});

async function ask(from: string, text: string) {
  const id = String(1300000000000001000n + BigInt(++seq));
  await h.ingestEnvelopes([
    makeEnvelope({
      event_id: `discord:${id}`,
      transport: "discord",
      provider: "discord-gateway",
      account_id: "1100000000000000001",
      conversation_id: channel,
      chat_type: "group",
      actor: { id: from, display: "user" },
      text,
      occurred_at_ms: h.clock.ms,
      received_at_ms: h.clock.ms,
    }),
  ]);
}

/** The prompt tau created (a channel message with an action row), as the server stored it. */
async function lastPrompt(): Promise<{ message: Json; approve: string; deny: string }> {
  const created = dc.requests.filter((r) => r.method === "POST" && r.path === `/channels/${channel}/messages`).at(-1)!;
  const body = created.body as Json;
  const row = (body["components"] as { components: { label: string; custom_id: string; style: number }[] }[])[0]!.components;
  const messages = (await (
    await fetch(`${dc.url}/api/v10/channels/${channel}/messages`, { headers: { authorization: `Bot ${dc.token}` } })
  ).json()) as Json[];
  return {
    message: messages[0]!,
    approve: row.find((b) => b.label === "Approve")!.custom_id,
    deny: row.find((b) => b.label === "Deny")!.custom_id,
  };
}

/** A press: the component interaction, acked with a deferred update as the connector does, then ingested. */
async function press(userId: string, customId: string, message: Json) {
  const payload = dc.interactions.create({
    type: 3,
    data: { custom_id: customId, component_type: 2 },
    userId,
    channelId: channel,
    message,
  });
  const ack = await fetch(`${dc.url}/api/v10/interactions/${payload["id"]}/${payload["token"]}/callback`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ type: 6 }),
  });
  expect(ack.status).toBe(204);
  const r = normalizeDiscordInteraction(
    { source: "gateway", interaction: payload },
    { identity: h.app.config.identity, receivedAtMs: h.clock.ms },
  );
  if (!r.ok) throw new Error(r.detail);
  await h.ingestEnvelopes(r.envelopes);
  return String(payload["token"]);
}

const webhookCalls = (token: string) => dc.requests.filter((r) => r.path.startsWith("/webhooks/") && r.path.includes(token));

describe("Discord approval buttons", () => {
  it("an action row on the prompt; refusals are ephemeral follow-ups; approval edits the original and removes the buttons", async () => {
    await ask(ALICE, "/tau allowlist add discord:1300000000000000077");
    const { message, approve } = await lastPrompt();
    expect(message["components"]).toEqual([
      {
        type: 1,
        components: [
          { type: 2, style: 3, label: "Approve", custom_id: approve },
          { type: 2, style: 4, label: "Deny", custom_id: expect.stringMatching(/^tau:/) },
        ],
      },
    ]);
    expect(approve.length).toBeLessThanOrEqual(100);

    // The requester (two-person rule) and a viewer: ephemeral follow-ups, nothing decided.
    for (const who of [ALICE, VIEWER]) {
      const token = await press(who, approve, message);
      const calls = webhookCalls(token);
      expect(calls.map((c) => `${c.method} ${c.path.endsWith(token) ? "followup" : "other"}`)).toEqual(["POST followup"]);
      expect(calls[0]!.headers["authorization"]).toBeUndefined();
      const body = calls[0]!.body as Json;
      expect(body).toMatchObject({ flags: 64, allowed_mentions: { parse: [] } });
    }
    expect(h.app.store.commands.listApprovals()[0]!.status).toBe("pending");

    // A second admin: PATCH @original with the outcome, components removed, mentions off.
    const token = await press(BOB, approve, message);
    const calls = webhookCalls(token);
    expect(calls.map((c) => c.method)).toEqual(["PATCH"]);
    expect(calls[0]!.path).toMatch(/\/messages\/(@|%40)original$/);
    expect(calls[0]!.headers["authorization"]).toBeUndefined();
    expect(calls[0]!.body).toMatchObject({ components: [], allowed_mentions: { parse: [] }, content: expect.stringContaining("Approved") });
    expect(h.app.store.commands.listApprovals()[0]!.status).toBe("executed");
    expect(h.app.store.access.isAllowlisted("discord:1300000000000000077")).toBe(true);

    // Replayed and forged presses: ephemeral, nothing runs again.
    for (const data of [approve, "tau:forgedforgedforged"]) {
      const t = await press(BOB, data, message);
      expect(webhookCalls(t)[0]!.body).toMatchObject({ flags: 64 });
    }
  });

  it("the local server refuses a duplicate custom_id, one over 100 characters, and an unknown allowed_mentions type", async () => {
    const post = (body: Json) =>
      fetch(`${dc.url}/api/v10/channels/${channel}/messages`, {
        method: "POST",
        headers: { authorization: `Bot ${dc.token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Json }));
    const button = (id: string) => ({ type: 2, style: 1, label: "x", custom_id: id });
    expect((await post({ content: "a", components: [{ type: 1, components: [button("a"), button("a")] }] })).body["code"]).toBe(50035);
    expect((await post({ content: "a", components: [{ type: 1, components: [button("x".repeat(101))] }] })).status).toBe(400);
    expect((await post({ content: "a", allowed_mentions: { parse: ["here"] } })).status).toBe(400);
    expect(
      (await post({ content: "a", allowed_mentions: { parse: [] }, components: [{ type: 1, components: [button("ok")] }] })).status,
    ).toBe(200);
  });
});
