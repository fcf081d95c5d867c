/**
 * @module Discord interaction intake, over the gateway (`INTERACTION_CREATE`) and over HTTP (`POST /webhooks/discord`).
 * Every interaction is answered within Discord's 3 s: PING → PONG; a slash command → a deferred response (type 5,
 * ephemeral for reads) and the equivalent `/tau …` command appended to ingress, its result later edited into the
 * original response; a component press → DEFERRED_UPDATE_MESSAGE (type 6) and a `callback` envelope. Over HTTP the
 * Ed25519 signature and the timestamp are checked first (401 otherwise) and the envelope is durable before the
 * answer; over the gateway the answer is `POST /interactions/{id}/{token}/callback`, sent before the append.
 * @see https://discord.com/developers/docs/interactions/receiving-and-responding
 */
import type { InteractionTextResolver } from "../../src/contracts/native-commands.ts";
import { backoffDelay, sleep } from "../shared/backoff.ts";
import type { ConnectorLogger } from "../shared/connector.ts";
import type { Ingestor } from "../shared/ingest.ts";
import type { StatusTracker } from "../shared/status-tracker.ts";
import { BODY_TOO_LARGE, parseJsonBytes, payloadTooLarge, readBodyLimited, type WebhookRoute } from "../shared/webhook.ts";
import { INTERACTION_TYPE, type InteractionItem } from "./interaction-normalize.ts";
import { createInteractionVerifier } from "./interaction-verify.ts";

export const DISCORD_INTERACTIONS_PATH = "/webhooks/discord";
const EPHEMERAL = 64;
const APPEND_ATTEMPTS = 5;

/** An interaction response (callback) body. */
export interface InteractionResponse {
  type: number;
  data?: Record<string, unknown>;
}

interface InteractionIntakeOptions {
  /** Ingestor whose normalizer is `normalizeDiscordInteraction`. */
  ingestor: Ingestor;
  tracker: StatusTracker;
  logger: ConnectorLogger;
  clock: () => number;
  random: () => number;
  /** Slash command → `/tau …`; absent: every command is answered as unknown. */
  resolve?: InteractionTextResolver;
  /** The application's Ed25519 public key (hex); null: the HTTP endpoint answers 503. */
  publicKey: () => string | null;
  isRunning: () => boolean;
  maxBodyBytes: number;
  /**
   * Seals the interaction token before the interaction is appended (`TokenSeal.seal`): ingress, job rows and the
   * outbox hold only the sealed form; the sender opens it. Absent: the token is appended as it came (tests).
   */
  sealToken?: (token: string) => string;
  /** Gateway interactions: `POST /interactions/{id}/{token}/callback` (no bot token). */
  callback(id: string, token: string, body: InteractionResponse): Promise<void>;
}

export interface InteractionIntake {
  route: WebhookRoute;
  /** One `INTERACTION_CREATE` dispatch (`d`): acknowledged, then appended. */
  onGatewayInteraction(d: unknown): Promise<void>;
  /** Resolves once no gateway interaction is being acknowledged or appended (`stop()` waits for it). */
  idle(): Promise<void>;
}

/** A private one-off answer (nothing is appended). */
const ephemeral = (content: string): InteractionResponse => ({
  type: 4,
  data: { content, flags: EPHEMERAL, allowed_mentions: { parse: [] } },
});

interface Decision {
  response: InteractionResponse;
  item: InteractionItem | null;
}

