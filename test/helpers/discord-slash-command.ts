/**
 * @module A `/tau <sub>` slash command as Discord delivers it: a signed HTTP interaction POSTed to the real Discord
 * connector's endpoint (ingress written through the app's writer), the connector's answer recorded on the local
 * Discord server as the interaction's initial response. For tests of what tau does with the command afterwards.
 */
import { Hono } from "hono";
import { createDiscordConnector } from "../../connectors/discord/inbound.ts";
import { lookupSecret, openIngressWriter, type App } from "../../src/app/index.ts";
import { commandResolverFor } from "../../src/app/native-commands.ts";
import type { TokenSeal } from "../../src/contracts/token-seal.ts";
import { captureLogger, memoryCursors } from "./connector-harness.ts";
import type { createInteractionSigner } from "./discord-server-interactions.ts";
import type { DiscordServer } from "./discord-server.ts";

export interface SlashCommandSent {
  /** The interaction the local server created (its `token` included). */
  interaction: Record<string, unknown>;
  token: string;
  /** The connector's HTTP answer (the deferred response). */
  answer: Record<string, unknown>;
}

/** Send `/tau <sub>` from `userId`; interaction tokens are sealed with `tokens` when given. */
export async function sendSlashCommand(o: {
  server: DiscordServer;
  app: App;
  signer: ReturnType<typeof createInteractionSigner>;
  userId: string;
  sub: string;
  tokens?: TokenSeal;
}): Promise<SlashCommandSent> {
  const writer = openIngressWriter(o.app);
  const c = createDiscordConnector({
    ingress: writer,
    cursors: memoryCursors(),
    identity: o.app.config.identity,
    logger: captureLogger(),
    clock: () => Date.now(),
    secret: (id) => lookupSecret(o.app, id),
    ...(o.tokens ? { tokens: o.tokens } : {}),
    mode: "polling",
    channelIds: [],
    pollIntervalMs: 60_000,
    apiRoot: `${o.server.url}/api`,
    resolveCommand: commandResolverFor(o.app),
  });
  await c.start();
  try {
    const http = new Hono();
    for (const r of c.webhooks ?? []) http.on(r.method, r.path, (ctx) => r.handler(ctx));
    const interaction = o.server.interactions.create({
      type: 2,
      data: { id: "1400000000000000001", name: "tau", type: 1, options: [{ name: o.sub, type: 1 }] },
      userId: o.userId,
    });
    const token = interaction["token"] as string;
    const body = JSON.stringify(interaction);
    const res = await http.request("/webhooks/discord", {
      method: "POST",
      body,
      headers: o.signer.sign(body, Math.floor(Date.now() / 1000)),
    });
    const answer = (await res.json()) as Record<string, unknown>;
    o.server.interactions.respondedInline(token, answer);
    return { interaction, token, answer };
  } finally {
    await c.stop();
    await writer.close();
  }
}
