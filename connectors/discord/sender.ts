/**
 * @module Discord provider sender: @discordjs/rest's `REST` (through discord.js) pointed at `apiRoot`, sending
 * exactly the create-message request dry-run shows (`allowed_mentions: {parse: []}`, `nonce` + `enforce_nonce`).
 * `REST` would otherwise retry 429s forever and 5xx/timeouts 3 times on its own; here `retries: 0` and
 * `rejectOnRateLimit` hand every wait to tau's scheduler, so rate-limit waits have one owner. The nonce makes
 * re-sending an ambiguous request safe: Discord returns the existing message. A response whose body REST cannot
 * parse (truncated JSON on a 4xx) is classified by the status read from the wire (`trackSend`). `typing` is
 * `POST /channels/{id}/typing` → 204 on the same `REST` (PROVIDERS.md §9.6).
 * @see https://discord.com/developers/docs/resources/message#create-message
 * @see https://discord.com/developers/docs/resources/channel#trigger-typing-indicator
 * @see https://discord.com/developers/docs/topics/rate-limits
 */
import { DiscordAPIError, HTTPError, RateLimitError, REST } from "discord.js";
import type { ProbeOutcome, ProviderSender, SendFailure } from "../../src/contracts/delivery.ts";
import type { ChunkJob, ProviderRequest } from "../../src/contracts/outbound.ts";
import { probeKindForStatus, rejectedBeforeSend, typingFailure } from "../../src/contracts/delivery.ts";
import { accepted, httpFailure, missingCredential, networkFailure, statusFailure } from "../shared/classify-failure.ts";
import { describeCause, isTimeout, redact, trackSend, type SendEvidence } from "../shared/send-tracking.ts";
import { buildDiscordCreateMessage, INTERACTION_TOKEN_PLACEHOLDER } from "./request.ts";

interface DiscordSenderOptions {
  /** REST root including `/api`, e.g. https://discord.com/api. */
  apiRoot: string;
  /** The bot token, read at each send; null when unset. */
  token(): string | null;
  timeoutMs?: number;
  /** Opens an interaction token the connector sealed (`TokenSeal.open`); absent: tokens are used as stored. */
  openToken?: (value: string) => string;
}

const trimRoot = (root: string) => root.replace(/\/+$/, "");

/** A `REST` that never waits or retries on its own. */
function createRest(apiRoot: string, timeoutMs: number): REST {
  return new REST({ api: apiRoot, version: "10", retries: 0, timeout: timeoutMs, offset: 0, rejectOnRateLimit: () => true });
}

/** Map a REST failure to a delivery outcome (PROVIDERS.md §2.1, §2.3). */
function toDiscordOutcome(err: unknown, evidence: SendEvidence, token: string): SendFailure {
  const head = evidence.response;
  if (err instanceof RateLimitError) {
    // From a 429 (Retry-After) or from REST's own bucket bookkeeping before sending (no response: nothing was sent).
    const detail = redact(
      `rate limited on ${err.route} (${err.global ? "global" : err.scope}), retry after ${Math.ceil(err.retryAfter)} ms`,
      [token],
    );
    // A 429 without Retry-After leaves REST's retryAfter at 0: fall back to the bucket's reset, else "not stated".
    const wait = err.retryAfter > 0 ? Math.ceil(err.retryAfter) : err.timeToReset > 0 ? Math.ceil(err.timeToReset) : null;
    if (head?.status === 429) return httpFailure("delivery_rate_limited", 429, detail, { retry_after_ms: wait });
    return httpFailure("delivery_rate_limited", null, detail, { retry_after_ms: wait ?? 0 });
  }
  if (err instanceof DiscordAPIError) {
    const detail = redact(`${err.method.toUpperCase()} ${err.status} ${String(err.code)}: ${err.message}`, [token]);
    if (err.status === 403 && err.code === 50007) return httpFailure("delivery_recipient_blocked", err.status, detail);
    if (err.status === 429) return httpFailure("delivery_rate_limited", err.status, detail);
    if (err.status >= 500) return httpFailure("delivery_provider_unavailable", err.status, detail);
    return httpFailure("delivery_request_rejected", err.status, detail);
  }
  if (err instanceof HTTPError) {
    return httpFailure(
      err.status >= 500 ? "delivery_provider_unavailable" : "delivery_request_rejected",
      err.status,
      redact(`${err.method.toUpperCase()} ${err.status}: ${err.message}`, [token]),
    );
  }
  // A body REST could not parse (SyntaxError) after a response came: the status decides.
  const detail = redact(describeCause(err), [token]);
  if (head) return statusFailure(head, detail);
  return networkFailure(evidence, true, detail);
}

