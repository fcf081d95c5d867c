/** @module What the composition picks per transport: the payload normalizer and the request builder for each platform. */
import type { Transport } from "../contracts/envelope.ts";
import type { ChannelSender } from "../contracts/outbound.ts";
import { type TauConfig } from "../config/index.ts";
import { type Normalizer } from "../ingress/index.ts";
import { normalizeTelegramUpdate } from "../../connectors/telegram/normalize.ts";
import { normalizeDiscordPayload } from "../../connectors/discord/normalize.ts";
import { normalizeWhatsAppWebhook } from "../../connectors/whatsapp/normalize.ts";
import { buildTelegramSendMessage } from "../../connectors/telegram/request.ts";
import { buildDiscordCreateMessage } from "../../connectors/discord/request.ts";
import { buildWhatsAppTextMessage } from "../../connectors/whatsapp/request.ts";
import { buildEmailReply } from "../../connectors/email/request.ts";

/** The normalizer for a transport (email envelopes come only from the IMAP connector). */
export function normalizerFor(transport: Transport): Normalizer | null {
  switch (transport) {
    case "telegram":
      return normalizeTelegramUpdate;
    case "discord":
      return normalizeDiscordPayload;
    case "whatsapp":
      return normalizeWhatsAppWebhook;
    case "email":
      return null;
  }
}

/** Request builders per transport (what dry-run and provider delivery send), pointed at the configured API roots. Not to be confused with `createProviderSenders` (the SDK-backed senders). */
export function createRequestBuilders(config: TauConfig): Map<Transport, ChannelSender> {
  const c = config.connectors;
  return new Map<Transport, ChannelSender>([
    ["telegram", { transport: "telegram", buildRequest: (job) => buildTelegramSendMessage(c.telegram.api_root, job) }],
    ["discord", { transport: "discord", buildRequest: (job) => buildDiscordCreateMessage(c.discord.api_root, job) }],
    ["whatsapp", { transport: "whatsapp", buildRequest: (job) => buildWhatsAppTextMessage(c.whatsapp.api_root, job) }],
    ["email", { transport: "email", buildRequest: (job) => buildEmailReply(job) }],
  ]);
}
