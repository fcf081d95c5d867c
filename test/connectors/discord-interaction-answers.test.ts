/**
 * Every deferred slash command gets exactly one answer, and several replies to one do not overwrite each other
 * (signed HTTP interaction → deferred response → ingress → the real runner → @discordjs/rest against the local
 * Discord server, which records the edited original response and the follow-ups per interaction token).
 * - A command the pipeline denies without a reply (here `groupPolicy: deny`) is answered with one short sentence
 *   edited into the deferred response, ephemeral like it, once even when the runner runs again.
 * - Only the first reply to an interaction edits `@original`; a later reply to the same event (as a command job
 *   queues its result) is a follow-up, ephemeral like the response.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createAppRunner, type App } from "../../src/app/index.ts";
import { queueReplies } from "../../src/outbound/outbox.ts";
import { waitFor } from "../helpers/connector-harness.ts";
import { sendSlashCommand } from "../helpers/discord-slash-command.ts";
import { createInteractionSigner, slashCommandTarget } from "../helpers/discord-server-interactions.ts";
import { startDiscordServer, type DiscordServer } from "../helpers/discord-server.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";

const TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMQ.GfAkE1.tau-discord-test-token";
const APP_ID = "1100000000000000001"; // the tau home's identity.discord
const USER = "1300000000000000042";
const DENY_GROUPS = `schema_version: 1
defaultPolicy: { dmPolicy: allow, allowFrom: any, groupPolicy: deny, requireMention: false }
`;

let server: DiscordServer | undefined;
let home: TauHome | undefined;
let app: App | undefined;
const signer = createInteractionSigner();

afterEach(async () => {
  app?.close();
  home?.cleanup();
  await server?.close();
  app = undefined;
  home = undefined;
  server = undefined;
});

async function setUp(policy: string): Promise<{ server: DiscordServer; app: App }> {
  server = await startDiscordServer({ token: TOKEN, botUser: { id: APP_ID } });
  home = makeTauHome(
    [
      "runner:\n  coalesce_window_ms: 0",
      "outbound:\n  mode: provider\n  http_timeout_ms: 2000",
      `connectors:\n  discord: { mode: polling, api_root: "${server.url}/api" }`,
    ].join("\n") + "\n",
    { "channel-policy.yaml": policy },
  );
  app = home.open();
  app.store.secrets.put("discord-bot-token", TOKEN, Date.now());
  app.store.secrets.put("discord-public-key", signer.publicKeyHex, Date.now());
  return { server, app };
}

/** A `/tau <sub>` slash command sent to the connector's HTTP endpoint; returns the interaction Discord created. */
async function slashCommand(s: DiscordServer, a: App, sub: string): Promise<Record<string, unknown>> {
  const { interaction, answer } = await sendSlashCommand({ server: s, app: a, signer, userId: USER, sub });
  expect(answer).toEqual({ type: 5, data: { flags: 64 } });
  return interaction;
}

const webhookCalls = (s: DiscordServer) => s.requests.filter((r) => r.path.startsWith(`/webhooks/${APP_ID}/`));

describe("a denied slash command", () => {
  it("gets one ephemeral sentence edited into its deferred response, and only one", async () => {
    const { server: s, app: a } = await setUp(DENY_GROUPS);
    const interaction = await slashCommand(s, a, "whoami");
    const { runner, close } = createAppRunner(a);
    try {
      await runner.drain();
      const rec = s.interactions.byToken.get(interaction["token"] as string)!;
      await waitFor(() => rec.original?.["content"], 5000, "the answer edited into the deferred response");
      const content = String(rec.original!["content"]);
      expect(content).toContain("tau does not take commands in this channel.");
      // A sentence for people: no reason code, no stage name, nothing from inside.
      expect(content).not.toMatch(/deny_|_denied|group_policy|channel_policy|groupPolicy/);
      expect(content).not.toContain(USER);
      const calls = webhookCalls(s);
      expect(calls.map((r) => r.method)).toEqual(["PATCH"]);
      expect(calls[0]!.path).toMatch(/\/messages\/(@|%40)original$/);
      expect(rec.followups).toEqual([]);
      // The decision itself still stands: the event was denied, and nothing went to the channel.
      expect(s.sentMessages).toEqual([]);
      // Running again answers nothing more: the answer was queued with the decision, once.
      await runner.drain();
      expect(webhookCalls(s)).toHaveLength(1);
    } finally {
      close();
    }
  });
});

describe("several replies to one slash command", () => {
  it("edits the deferred response with the first and follows up with the later ones", async () => {
    const { server: s, app: a } = await setUp(OPEN_CHANNEL_POLICY);
    const interaction = await slashCommand(s, a, "whoami");
    const { runner, close } = createAppRunner(a);
    try {
      await runner.drain();
      const rec = s.interactions.byToken.get(interaction["token"] as string)!;
      await waitFor(() => rec.original?.["content"], 5000, "the first reply edited into the deferred response");
      const first = String(rec.original!["content"]);
      expect(first).toContain(USER);

      // A later reply to the same event, queued as a command job queues its result (event id + stored target).
      const eventId = `discord:${interaction["id"] as string}`;
      const target = slashCommandTarget(interaction, { appId: APP_ID, userId: USER, text: "/tau whoami" });
      const opts = { mode: "provider" as const, maxChars: a.config.outbound.max_chars, now: Date.now() };
      a.store.atomically(() => {
        queueReplies(a.store, eventId, target, [{ purpose: "command", text: "second reply" }], opts, () => "ob_later_reply_one");
        // Two in one call: the second of them follows up too.
        queueReplies(
          a.store,
          eventId,
          target,
          [
            { purpose: "command", text: "third reply" },
            { purpose: "command", text: "fourth reply" },
          ],
          opts,
          (i) => `ob_later_reply_${i + 2}`,
        );
      });
      await runner.drain();
      await waitFor(() => rec.followups.length === 3 || undefined, 5000, "three follow-ups");

      // The first answer stands; the later ones are ephemeral follow-ups, in order.
      expect(String(rec.original!["content"])).toBe(first);
      expect(rec.followups).toEqual([
        { content: "second reply", allowed_mentions: { parse: [] }, flags: 64 },
        { content: "third reply", allowed_mentions: { parse: [] }, flags: 64 },
        { content: "fourth reply", allowed_mentions: { parse: [] }, flags: 64 },
      ]);
      expect(webhookCalls(s).map((r) => r.method)).toEqual(["PATCH", "POST", "POST", "POST"]);
    } finally {
      close();
    }
  });
});
