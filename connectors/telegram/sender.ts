/**
 * @module Telegram provider sender: grammY's `Api` pointed at `apiRoot`, sending exactly the `sendMessage`
 * request dry-run shows (plain text, `message_thread_id`, `reply_parameters`), and mapping every failure to a
 * delivery code. grammY never retries API calls (PROVIDERS.md §1.7), so rate-limit waits have one owner: ours.
 * grammY turns a body it cannot parse (a proxy's HTML 502, an empty 500) into a network `HttpError` without the
 * status; the status is read from the wire instead (`trackSend`), so such a failure is classified by its status.
 * `typing` is `sendChatAction` with action "typing" (in the reply's forum topic, if any; PROVIDERS.md §9.6), through the
 * business connection for a business chat (PROVIDERS.md §10.1.6).
 * @see https://core.telegram.org/bots/api#sendmessage
 * @see https://core.telegram.org/bots/api#sendchataction
 */
import { Api, GrammyError } from "grammy";
import type { ProbeOutcome, ProviderSender, SendFailure } from "../../src/contracts/delivery.ts";
import type { ChunkJob } from "../../src/contracts/outbound.ts";
import { probeKindForStatus, typingFailure } from "../../src/contracts/delivery.ts";
import { accepted, httpFailure, missingCredential, networkFailure, retryAfterMs, statusFailure } from "../shared/classify-failure.ts";
import { describeCause, isTimeout, redact, trackSend, type SendEvidence } from "../shared/send-tracking.ts";
import { deleteTelegramWebhook, setTelegramWebhook } from "./api.ts";
import { parseBusinessConversationId } from "./normalize-message.ts";
import { buildTelegramSendMessage, telegramMethodOf } from "./request.ts";

interface TelegramSenderOptions {
  /** Bot API root without trailing slash, e.g. https://api.telegram.org or a local server. */
  apiRoot: string;
  /** The bot token, read at each send (a `tau secrets set` takes effect without a restart); null when unset. */
  token(): string | null;
  /** Client-side timeout per request. */
  timeoutMs?: number;
}

/** A Bot API method called by name with the shaped body (sendMessage, answerCallbackQuery, editMessageText). */
type RawCall = (body: Record<string, unknown>) => Promise<unknown>;

/** TDLib could not parse the HTML: the same chunk goes again as plain text (PROVIDERS.md §10.1). */
const CANT_PARSE = /can't parse entities/i;
/** Editing a prompt to what it already shows (a double tap) is not a failure. */
const NOT_MODIFIED = /message is not modified/i;

const missingToken = (): SendFailure =>
  missingCredential("delivery_missing_telegram_bot_token", "the Telegram bot token (TAU_TELEGRAM_BOT_TOKEN or secret telegram-bot-token)");

/** Chat ids are integers (as in request.ts); `@channel` names stay strings. */
const toChatId = (id: string): number | string => (/^-?\d{1,16}$/.test(id) ? Number(id) : id);

const trimRoot = (root: string) => root.replace(/\/+$/, "");

/**
 * Map a grammY failure to a delivery outcome (PROVIDERS.md §1.7). A `GrammyError` is Telegram's own JSON answer; its
 * description refines the code (blocked, migrated) but an HTTP error status on the wire wins over the body's
 * `error_code`. Any other failure with a response head is classified by that status alone.
 */
function toTelegramOutcome(err: unknown, evidence: SendEvidence, token: string): SendFailure {
  const head = evidence.response;
  if (err instanceof GrammyError) {
    const status = head && head.status >= 400 ? head.status : err.error_code;
    const detail = redact(`${err.method} ${status}: ${err.description}`, [token]);
    if (status === 429) {
      const s = err.parameters.retry_after;
      return httpFailure("delivery_rate_limited", status, detail, {
        retry_after_ms: typeof s === "number" ? s * 1000 : retryAfterMs(head?.headers),
      });
    }
    // "bot was blocked by the user", "bot was kicked from the … chat", "user is deactivated", "bot is not a member".
    if (status === 403 && err.error_code === 403) return httpFailure("delivery_recipient_blocked", status, detail);
    const migrateTo = err.parameters.migrate_to_chat_id;
    if (status === 400 && migrateTo !== undefined) {
      return httpFailure("delivery_chat_migrated", status, detail, { retryable: false, migrate_to: String(migrateTo) });
    }
    if (status >= 500) return httpFailure("delivery_provider_unavailable", status, detail);
    return httpFailure("delivery_request_rejected", status, detail);
  }
  // HttpError: grammY's own message names the method only, but the wrapped node-fetch error carries the URL with the token.
  const detail = redact(describeCause(err), [token]);
  if (head) return statusFailure(head, detail);
  return networkFailure(evidence, false, detail);
}