/** What to answer and what to append, from the interaction type (PROVIDERS.md §2.4, §10.2). */
function decide(raw: Record<string, unknown>, source: InteractionItem["source"], resolve?: InteractionTextResolver): Decision {
  const type = raw["type"];
  if (type === INTERACTION_TYPE.PING) return { response: { type: 1 }, item: null };
  if (type === INTERACTION_TYPE.APPLICATION_COMMAND) {
    const data = raw["data"] as { name?: unknown } | undefined;
    const command = typeof data?.name === "string" && resolve ? resolve(data as { name: string }) : null;
    if (!command) {
      return {
        response: ephemeral(
          "tau does not know this command any more; an operator can refresh the list with `tau channel login discord --online`.",
        ),
        item: null,
      };
    }
    return {
      response: command.ephemeral ? { type: 5, data: { flags: EPHEMERAL } } : { type: 5 },
      item: { source, interaction: raw, command },
    };
  }
  if (type === INTERACTION_TYPE.MESSAGE_COMPONENT) return { response: { type: 6 }, item: { source, interaction: raw } };
  if (type === INTERACTION_TYPE.AUTOCOMPLETE) return { response: { type: 8, data: { choices: [] } }, item: null };
  return { response: ephemeral("tau does not handle this kind of interaction."), item: null };
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

export function createInteractionIntake(o: InteractionIntakeOptions): InteractionIntake {
  let verifierKey: string | null = null;
  let verifier: ReturnType<typeof createInteractionVerifier> = null;

  function verifierFor(key: string): ReturnType<typeof createInteractionVerifier> {
    if (key !== verifierKey) {
      verifierKey = key;
      verifier = createInteractionVerifier(key);
    }
    return verifier;
  }

  function refused(code: string): Response {
    o.tracker.refused(code);
    o.logger.warn({ event: "webhook.refused", transport: "discord", code }, "interaction refused");
    return new Response(null, { status: 401 });
  }

  /**
   * The item as it goes to ingress: its token sealed. Null (logged) when it cannot be sealed — no key to seal with:
   * the interaction is not appended rather than its token kept in clear.
   */
  function forIngress(item: InteractionItem): InteractionItem | null {
    const raw = item.interaction as Record<string, unknown>;
    const token = raw["token"];
    if (!o.sealToken || typeof token !== "string") return item;
    try {
      return { ...item, interaction: { ...raw, token: o.sealToken(token) } };
    } catch (err) {
      o.tracker.failure("parse", "interaction_token_unsealed");
      o.logger.error(
        {
          event: "connector.interaction_token_unsealed",
          transport: "discord",
          code: "interaction_token_unsealed",
          err: (err as Error)?.message ?? String(err),
        },
        "the interaction token could not be sealed (see the secrets key); the interaction is not acted on",
      );
      return null;
    }
  }

  /** Append one acknowledged interaction; over the gateway there is no redelivery, so appends are retried. */
  async function append(item: InteractionItem, attempts: number): Promise<boolean> {
    for (let i = 0; ; i++) {
      try {
        const r = await o.ingestor.ingest([item]);
        return r.parseFailures === 0;
      } catch {
        if (i + 1 >= attempts) {
          o.logger.error(
            { event: "connector.events_lost", transport: "discord", code: "ingress_append_failed", count: 1 },
            "interaction could not be appended",
          );
          return false;
        }
        o.tracker.retry();
        await sleep(backoffDelay(i, { baseMs: 200, maxMs: 2000 }, o.random));
      }
    }
  }

  const route: WebhookRoute = {
    method: "POST",
    path: DISCORD_INTERACTIONS_PATH,
    async handler(c) {
      const key = o.publicKey();
      const verify = key === null ? null : verifierFor(key.trim());
      if (verify === null) {
        o.logger.warn(
          { event: "webhook.refused", transport: "discord", code: "missing_discord_public_key" },
          "no valid Discord application public key (secret discord-public-key)",
        );
        return new Response(null, { status: 503 });
      }
      const raw = await readBodyLimited(c.req.raw, o.maxBodyBytes);
      if (raw === BODY_TOO_LARGE) {
        o.tracker.failure("parse", "webhook_body_too_large");
        return payloadTooLarge();
      }
      const verdict = verify(c.req.raw.headers, raw, o.clock());
      if (!verdict.ok) return refused(verdict.code);
      const body = parseJsonBytes(raw);
      if (!isRecord(body) || typeof body["type"] !== "number") {
        o.tracker.failure("parse", "webhook_malformed_json");
        return new Response(null, { status: 400 });
      }
      // PING is answered even while intake is stopped: it is how Discord checks the endpoint URL.
      if (body["type"] === INTERACTION_TYPE.PING) return Response.json({ type: 1 });
      // Stopped (logged out, shutting down): nothing can be appended, so nothing is acknowledged.
      if (!o.isRunning()) return new Response(null, { status: 503 });
      const d = decide(body, "http", o.resolve);
      if (d.item) {
        const item = forIngress(d.item);
        if (!item) return new Response(null, { status: 500 });
        let ok: boolean;
        try {
          ok = (await o.ingestor.ingest([item])).parseFailures === 0;
        } catch {
          return new Response(null, { status: 500 }); // counted and logged by the ingestor; Discord shows a failure
        }
        if (!ok) return Response.json(ephemeral("tau could not read this interaction."));
      }
      o.tracker.success();
      return Response.json(d.response);
    },
  };

  const inflight = new Set<Promise<void>>();

  async function onGatewayInteraction(d: unknown): Promise<void> {
    if (!isRecord(d) || typeof d["id"] !== "string" || typeof d["token"] !== "string") {
      o.tracker.failure("parse", "ingress_payload_invalid");
      return;
    }
    const decision = decide(d, "gateway", o.resolve);
    try {
      // Acknowledge first: the 3 s deadline holds however slow the append or the runner is.
      await o.callback(d["id"], d["token"], decision.response);
    } catch (err) {
      o.logger.warn(
        {
          event: "connector.interaction_ack_failed",
          transport: "discord",
          interaction_id: d["id"],
          code: (err as { code?: unknown })?.code ?? null,
          status: (err as { status?: unknown })?.status ?? null,
        },
        "interaction could not be acknowledged; not acted on",
      );
      return;
    }
    o.tracker.success();
    const item = decision.item && forIngress(decision.item);
    if (item) await append(item, APPEND_ATTEMPTS);
  }

  return {
    route,
    onGatewayInteraction(d) {
      const p = onGatewayInteraction(d).finally(() => inflight.delete(p));
      inflight.add(p);
      return p;
    },
    async idle() {
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },
  };
}
