/**
 * @module The concrete provider senders, built from config and the secret lookup (composition helper for
 * `src/app`). Each connector's sender module — and so its SDK — is loaded on first use only: discord.js
 * alone takes about a second to import, and most CLI commands never send.
 */
import type { ProviderSender, TypingOutcome } from "../contracts/delivery.ts";
import { TYPING_REFRESH_MS } from "../contracts/delivery.ts";
import { describeError } from "../contracts/errors.ts";
import type { Transport } from "../contracts/envelope.ts";
import type { TokenSeal } from "../contracts/token-seal.ts";
import type { TauConfig } from "../config/index.ts";

/** A secret by integration id (env first, then the integration store), null when absent. */
type SecretLookup = (id: string) => string | null;

/**
 * A sender whose real implementation is created on the first `send` or `typing`. `typing` is there for the
 * transports that have a typing indicator (the keys of `TYPING_REFRESH_MS`; the real sender is not loaded to
 * find out), and it never throws, not even when the connector module fails to load.
 */
function lazySender(transport: Transport, idempotent: boolean, load: () => Promise<ProviderSender>): ProviderSender {
  let real: Promise<ProviderSender> | null = null;
  const sender: ProviderSender = {
    transport,
    idempotent,
    send: async (job) => {
      real ??= load();
      return (await real).send(job);
    },
  };
  if (Object.hasOwn(TYPING_REFRESH_MS, transport)) {
    sender.typing = async (target, inboundMessageId): Promise<TypingOutcome> => {
      try {
        real ??= load();
        const r = await real;
        if (!r.typing)
          return { ok: false, code: "delivery_request_rejected", status: null, detail: `${transport} has no typing indicator` };
        return await r.typing(target, inboundMessageId);
      } catch (err) {
        return { ok: false, code: "delivery_transport_error", status: null, detail: `typing: ${describeError(err)}`.slice(0, 300) };
      }
    };
  }
  return sender;
}

/**
 * Senders for Telegram, Discord and WhatsApp, pointed at the configured API roots, and email replies over the
 * SMTP submission account of `policies/communications/stack.yaml` (in `policiesDir`; only when its mode is
 * `live-pilot` — a simulation stack refuses with `delivery_email_simulation`).
 */
export function createProviderSenders(
  config: TauConfig,
  secret: SecretLookup,
  policiesDir?: string,
  tokens?: TokenSeal,
): Map<Transport, ProviderSender> {
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
        return createDiscordSender({
          apiRoot: c.discord.api_root,
          token: () => secret("discord-bot-token"),
          timeoutMs,
          ...(tokens ? { openToken: (v: string) => tokens.open(v) } : {}),
        });
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
    [
      "email",
      lazySender("email", false, async () => {
        const { createEmailSender } = await import("../../connectors/email/sender.ts");
        const { loadMailStack } = await import("../capabilities/mail/stack.ts");
        const { DEFAULT_MAIL_ADAPTERS, smtpConfigOf } = await import("../capabilities/mail/mail-context.ts");
        const { describeError } = await import("../contracts/errors.ts");
        return createEmailSender({
          setup() {
            if (!policiesDir)
              return {
                ok: false,
                code: "delivery_request_rejected",
                detail: "no policies folder: email replies need policies/communications/stack.yaml",
              };
            let stack;
            try {
              stack = loadMailStack(policiesDir);
            } catch (err) {
              return { ok: false, code: "delivery_request_rejected", detail: `communications stack: ${describeError(err)}`.slice(0, 300) };
            }
            if (stack.mode !== "live-pilot")
              return {
                ok: false,
                code: "delivery_email_simulation",
                detail: "stack.yaml mode is simulation: email replies are not sent (set mode: live-pilot)",
              };
            const cfg = smtpConfigOf(stack, { secret }, timeoutMs);
            if (!cfg)
              return {
                ok: false,
                code: "delivery_missing_smtp_password",
                detail: `no secret ${stack.smtp.password_secret} (TAU_SMTP_PASSWORD or tau secrets set)`,
              };
            return { ok: true, submit: (msg) => DEFAULT_MAIL_ADAPTERS.sendMail(cfg, msg) };
          },
        });
      }),
    ],
  ]);
}
