/**
 * @module The connector contract: every platform folder exports `create<Name>Connector(deps): Connector`.
 * Connectors only write ingress (durably, before acknowledging or committing a provider offset); they receive
 * everything they need as arguments and never import src/router, src/policy, src/store or another connector.
 */
import type { BotIdentity, Transport } from "./envelope.ts";
import type { IngressSink, QuarantineSink } from "./ingress.ts";
import type { TokenSeal } from "./token-seal.ts";
import type { WebhookRoute } from "./webhook-route.ts";

/** Persisted connector cursors (Telegram offset, Discord per-channel message id, IMAP UID), backed by SQLite. */
export interface CursorStore {
  get(key: string): string | undefined;
  put(key: string, value: string): void;
}

/** Minimal structured logger (pino-compatible subset). */
export interface ConnectorLogger {
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
}

/** Counters and liveness a connector reports (PRODUCT.md §2.1 `tau connectors status`). */
export interface ConnectorStatus {
  transport: Transport;
  mode: string;
  liveness: "live" | "stale" | "stopped" | "failing";
  events_ingested: number;
  duplicates_skipped: number;
  retry_attempts: number;
  auth_failures: number;
  parse_failures: number;
  provider_failures: number;
  last_error_code: string | null;
  last_success_unix_ms: number | null;
  last_error_unix_ms: number | null;
}

/** Everything a connector may use. */
export interface ConnectorDeps {
  ingress: IngressSink;
  cursors: CursorStore;
  identity: BotIdentity;
  logger: ConnectorLogger;
  clock: () => number;
  /** A secret by integration-store id (e.g. "telegram-bot-token"), from env or the store; null when absent. */
  secret(id: string): string | null;
  /** Called whenever status counters change, so `tau connectors status` and metrics see them. */
  onStatus?(status: ConnectorStatus): void;
  /** Where refused provider items go (with their reason code); without it they are only logged and counted. */
  quarantine?: QuarantineSink;
  /** Seals provider credentials that travel through state (Discord interaction tokens); absent: kept as they came. */
  tokens?: TokenSeal;
}

/** Outcome of one polling round (`tau connectors run --once`). */
export interface PollRoundResult {
  ok: boolean;
  /** Envelopes durably appended in this round. */
  appended: number;
  /** Reason code of the failure when `ok` is false. */
  code: string | null;
}

/** A running inbound connector. Webhook connectors expose `webhooks` for the Hono server to mount. */
export interface Connector {
  transport: Transport;
  mode: string;
  /** Start intake; resolves once started (polling loops keep running until `stop`). Idempotent. */
  start(): Promise<void>;
  /** Stop intake and wait for in-flight appends. Idempotent; `start` may be called again afterwards. */
  stop(): Promise<void>;
  status(): ConnectorStatus;
  /** Routes for the HTTP server (webhook modes); they answer 503 while the connector is stopped. */
  webhooks?: readonly WebhookRoute[];
  /** Polling modes: one round without starting the loop (no long-poll wait), then return. */
  pollOnce?(): Promise<PollRoundResult>;
}

/** A fresh status record. */
export function initialStatus(transport: Transport, mode: string): ConnectorStatus {
  return {
    transport,
    mode,
    liveness: "stopped",
    events_ingested: 0,
    duplicates_skipped: 0,
    retry_attempts: 0,
    auth_failures: 0,
    parse_failures: 0,
    provider_failures: 0,
    last_error_code: null,
    last_success_unix_ms: null,
    last_error_unix_ms: null,
  };
}
