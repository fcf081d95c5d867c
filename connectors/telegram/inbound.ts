/**
 * @module The Telegram connector: `polling` (tau owns the getUpdates offset, committed only after the
 * ingress fsync) or `webhook` (a route for the HTTP server). grammY is imported only in this folder.
 */
import type { BotIdentity } from "../../src/contracts/envelope.ts";
import { TauError } from "../../src/contracts/errors.ts";
import { DEFAULT_BACKOFF, type BackoffOptions } from "../shared/backoff.ts";
import type { Connector, ConnectorDeps, PollRoundResult } from "../shared/connector.ts";
import { createIngestor } from "../shared/ingest.ts";
import { StatusTracker } from "../shared/status-tracker.ts";
import type { WebhookRoute } from "../shared/webhook.ts";
import { createTelegramClient, grammySignal, resolveTelegramIdentity, type TelegramClient } from "./api.ts";
import { normalizeTelegramUpdate } from "./normalize.ts";
import { createTelegramPoller, type TelegramPoller } from "./polling.ts";
import { createTelegramWebhookRoute } from "./webhook.ts";

export interface TelegramConnectorConfig extends ConnectorDeps {
  mode: "polling" | "webhook";
  /** Bot API root without trailing slash (self-hosted servers, proxies, tests). */
  apiRoot: string;
  /** Long-poll timeout in seconds. */
  pollTimeoutS: number;
  /** Webhook body limit (default 1 MiB, as `server.max_body_bytes`). */
  maxBodyBytes?: number;
  /** Extra time a long poll may take before it counts as stalled (default 10 s). */
  stallMarginMs?: number;
  backoff?: BackoffOptions;
  random?: () => number;
  keepRaw?: boolean;
}

export interface TelegramConnector extends Connector {
  webhooks: readonly WebhookRoute[];
}

export function createTelegramConnector(deps: TelegramConnectorConfig): TelegramConnector {
  const stallMarginMs = deps.stallMarginMs ?? 10_000;
  const tracker = new StatusTracker({
    transport: "telegram",
    mode: deps.mode,
    clock: deps.clock,
    onStatus: deps.onStatus,
    // Polling: live while getUpdates keeps completing (two poll periods of slack). Webhook: live while running.
    staleAfterMs: deps.mode === "polling" ? 2 * (deps.pollTimeoutS * 1000 + stallMarginMs) : null,
  });
  let identity: BotIdentity = deps.identity;
  const ingestor = createIngestor({
    transport: "telegram",
    sink: deps.ingress,
    tracker,
    logger: deps.logger,
    clock: deps.clock,
    identity: () => identity,
    normalize: normalizeTelegramUpdate,
    keepRaw: deps.keepRaw ?? false,
    quarantine: deps.quarantine,
    source: deps.mode,
  });
  let client: TelegramClient | null = null;
  let poller: TelegramPoller | null = null;
  let loop: Promise<void> | null = null;
  let abort: AbortController | null = null;
  let stopping: Promise<void> | null = null;

  function requireToken(): string {
    const token = deps.secret("telegram-bot-token");
    if (!token) {
      tracker.note("missing_telegram_bot_token");
      throw new TauError("MISSING_TELEGRAM_BOT_TOKEN", "no Telegram bot token", {
        hint: "set TAU_TELEGRAM_BOT_TOKEN or `tau secrets set telegram-bot-token`",
      });
    }
    return token;
  }

  function clientFor(token: string): TelegramClient {
    return (client ??= createTelegramClient(token, deps.apiRoot));
  }

  /** Release the client's keep-alive sockets; the next start builds a fresh client and prepares again. */
  function release(): void {
    client?.close();
    client = null;
    poller = null;
  }

  function pollerFor(token: string): TelegramPoller {
    if (poller) return poller;
    const { api } = clientFor(token);
    poller = createTelegramPoller({
      api,
      ingestor,
      cursors: deps.cursors,
      tracker,
      logger: deps.logger,
      pollTimeoutS: deps.pollTimeoutS,
      stallMarginMs,
      backoff: deps.backoff ?? DEFAULT_BACKOFF,
      random: deps.random ?? Math.random,
      async beforePolling(signal) {
        // Polling and a webhook are mutually exclusive (409 otherwise); pending updates are kept.
        await api.deleteWebhook({}, grammySignal(signal));
        identity = await resolveTelegramIdentity(identity, api, signal);
      },
    });
    return poller;
  }

  async function startWebhook(): Promise<void> {
    if (!deps.secret("telegram-webhook-secret")) {
      tracker.note("missing_telegram_webhook_secret");
      throw new TauError("MISSING_TELEGRAM_WEBHOOK_SECRET", "webhook mode requires a secret token", {
        hint: "set TAU_TELEGRAM_WEBHOOK_SECRET (1-256 of A-Z a-z 0-9 _ -) and pass it to setWebhook",
      });
    }
    if (!identity.telegram.bot_id || !identity.telegram.username) {
      const token = deps.secret("telegram-bot-token");
      if (!token) {
        tracker.note("ingress_identity_missing");
        throw new TauError("INGRESS_IDENTITY_MISSING", "identity.telegram is not configured and there is no bot token to ask getMe");
      }
      try {
        identity = await resolveTelegramIdentity(identity, clientFor(token).api);
      } finally {
        release();
      }
    }
  }

  const route = createTelegramWebhookRoute({
    secret: () => deps.secret("telegram-webhook-secret"),
    isRunning: () => tracker.running,
    ingestor,
    tracker,
    logger: deps.logger,
    maxBodyBytes: deps.maxBodyBytes ?? 1_048_576,
  });

  const connector: TelegramConnector = {
    transport: "telegram",
    mode: deps.mode,
    webhooks: deps.mode === "webhook" ? [route] : [],
    async start() {
      await stopping;
      if (tracker.running) return;
      if (deps.mode === "webhook") {
        await startWebhook();
        tracker.setRunning(true);
        deps.logger.info({ event: "connector.started", transport: "telegram", mode: "webhook" }, "telegram webhook intake started");
        return;
      }
      const p = pollerFor(requireToken());
      abort = new AbortController();
      tracker.setRunning(true);
      loop = p.run(abort.signal);
      deps.logger.info({ event: "connector.started", transport: "telegram", mode: "polling" }, "telegram polling started");
    },
    async stop() {
      if (stopping) return stopping;
      if (!tracker.running) {
        release(); // after pollOnce
        return;
      }
      tracker.setRunning(false); // webhook requests arriving from now on get 503
      abort?.abort();
      stopping = (async () => {
        await loop;
        await ingestor.idle();
      })();
      await stopping;
      stopping = null;
      loop = null;
      abort = null;
      release();
      deps.logger.info({ event: "connector.stopped", transport: "telegram" }, "telegram intake stopped");
    },
    status: () => tracker.status(),
  };
  if (deps.mode === "polling") {
    connector.pollOnce = async (): Promise<PollRoundResult> => {
      let token: string;
      try {
        token = requireToken();
      } catch (err) {
        return { ok: false, appended: 0, code: (err as TauError).reason };
      }
      return pollerFor(token).once(new AbortController().signal);
    };
  }
  return connector;
}
