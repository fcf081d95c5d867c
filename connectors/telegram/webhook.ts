/**
 * @module `POST /webhooks/telegram`: the secret header is checked first, in constant time; the body is read
 * under a byte limit; the update is normalized and appended durably BEFORE the 200. Every update type gets
 * 200 (normalized, or recorded as ignored) so Telegram never redelivers what we already hold.
 * @see https://core.telegram.org/bots/api#setwebhook (secret_token → X-Telegram-Bot-Api-Secret-Token)
 */
import type { ConnectorLogger } from "../shared/connector.ts";
import type { Ingestor } from "../shared/ingest.ts";
import { secretEquals } from "../shared/secure-compare.ts";
import type { StatusTracker } from "../shared/status-tracker.ts";
import { BODY_TOO_LARGE, parseJsonBytes, payloadTooLarge, readBodyLimited, type WebhookRoute } from "../shared/webhook.ts";

const TELEGRAM_WEBHOOK_PATH = "/webhooks/telegram";
const SECRET_HEADER = "x-telegram-bot-api-secret-token";

interface TelegramWebhookOptions {
  /** The configured secret_token; null when not configured (then every request is refused with 503). */
  secret: () => string | null;
  isRunning: () => boolean;
  ingestor: Ingestor;
  tracker: StatusTracker;
  logger: ConnectorLogger;
  maxBodyBytes: number;
}

function isUpdate(value: unknown): value is { update_id: number } {
  return (
    value !== null && typeof value === "object" && !Array.isArray(value) && typeof (value as { update_id?: unknown }).update_id === "number"
  );
}

export function createTelegramWebhookRoute(o: TelegramWebhookOptions): WebhookRoute {
  return {
    method: "POST",
    path: TELEGRAM_WEBHOOK_PATH,
    async handler(c) {
      const secret = o.secret();
      if (secret === null) return new Response(null, { status: 503 });
      if (!secretEquals(c.req.raw.headers.get(SECRET_HEADER), secret)) {
        o.tracker.refused("telegram_webhook_secret_mismatch");
        o.logger.warn(
          { event: "webhook.refused", transport: "telegram", code: "telegram_webhook_secret_mismatch" },
          "webhook secret missing or wrong",
        );
        return new Response(null, { status: 401 });
      }
      // Stopped (logged out, shutting down): refuse so Telegram keeps the update and redelivers later.
      if (!o.isRunning()) return new Response(null, { status: 503 });
      const raw = await readBodyLimited(c.req.raw, o.maxBodyBytes);
      if (raw === BODY_TOO_LARGE) {
        o.tracker.failure("parse", "webhook_body_too_large");
        return payloadTooLarge();
      }
      const update = parseJsonBytes(raw);
      if (!isUpdate(update)) {
        o.tracker.failure("parse", "webhook_malformed_json");
        return new Response(null, { status: 400 });
      }
      try {
        await o.ingestor.ingest([update]);
      } catch {
        // Already counted and logged by the ingestor; a non-2xx makes Telegram redeliver.
        return new Response(null, { status: 500 });
      }
      o.tracker.success();
      return new Response(null, { status: 200 });
    },
  };
}
