/**
 * @module Online provider calls the lifecycle commands need (probe, Telegram setWebhook/deleteWebhook), backed by
 * the connector sender modules, loaded on first use. A composition helper: the commands receive these as a port.
 */
import type { ProviderPorts } from "../lifecycle/provider-ports.ts";
import type { TauConfig } from "../config/index.ts";

export function createProviderPorts(config: TauConfig): ProviderPorts {
  const c = config.connectors;
  const timeoutMs = config.outbound.http_timeout_ms;
  return {
    async probe(transport, creds) {
      switch (transport) {
        case "telegram":
          return (await import("../../connectors/telegram/sender.ts")).probeTelegram({
            apiRoot: c.telegram.api_root,
            token: creds.token,
            timeoutMs,
          });
        case "discord":
          return (await import("../../connectors/discord/sender.ts")).probeDiscord({
            apiRoot: c.discord.api_root,
            token: creds.token,
            timeoutMs,
          });
        case "whatsapp":
          return (await import("../../connectors/whatsapp/sender.ts")).probeWhatsApp({
            apiRoot: c.whatsapp.api_root,
            token: creds.token,
            phoneNumberId: creds.phoneNumberId ?? "",
            timeoutMs,
          });
        case "email":
          return { ok: true, detail: "no online probe for email here (see communications.stack.status)" };
      }
    },
    async setTelegramWebhook(token, url, secret) {
      return (await import("../../connectors/telegram/sender.ts")).configureTelegramWebhook({
        apiRoot: c.telegram.api_root,
        token,
        url,
        secret,
      });
    },
    async deleteTelegramWebhook(token) {
      return (await import("../../connectors/telegram/sender.ts")).removeTelegramWebhook({ apiRoot: c.telegram.api_root, token });
    },
    async setTelegramCommands(token, sets) {
      return (await import("../../connectors/telegram/commands.ts")).setTelegramCommands({ apiRoot: c.telegram.api_root, token, sets });
    },
    async setDiscordCommands(token, at, commands) {
      return (await import("../../connectors/discord/commands.ts")).registerDiscordCommands({
        apiRoot: c.discord.api_root,
        token,
        applicationId: at.applicationId,
        guildId: at.guildId,
        commands,
        timeoutMs,
      });
    },
  };
}