const missingToken = (): SendFailure =>
  missingCredential("delivery_missing_discord_bot_token", "the Discord bot token (TAU_DISCORD_BOT_TOKEN or secret discord-bot-token)");

/**
 * Send a shaped request on `rest`: its path below `/v10`, the interaction token put back into interaction webhook
 * routes, which authenticate by that token and get no Authorization header (`auth: false`).
 */
function sendShaped(rest: REST, apiRoot: string, request: ProviderRequest, token: string | undefined): Promise<unknown> {
  let route = request.url.slice(`${apiRoot}/v10`.length);
  const webhook = route.includes(INTERACTION_TOKEN_PLACEHOLDER);
  if (webhook) route = route.replace(INTERACTION_TOKEN_PLACEHOLDER, encodeURIComponent(token ?? ""));
  const options = { body: request.body, ...(webhook ? { auth: false } : {}) };
  const path = route as `/${string}`;
  return request.method === "PATCH" ? rest.patch(path, options) : rest.post(path, options);
}

/** Create the Discord sender. One long-lived `REST` keeps Discord's bucket state between sends. */
export function createDiscordSender(opts: DiscordSenderOptions): ProviderSender {
  const apiRoot = trimRoot(opts.apiRoot);
  const rest = createRest(apiRoot, opts.timeoutMs ?? 10_000);
  return {
    transport: "discord",
    idempotent: true,
    async send(job) {
      const token = opts.token();
      if (!token) return missingToken();
      // Set every time: REST forgets the token after a 401.
      rest.setToken(token);
      const request = buildDiscordCreateMessage(apiRoot, job);
      const stored = job.action && "interaction_token" in job.action ? job.action.interaction_token : undefined;
      let interactionToken: string | undefined;
      try {
        interactionToken = stored === undefined || !opts.openToken ? stored : opts.openToken(stored);
      } catch (err) {
        // Nothing was sent, and no retry opens it: the interaction cannot be answered through its webhook.
        return rejectedBeforeSend(`the interaction token does not open: ${describeCause(err)}`);
      }
      const r = await trackSend(() => sendShaped(rest, apiRoot, request, interactionToken));
      if (r.ok) return { ok: true, provider_message_id: String((r.value as { id: unknown }).id) };
      // Created (2xx) but the answer could not be read; the nonce would make a resend safe, but there is no need.
      if (accepted(r.evidence.response)) return { ok: true, provider_message_id: `unknown:${r.evidence.response.status}` };
      return toDiscordOutcome(r.error, r.evidence, token);
    },
    async typing(target) {
      const token = opts.token();
      if (!token) return typingFailure(missingToken());
      rest.setToken(token);
      // A reply in a thread goes to the thread, which is a channel of its own.
      const channelId = target.thread_id ?? target.conversation_id;
      const r = await trackSend(() => rest.post(`/channels/${channelId}/typing`));
      if (r.ok || accepted(r.evidence.response)) return { ok: true };
      return typingFailure(toDiscordOutcome(r.error, r.evidence, token));
    },
  };
}

/** Online probe: `GET /users/@me` with the token. */
export async function probeDiscord(opts: { apiRoot: string; token: string; timeoutMs?: number }): Promise<ProbeOutcome> {
  const rest = createRest(trimRoot(opts.apiRoot), opts.timeoutMs ?? 10_000).setToken(opts.token);
  try {
    const me = (await rest.get("/users/@me")) as { id: string; username: string };
    return { ok: true, detail: `${me.username} (id ${me.id})` };
  } catch (err) {
    return probeFailureOf(err, "GET /users/@me ", opts.token);
  }
}

/**
 * A failed REST call as a probe outcome: rate limited, an HTTP status (Discord's 50035 names the offending field),
 * a timeout or a transport error. The token never appears in the detail.
 */
export function probeFailureOf(err: unknown, what: string, token: string): ProbeOutcome {
  if (err instanceof RateLimitError)
    return { ok: false, kind: "rate_limited", status: 429, detail: `retry after ${Math.ceil(err.retryAfter)} ms` };
  if (err instanceof DiscordAPIError || err instanceof HTTPError)
    return {
      ok: false,
      kind: probeKindForStatus(err.status),
      status: err.status,
      detail: redact(`${what}${err.status}: ${err.message}`, [token]),
    };
  return { ok: false, kind: isTimeout(err) ? "timeout" : "transport_error", status: null, detail: redact(describeCause(err), [token]) };
}
