/**
 * @module WhatsApp Cloud API webhooks: `GET /webhooks/whatsapp` answers Meta's verification handshake;
 * `POST` is verified with `X-Hub-Signature-256` (HMAC-SHA256 with the app secret over the EXACT raw bytes,
 * required, constant time) before anything is parsed, then every entry, change and item is normalized on its
 * own (a bad one is quarantined with its reason) and the good ones are appended durably before the 200.
 * @see https://developers.facebook.com/docs/graph-api/webhooks/getting-started#verification-requests
 * @see https://developers.facebook.com/docs/graph-api/webhooks/getting-started#validate-payloads
 */
import { createHmac } from "node:crypto";
import type { ConnectorLogger } from "../shared/connector.ts";
import type { Ingestor } from "../shared/ingest.ts";
import { secretEquals } from "../shared/secure-compare.ts";
import type { StatusTracker } from "../shared/status-tracker.ts";
import { BODY_TOO_LARGE, parseJsonBytes, payloadTooLarge, readBodyLimited, type WebhookRoute } from "../shared/webhook.ts";

const WHATSAPP_WEBHOOK_PATH = "/webhooks/whatsapp";
const SIGNATURE_HEADER = "x-hub-signature-256";

interface WhatsAppWebhookOptions {
  /** A secret by integration id (`whatsapp-app-secret`, `whatsapp-verify-token`); null when absent. */
  secret(id: string): string | null;
  isRunning: () => boolean;
  ingestor: Ingestor;
  tracker: StatusTracker;
  logger: ConnectorLogger;
  maxBodyBytes: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** `sha256=<lowercase hex HMAC-SHA256(appSecret, rawBody)>`, the value Meta sends. */
function whatsappSignature(appSecret: string, raw: Buffer): string {
  return `sha256=${createHmac("sha256", appSecret).update(raw).digest("hex")}`;
}

export function createWhatsAppWebhookRoutes(o: WhatsAppWebhookOptions): WebhookRoute[] {
  const refuse = (code: string, status: number) => {
    o.tracker.refused(code);
    o.logger.warn({ event: "webhook.refused", transport: "whatsapp", code }, "webhook refused");
    return new Response(null, { status });
  };

  const verify: WebhookRoute = {
    method: "GET",
    path: WHATSAPP_WEBHOOK_PATH,
    handler(c) {
      const expected = o.secret("whatsapp-verify-token");
      const q = c.req.query();
      const challenge = q["hub.challenge"];
      if (!expected || q["hub.mode"] !== "subscribe" || !secretEquals(q["hub.verify_token"], expected) || challenge === undefined) {
        return refuse("whatsapp_verify_token_mismatch", 403);
      }
      if (!o.isRunning()) return new Response(null, { status: 503 });
      return new Response(challenge, { status: 200, headers: { "content-type": "text/plain; charset=utf-8" } });
    },
  };

  const receive: WebhookRoute = {
    method: "POST",
    path: WHATSAPP_WEBHOOK_PATH,
    async handler(c) {
      const appSecret = o.secret("whatsapp-app-secret");
      if (!appSecret) return new Response(null, { status: 503 });
      const given = c.req.raw.headers.get(SIGNATURE_HEADER);
      if (!given) return refuse("whatsapp_signature_invalid", 401);
      const raw = await readBodyLimited(c.req.raw, o.maxBodyBytes);
      if (raw === BODY_TOO_LARGE) {
        o.tracker.failure("parse", "webhook_body_too_large");
        return payloadTooLarge();
      }
      // Over the bytes as received: re-serialized JSON would not match (Meta signs escaped unicode).
      if (!secretEquals(given.trim().toLowerCase(), whatsappSignature(appSecret, raw))) return refuse("whatsapp_signature_invalid", 401);
      if (!o.isRunning()) return new Response(null, { status: 503 });
      const body = parseJsonBytes(raw);
      if (!isRecord(body)) {
        o.tracker.failure("parse", "webhook_malformed_json");
        return new Response(null, { status: 400 });
      }
      try {
        // The normalizer refuses per item (message, status, error, change), with paths into this very body.
        await o.ingestor.ingest([body]);
      } catch {
        return new Response(null, { status: 500 }); // counted by the ingestor; Meta retries
      }
      o.tracker.success();
      return new Response(null, { status: 200 });
    },
  };

  return [verify, receive];
}