/** `<chat>:<message>` for a sent or edited message; `callback:<id>` for an answered button press. */
function telegramMessageId(method: string, value: unknown, job: ChunkJob): string {
  if (job.action?.kind === "answer_callback") return `callback:${job.action.callback_id}`;
  const m = value as { chat?: { id: number }; message_id?: number } | true;
  if (m === true || !m?.chat) return `${job.target.conversation_id}:${job.action?.kind === "edit_prompt" ? job.action.message_id : "?"}`;
  return `${m.chat.id}:${m.message_id}`;
}

/** Create the Telegram sender (one grammY `Api` per token value, keep-alive connections). */
export function createTelegramSender(opts: TelegramSenderOptions): ProviderSender {
  const apiRoot = trimRoot(opts.apiRoot);
  let api: Api | null = null;
  let apiToken: string | null = null;
  const apiFor = (token: string): Api => {
    if (!api || apiToken !== token) {
      api = new Api(token, { apiRoot, timeoutSeconds: (opts.timeoutMs ?? 10_000) / 1000 });
      apiToken = token;
    }
    return api;
  };
  return {
    transport: "telegram",
    idempotent: false,
    async send(job) {
      const token = opts.token();
      if (!token) return missingToken();
      const request = buildTelegramSendMessage(apiRoot, job);
      const method = telegramMethodOf(request);
      const call = (body: Record<string, unknown>) =>
        trackSend(() => (apiFor(token).raw as unknown as Record<string, RawCall>)[method]!(body));
      let r = await call(request.body);
      if (!r.ok && r.error instanceof GrammyError && job.rich?.parse_mode && CANT_PARSE.test(r.error.description)) {
        const { parse_mode: _dropped, ...plain } = request.body;
        r = await call({ ...plain, text: job.text });
      }
      if (r.ok) return { ok: true, provider_message_id: telegramMessageId(method, r.value, job) };
      if (method === "editMessageText" && r.error instanceof GrammyError && NOT_MODIFIED.test(r.error.description))
        return { ok: true, provider_message_id: telegramMessageId(method, true, job) };
      // Accepted (2xx) but the answer could not be read: the message exists; sending it again would duplicate it.
      if (accepted(r.evidence.response)) return { ok: true, provider_message_id: `unknown:${r.evidence.response.status}` };
      return toTelegramOutcome(r.error, r.evidence, token);
    },
    async typing(target) {
      const token = opts.token();
      if (!token) return typingFailure(missingToken());
      // A business chat (`business:<connection>:<chat>`) types for the account, through its connection (as sendMessage).
      const business = parseBusinessConversationId(target.conversation_id);
      const other = {
        ...(target.thread_id ? { message_thread_id: Number(target.thread_id) } : {}),
        ...(business ? { business_connection_id: business.businessConnectionId } : {}),
      };
      const chatId = toChatId(business?.chatId ?? target.conversation_id);
      const r = await trackSend(() => apiFor(token).sendChatAction(chatId, "typing", other));
      if (r.ok || accepted(r.evidence.response)) return { ok: true };
      return typingFailure(toTelegramOutcome(r.error, r.evidence, token));
    },
  };
}

/** A failed Bot API call as a probe outcome (`probe_online_telegram_<kind>`). */
function toProbeFailure(err: unknown, token: string): ProbeOutcome {
  if (err instanceof GrammyError)
    return {
      ok: false,
      kind: probeKindForStatus(err.error_code),
      status: err.error_code,
      detail: redact(`${err.method} ${err.error_code}: ${err.description}`, [token]),
    };
  return { ok: false, kind: isTimeout(err) ? "timeout" : "transport_error", status: null, detail: redact(describeCause(err), [token]) };
}

/** Online probe: `getMe` with the token. */
export async function probeTelegram(opts: { apiRoot: string; token: string; timeoutMs?: number }): Promise<ProbeOutcome> {
  const api = new Api(opts.token, { apiRoot: trimRoot(opts.apiRoot), timeoutSeconds: (opts.timeoutMs ?? 10_000) / 1000 });
  try {
    const me = await api.getMe();
    return { ok: true, detail: `@${me.username} (id ${me.id})` };
  } catch (err) {
    return toProbeFailure(err, opts.token);
  }
}

/** `setWebhook` with `secret_token` (for `tau channel login telegram` in webhook mode), as an outcome. */
export async function configureTelegramWebhook(opts: {
  apiRoot: string;
  token: string;
  url: string;
  secret: string;
}): Promise<ProbeOutcome> {
  try {
    await setTelegramWebhook(trimRoot(opts.apiRoot), opts.token, opts.url, opts.secret);
    return { ok: true, detail: `webhook set to ${opts.url}` };
  } catch (err) {
    return toProbeFailure(err, opts.token);
  }
}

/** `deleteWebhook` (for `tau channel logout telegram` in webhook mode): Telegram then keeps updates for 24 h. */
export async function removeTelegramWebhook(opts: { apiRoot: string; token: string }): Promise<ProbeOutcome> {
  try {
    await deleteTelegramWebhook(trimRoot(opts.apiRoot), opts.token);
    return { ok: true, detail: "webhook removed" };
  } catch (err) {
    return toProbeFailure(err, opts.token);
  }
}
