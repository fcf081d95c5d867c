/**
 * @module The concrete provider senders, built from config and the secret lookup (composition helper for
 * `src/main.ts`). Each connector's sender module — and so its SDK — is loaded on first use only: discord.js
 * alone takes about a second to import, and most CLI commands never send.
 */
import type { ProviderSender } from "../contracts/delivery.ts";
import type { Transport } from "../contracts/envelope.ts";
import type { TauConfig } from "../config/index.ts";

/** A secret by integration id (env first, then the integration store), null when absent. */
export type SecretLookup = (id: string) => string | null;

/** A sender whose real implementation is created on the first `send`. */
function lazySender(transport: Transport, idempotent: boolean, load: () => Promise<ProviderSender>): ProviderSender {
  let real: Promise<ProviderSender> | null = null;
  return {
    transport,
    idempotent,
    send: async (job) => {
      real ??= load();
      return (await real).send(job);
    },
  };
}

/** Senders for Telegram, Discord and WhatsApp, pointed at the configured API roots. Email replies are not sent from here. */
export function createProviderSenders(config: TauConfig, secret: SecretLookup): Map<Transport, ProviderSender> {
  const c = config.connectors;
  const timeoutMs = config.outbound.http_timeout_ms;
  return new Map<Transport, ProviderSender>([
    [
      "telegram",
      lazySender("telegram", false, async () => {
        const { createTelegramSender } = await import("../../connectors/telegram/sender.ts");
        return createTelegramSender({ apiRoot: c.telegram.api_root, token: () => secret("telegram-bot-token"), timeoutMs });
      }),
    ],
    [
      "discord",
      lazySender("discord", true, async () => {
        const { createDiscordSender } = await import("../../connectors/discord/sender.ts");
        return createDiscordSender({ apiRoot: c.discord.api_root, token: () => secret("discord-bot-token"), timeoutMs });
      }),
    ],
    [
      "whatsapp",
      lazySender("whatsapp", false, async () => {
        const { createWhatsAppSender } = await import("../../connectors/whatsapp/sender.ts");
        return createWhatsAppSender({
          apiRoot: c.whatsapp.api_root,
          token: () => secret("whatsapp-access-token"),
          phoneNumberId: () => secret("whatsapp-phone-number-id") ?? (config.identity.whatsapp.phone_number_id || null),
          timeoutMs,
        });
      }),
    ],
  ]);
}
