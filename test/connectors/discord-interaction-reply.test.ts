/**
 * A Discord slash command end to end (issue 12 §2): signed HTTP interaction → deferred response → `/tau whoami` in
 * ingress → the real runner (RBAC, command path) → provider delivery edits the deferred response through the
 * interaction webhook (`PATCH /webhooks/{app}/{token}/messages/@original`, no Authorization header) on the local
 * server, which accepts the edit only after an initial response and only while the token lives. A long reply's
 * later chunks become follow-ups, ephemeral like the response.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDiscordSender } from "../../connectors/discord/sender.ts";
import fs from "node:fs";
import path from "node:path";
import { createAppRunner, tokenSealOf, type App } from "../../src/app/index.ts";
import type { TokenSeal } from "../../src/contracts/token-seal.ts";
import { richColumn } from "../../src/outbound/format.ts";
import { withRendering } from "../../src/outbound/format-job.ts";
import { waitFor } from "../helpers/connector-harness.ts";
import { sendSlashCommand, type SlashCommandSent } from "../helpers/discord-slash-command.ts";
import { createInteractionSigner, slashCommandTarget } from "../helpers/discord-server-interactions.ts";
import { startDiscordServer, type DiscordServer } from "../helpers/discord-server.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";

const TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMQ.GfAkE1.tau-discord-test-token";
const APP_ID = "1100000000000000001"; // the tau home's identity.discord
const USER = "1300000000000000042";

let server: DiscordServer;
let home: TauHome;
let app: App;
const signer = createInteractionSigner();

beforeEach(async () => {
  server = await startDiscordServer({ token: TOKEN, botUser: { id: APP_ID } });
  home = makeTauHome(
    [
      "runner:\n  coalesce_window_ms: 0",
      "outbound:\n  mode: provider\n  http_timeout_ms: 2000",
      `connectors:\n  discord: { mode: polling, api_root: "${server.url}/api" }`,
    ].join("\n") + "\n",
    { "channel-policy.yaml": OPEN_CHANNEL_POLICY },
  );
  app = home.open();
  app.store.secrets.put("discord-bot-token", TOKEN, Date.now());
  app.store.secrets.put("discord-public-key", signer.publicKeyHex, Date.now());
});
afterEach(async () => {
  app.close();
  home.cleanup();
  await server.close();
});

/**
 * `/tau whoami` as a signed HTTP interaction through the real connector (sealing tokens with `tokens` when given):
 * the deferred answer is recorded as the interaction's initial response and the envelope is in ingress.
 */
const slashWhoami = (tokens?: TokenSeal): Promise<SlashCommandSent> =>
  sendSlashCommand({ server, app, signer, userId: USER, sub: "whoami", ...(tokens ? { tokens } : {}) });

/** Run the real runner over ingress until the interaction's deferred response was edited; returns that edit. */
async function editedOriginal(token: string): Promise<Record<string, unknown>> {
  const { runner, close } = createAppRunner(app);
  try {
    await runner.drain();
    const rec = server.interactions.byToken.get(token)!;
    await waitFor(() => rec.original?.["content"], 5000, "the edited original response");
    return rec.original!;
  } finally {
    close();
  }
}

