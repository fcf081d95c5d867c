/**
 * @module `npm run demo:live`: tau in provider mode against local Telegram Bot API, Discord REST and WhatsApp
 * Graph servers (the same ones the tests use), so a newcomer sees real HTTP traffic with no internet. Raw
 * fixtures are ingested, the runner decides, and the real grammY / @discordjs/rest / axios clients send.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ingestPayload } from "../src/ingress/index.ts";
import { createAppRunner, normalizerFor, openApp, openIngressWriter } from "../src/app/index.ts";
import { createLogger } from "../src/log.ts";
import type { Transport } from "../src/contracts/envelope.ts";
import { startTelegramBotApiServer } from "../test/helpers/telegram-bot-api-server.ts";
import { startDiscordServer } from "../test/helpers/discord-server.ts";
import { startWhatsAppGraphServer, DEFAULT_ACCESS_TOKEN } from "../test/helpers/whatsapp-graph-server.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const TG_TOKEN = "6112:DEMO-token_abcdefghijklmnopqrstuvwx";
const DC_TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMQ.GfAkE1.tau-discord-demo-token";

const telegram = await startTelegramBotApiServer({ token: TG_TOKEN });
const discord = await startDiscordServer({ token: DC_TOKEN });
const whatsapp = await startWhatsAppGraphServer({
  accessTokens: [DEFAULT_ACCESS_TOKEN],
  phoneNumbers: [{ id: "106540352242922", display_phone_number: "15550783881" }],
});
whatsapp.recordInbound("16505551234"); // the customer wrote first: the 24-hour window is open

const home = fs.mkdtempSync(path.join(os.tmpdir(), "tau-demo-live-"));
fs.mkdirSync(path.join(home, "policies"));
fs.writeFileSync(
  path.join(home, "policies", "channel-policy.yaml"),
  "schema_version: 1\ndefaultPolicy: { dmPolicy: allow, allowFrom: any, groupPolicy: allow, requireMention: true }\n",
);
fs.writeFileSync(
  path.join(home, "tau.yaml"),
  `schema_version: 1
log: { level: silent }
identity:
  telegram: { bot_id: "6112", username: "tau_ops_bot" }
  discord: { user_id: "1100000000000000001", application_id: "1100000000000000001" }
  whatsapp: { phone_number_id: "106540352242922" }
runner: { coalesce_window_ms: 0 }
`,
);
// No secrets in files: the environment carries them, exactly as in production.
const env = {
  TAU_OUTBOUND_MODE: "provider",
  TAU_TELEGRAM_API_ROOT: telegram.url,
  TAU_DISCORD_API_ROOT: `${discord.url}/api`,
  TAU_WHATSAPP_API_ROOT: `${whatsapp.url}/v23.0`,
  TAU_TELEGRAM_BOT_TOKEN: TG_TOKEN,
  TAU_DISCORD_BOT_TOKEN: DC_TOKEN,
  TAU_WHATSAPP_ACCESS_TOKEN: DEFAULT_ACCESS_TOKEN,
  TAU_WHATSAPP_PHONE_NUMBER_ID: "106540352242922",
};
const app = openApp({
  stateDir: path.join(home, "state"),
  configPath: path.join(home, "tau.yaml"),
  env,
  logger: createLogger({ level: "silent", includeIdentifiers: false }),
});
try {
  console.log("tau demo:live — provider mode against local Telegram, Discord and WhatsApp servers on 127.0.0.1\n");
  const writer = openIngressWriter(app);
  for (const [transport, file] of [
    ["telegram", "telegram/private-text.json"],
    ["discord", "discord/dm.json"],
    ["whatsapp", "whatsapp/text.json"],
  ] as [Transport, string][]) {
    const r = await ingestPayload({
      bytes: fs.readFileSync(path.join(root, "fixtures", "raw", file)),
      transport,
      normalize: normalizerFor(transport)!,
      ctx: { identity: app.config.identity, receivedAtMs: app.clock() },
      writer,
      maxLineBytes: app.config.ingress.max_line_bytes,
    });
    console.log(`ingested fixtures/raw/${file} → ${r.event_ids.join(", ")}`);
  }
  await writer.close();
  const { runner, close } = createAppRunner(app);
  const reports = await runner.drain();
  close();
  console.log(
    `runner: ${reports.reduce((a, r) => a + r.processed, 0)} events decided, ${reports.reduce((a, r) => a + r.replies, 0)} replies\n`,
  );
  const show = (name: string, lines: string[]) =>
    console.log(`${name} received:\n${lines.map((l) => `  ${l}`).join("\n") || "  (nothing)"}`);
  show(
    "Telegram Bot API",
    telegram.requests.map((r) => `${r.httpMethod} /bot<token>/${r.method}  ${JSON.stringify(r.params).slice(0, 140)}`),
  );
  show(
    "Discord REST",
    discord.requests.map((r) => `${r.method} /api/v10${r.path}  ${r.rawBody.slice(0, 140)}`),
  );
  show(
    "WhatsApp Graph",
    whatsapp.requests.map((r) => `${r.method} /${r.version}${r.path}  ${r.rawBody.slice(0, 140)}`),
  );
  const rows = app.store.inspect.deliveries();
  console.log(`\noutbox: ${rows.map((r) => `${r.transport} ${r.status} (${r.reason})`).join("; ")}`);
  console.log("tokens were sent in headers/paths to the local servers only; they appear nowhere in tau's state or output.");
} finally {
  app.close();
  await Promise.all([telegram.close(), discord.close(), whatsapp.close()]);
  fs.rmSync(home, { recursive: true, force: true });
}
