/**
 * @module The WhatsApp connector: webhook only (Cloud API has no polling). It exposes the GET/POST routes
 * for the HTTP server; statuses are ingested like messages and update outbox receipts downstream.
 */
import { TauError } from "../../src/contracts/errors.ts";
import type { Connector, ConnectorDeps } from "../shared/connector.ts";
import { createIngestor } from "../shared/ingest.ts";
import { StatusTracker } from "../shared/status-tracker.ts";
import type { WebhookRoute } from "../shared/webhook.ts";
import { normalizeWhatsAppWebhook } from "./normalize.ts";
import { createWhatsAppWebhookRoutes } from "./webhook.ts";

interface WhatsAppConnectorConfig extends ConnectorDeps {
  mode: "webhook";
  /** Webhook body limit (default 1 MiB, as `server.max_body_bytes`). */
  maxBodyBytes?: number;
  keepRaw?: boolean;
}

export interface WhatsAppConnector extends Connector {
  webhooks: readonly WebhookRoute[];
}

export function createWhatsAppConnector(deps: WhatsAppConnectorConfig): WhatsAppConnector {
  const tracker = new StatusTracker({
    transport: "whatsapp",
    mode: deps.mode,
    clock: deps.clock,
    onStatus: deps.onStatus,
    staleAfterMs: null,
  });
  const ingestor = createIngestor({
    transport: "whatsapp",
    sink: deps.ingress,
    tracker,
    logger: deps.logger,
    clock: deps.clock,
    identity: () => deps.identity,
    normalize: normalizeWhatsAppWebhook,
    keepRaw: deps.keepRaw ?? false,
    quarantine: deps.quarantine,
    source: "webhook",
  });
  const routes = createWhatsAppWebhookRoutes({
    secret: (id) => deps.secret(id),
    isRunning: () => tracker.running,
    ingestor,
    tracker,
    logger: deps.logger,
    maxBodyBytes: deps.maxBodyBytes ?? 1_048_576,
  });
  return {
    transport: "whatsapp",
    mode: deps.mode,
    webhooks: routes,
    async start() {
      if (tracker.running) return;
      // Without the app secret no POST can be verified: refuse to start rather than accept unsigned bodies.
      if (!deps.secret("whatsapp-app-secret")) {
        tracker.note("missing_whatsapp_app_secret");
        throw new TauError("MISSING_WHATSAPP_APP_SECRET", "no WhatsApp app secret to verify X-Hub-Signature-256", {
          hint: "set TAU_WHATSAPP_APP_SECRET or `tau secrets set whatsapp-app-secret`",
        });
      }
      if (!deps.secret("whatsapp-verify-token")) {
        deps.logger.warn(
          { event: "connector.config", transport: "whatsapp", code: "missing_whatsapp_verify_token" },
          "GET verification will answer 403",
        );
      }
      tracker.setRunning(true);
      deps.logger.info({ event: "connector.started", transport: "whatsapp", mode: "webhook" }, "whatsapp webhook intake started");
    },
    async stop() {
      if (!tracker.running) return;
      tracker.setRunning(false); // requests arriving from now on get 503; wait for those already appending
      await ingestor.idle();
      deps.logger.info({ event: "connector.stopped", transport: "whatsapp" }, "whatsapp intake stopped");
    },
    status: () => tracker.status(),
  };
}