describe("a slash command answered through its interaction", () => {
  it("runs /tau whoami through the command path and edits the deferred response with the result", async () => {
    const { token, answer } = await slashWhoami();
    expect(answer).toEqual({ type: 5, data: { flags: 64 } });

    const original = await editedOriginal(token);
    expect(String(original["content"])).toContain(USER);
    expect(original["allowed_mentions"]).toEqual({ parse: [] });
    const edit = server.requests.find((r) => r.method === "PATCH" && r.path.startsWith(`/webhooks/${APP_ID}/`))!;
    expect(edit.path).toMatch(/\/messages\/(@|%40)original$/);
    expect(edit.headers["authorization"]).toBeUndefined();
    // Nothing went to the channel as a plain message: the answer is the interaction's.
    expect(server.sentMessages).toEqual([]);
  });

  it("keeps the interaction token sealed in every file of the state folder, and still answers through it", async () => {
    // The token is a credential for 15 minutes (it posts as the bot in that channel): ingress, the job, the outbox row
    // and the WAL hold it sealed with the secrets key; the sender opens it for the request.
    const { token } = await slashWhoami(tokenSealOf(app));

    expect(String((await editedOriginal(token))["content"])).toContain(USER);
    const files = (dir: string): string[] =>
      fs
        .readdirSync(dir, { withFileTypes: true })
        .flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
    const state = files(app.stateDir);
    expect(state.some((f) => f.endsWith(".ndjson"))).toBe(true);
    expect(state.filter((f) => fs.readFileSync(f).includes(token))).toEqual([]);
    const line = fs.readFileSync(path.join(app.stateDir, "ingress", "discord.ndjson"), "utf8");
    expect(line).toMatch(/"interaction_token":"tau-sealed:v1:k[0-9a-f]{16}:/);
  });

  it("does not answer through a token it cannot open (altered), and says why", async () => {
    const seal = tokenSealOf(app);
    const sealed = seal.seal("an-interaction-token");
    expect(seal.open(sealed)).toBe("an-interaction-token");
    expect(seal.open("a-token-from-before-sealing")).toBe("a-token-from-before-sealing");
    const altered = sealed.slice(0, -6) + (sealed.endsWith("AAAA==") ? "BBBB==" : "AAAA==");
    expect(() => seal.open(altered)).toThrow(/does not open/);
    const interaction = server.interactions.create({
      type: 2,
      data: { name: "tau", type: 1, options: [{ name: "help", type: 1 }] },
      userId: USER,
    });
    const target = slashCommandTarget(interaction, { appId: APP_ID, userId: USER, text: "/tau help" });
    target.interaction!.interaction_token = altered;
    const rich = richColumn({ purpose: "command", text: "hello" }, target);
    const sender = createDiscordSender({ apiRoot: `${server.url}/api`, token: () => TOKEN, openToken: seal.open });
    const job = withRendering({
      outbox_id: "ob_000000000abcdefabcdefabcdef",
      idx: 0,
      chunk_count: 1,
      text: "hello",
      target,
      rich_column: rich,
    });
    const before = server.requests.length;
    expect(await sender.send(job)).toMatchObject({ ok: false, code: "delivery_request_rejected", retryable: false, ambiguous: false });
    expect(server.requests.length).toBe(before);
  });

  it("sends the first chunk as the edit and the rest as ephemeral follow-ups", async () => {
    const interaction = server.interactions.create({
      type: 2,
      data: { name: "tau", type: 1, options: [{ name: "help", type: 1 }] },
      userId: USER,
    });
    server.interactions.respondedInline(interaction["token"] as string, { type: 5, data: { flags: 64 } });
    const target = slashCommandTarget(interaction, { appId: APP_ID, userId: USER, text: "/tau help" });
    const rich = richColumn({ purpose: "command", text: "part one\npart two" }, target);
    const sender = createDiscordSender({ apiRoot: `${server.url}/api`, token: () => TOKEN });
    for (const [idx, text] of ["part one", "part two"].entries()) {
      const job = withRendering({ outbox_id: "ob_000000000abcdefabcdefabcdef", idx, chunk_count: 2, text, target, rich_column: rich });
      expect(await sender.send(job)).toMatchObject({ ok: true });
    }
    const rec = server.interactions.byToken.get(interaction["token"] as string)!;
    expect(rec.original).toMatchObject({ content: "part one" });
    expect(rec.followups).toEqual([{ content: "part two", allowed_mentions: { parse: [] }, flags: 64 }]);
    // The rich column holds the delivery action; a dry-run rendering shows a placeholder, never the token.
    const shaped = withRendering({ outbox_id: "ob_x", idx: 0, chunk_count: 2, text: "part one", target, rich_column: rich });
    expect(JSON.stringify(shaped.action)).toContain("edit_prompt");
  });
});
