/**
 * @module The grammY Bot API client for intake (pointed at `apiRoot`), error classification into connector
 * reason codes, identity discovery, and `setTelegramWebhook` for the lifecycle command.
 * @see https://core.telegram.org/bots/api#getupdates
 */
import http from "node:http";
import https from "node:https";
import { Api, GrammyError, HttpError } from "grammy";
import type { BotIdentity } from "../../src/contracts/envelope.ts";
import { TauError } from "../../src/contracts/errors.ts";
import { IngressAppendError } from "../shared/ingest.ts";
import type { ConnectorCode } from "../shared/reason-codes.ts";
import type { FailureKind } from "../shared/status-tracker.ts";

/**
 * Update types tau asks for, sent explicitly on every call (getUpdates and setWebhook): the default (`[]`) omits
 * `message_reaction`, and omitting the field keeps whatever an earlier client configured (PROVIDERS.md §1.2).
 * Business messages arrive only for a bot connected to a Telegram Business account (PROVIDERS.md §10.1).
 */
export const TELEGRAM_ALLOWED_UPDATES = [
  "message",
  "edited_message",
  "channel_post",
  "edited_channel_post",
  "callback_query",
  "my_chat_member",
  "message_reaction",
  "business_message",
  "edited_business_message",
] as const;

/** grammY types signals with the `abort-controller` polyfill; Node's own AbortSignal is what it really uses. */
type GrammySignal = Parameters<Api["getMe"]>[0];
export function grammySignal(signal: AbortSignal | undefined): GrammySignal {
  return signal as unknown as GrammySignal;
}

/** A grammY `Api` plus the keep-alive agent it uses, so `close()` can release its sockets (a CLI run must exit). */
export interface TelegramClient {
  api: Api;
  close(): void;
}

/** A grammY `Api` for `token` at `apiRoot` (no trailing slash: grammY refuses it), with its own keep-alive agent. */
export function createTelegramClient(token: string, apiRoot: string): TelegramClient {
  const root = apiRoot.replace(/\/+$/, "");
  const agent = root.startsWith("https:") ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  const api = new Api(token, { apiRoot: root, baseFetchConfig: { agent } });
  return { api, close: () => agent.destroy() };
}

/** A classified intake failure. Never carries the token: grammY's messages name the method, not the URL. */
interface TelegramFailure {
  code: ConnectorCode;
  /** Counter to bump; `null` when the failure was already counted (ingress append). */
  kind: FailureKind;
  status: number | null;
  /** Server-mandated wait (429 `retry_after`), else null (use backoff). */
  retryAfterMs: number | null;
  description: string;
  counted: boolean;
}

/** Thrown by the poller when getUpdates did not complete within timeout + margin. */
export class PollStalledError extends TauError {
  constructor(ms: number) {
    super("TELEGRAM_POLL_STALLED", `getUpdates did not complete within ${ms} ms; aborted and restarting`);
    this.name = "PollStalledError";
  }
}

/** Map anything a Bot API call can throw to a reason code and the counter it belongs to. */
export function classifyTelegramError(err: unknown): TelegramFailure {
  if (err instanceof IngressAppendError) {
    return { code: "ingress_append_failed", kind: null, status: null, retryAfterMs: null, description: err.message, counted: true };
  }
  if (err instanceof PollStalledError) {
    return { code: "telegram_poll_stalled", kind: "provider", status: null, retryAfterMs: null, description: err.message, counted: false };
  }
  if (err instanceof GrammyError) {
    const base = { status: err.error_code, description: err.description, counted: false };
    if (err.error_code === 401) return { ...base, code: "telegram_unauthorized", kind: "auth", retryAfterMs: null };
    if (err.error_code === 409) return { ...base, code: "telegram_conflict_409", kind: "provider", retryAfterMs: null };
    if (err.error_code === 429) {
      const s = err.parameters?.retry_after;
      return { ...base, code: "telegram_rate_limited", kind: "provider", retryAfterMs: typeof s === "number" ? s * 1000 : null };
    }
    return { ...base, code: "telegram_provider_error", kind: "provider", retryAfterMs: null };
  }
  const description = err instanceof HttpError ? err.message : err instanceof Error ? err.message : String(err);
  return { code: "telegram_transport_error", kind: "provider", status: null, retryAfterMs: null, description, counted: false };
}

/** The bot identity for normalizing: from config when complete, else from `getMe`. */
export async function resolveTelegramIdentity(identity: BotIdentity, api: Api, signal?: AbortSignal): Promise<BotIdentity> {
  if (identity.telegram.bot_id && identity.telegram.username) return identity;
  const me = await api.getMe(grammySignal(signal));
  return { ...identity, telegram: { bot_id: String(me.id), username: me.username } };
}

/**
 * Point Telegram at `url` with a `secret_token` (sent back as `X-Telegram-Bot-Api-Secret-Token` on every
 * delivery). For `tau channel login telegram`; polling and a webhook are mutually exclusive.
 * @see https://core.telegram.org/bots/api#setwebhook
 */
export async function setTelegramWebhook(apiRoot: string, token: string, url: string, secret: string): Promise<void> {
  if (!/^[A-Za-z0-9_-]{1,256}$/.test(secret)) {
    throw new TauError("TELEGRAM_WEBHOOK_SECRET_INVALID", "the webhook secret must be 1-256 characters of A-Z, a-z, 0-9, _ and -");
  }
  const client = createTelegramClient(token, apiRoot);
  try {
    await client.api.setWebhook(url, { secret_token: secret, allowed_updates: [...TELEGRAM_ALLOWED_UPDATES] });
  } finally {
    client.close();
  }
}

/** Remove the webhook (polling needs this; the poller also calls it at start). */
export async function deleteTelegramWebhook(apiRoot: string, token: string): Promise<void> {
  const client = createTelegramClient(token, apiRoot);
  try {
    await client.api.deleteWebhook();
  } finally {
    client.close();
  }
}
