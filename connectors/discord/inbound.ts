/**
 * @module The Discord connector: `gateway` (discord.js WebSocket, frames from the `raw` event) or `polling`
 * (REST, per-channel cursor). discord.js is imported only in this folder.
 */
import { REST, Routes } from "discord.js";
import type { InteractionTextResolver } from "../../src/contracts/native-commands.ts";
import type { BotIdentity } from "../../src/contracts/envelope.ts";
import { TauError } from "../../src/contracts/errors.ts";
import { DEFAULT_BACKOFF, type BackoffOptions } from "../shared/backoff.ts";
import type { Connector, ConnectorDeps, PollRoundResult } from "../shared/connector.ts";
import { createIngestor } from "../shared/ingest.ts";
import { StatusTracker } from "../shared/status-tracker.ts";
import { createGatewayBackfill, type GatewayBackfill } from "./backfill.ts";
import { createDiscordGateway, type DiscordGateway } from "./gateway.ts";
import { normalizeDiscordInteraction } from "./interaction-normalize.ts";
import { createInteractionIntake } from "./interactions.ts";
import { normalizeDiscordPayload } from "./normalize.ts";
import { createDiscordPoller, restGet, type DiscordPoller } from "./polling.ts";

export interface DiscordConnectorConfig extends ConnectorDeps {
  mode: "gateway" | "polling";
  /** REST root, e.g. `https://discord.com/api` (the gateway URL comes from `GET /gateway/bot`). */
  apiRoot: string;
  /** Channels to poll (polling mode). */
  channelIds?: readonly string[];
  pollIntervalMs?: number;
  backoff?: BackoffOptions;
  random?: () => number;
  keepRaw?: boolean;
  /** Slash command → the equivalent `/tau …` command (from the capability registry); absent: commands are unknown. */
  resolveCommand?: InteractionTextResolver;
  /** Body limit of the HTTP interactions endpoint `POST /webhooks/discord`. */
  maxBodyBytes?: number;
  /**
   * True while another node holds this account's gateway (or polling) lease and this one stands by: the HTTP
   * interactions endpoint, stateless, still takes interactions here although intake is not started.
   */
  httpIntakeOnStandby?: () => boolean;
}

/** Gateway heartbeats come every ≤ 45 s; three missed beats make the connector stale. */
const GATEWAY_STALE_MS = 150_000;

export function createDiscordConnector(deps: DiscordConnectorConfig): Connector {
  const intervalMs = deps.pollIntervalMs ?? 2000;
  const tracker = new StatusTracker({
    transport: "discord",
    mode: deps.mode,
    clock: deps.clock,
    onStatus: deps.onStatus,
    staleAfterMs: deps.mode === "gateway" ? GATEWAY_STALE_MS : Math.max(3 * intervalMs, 30_000),
  });
  let selfId = deps.identity.discord.user_id;
  const identity = (): BotIdentity =>
    deps.identity.discord.user_id
      ? deps.identity
      : { ...deps.identity, discord: { user_id: selfId, application_id: deps.identity.discord.application_id || selfId } };
  const ingestor = createIngestor({
    transport: "discord",
    sink: deps.ingress,
    tracker,
    logger: deps.logger,
    clock: deps.clock,
    identity,
    normalize: normalizeDiscordPayload,
    keepRaw: deps.keepRaw ?? false,
    quarantine: deps.quarantine,
    source: deps.mode,
  });
  const backoff = deps.backoff ?? DEFAULT_BACKOFF;
  const random = deps.random ?? Math.random;
  // Interactions (gateway or HTTP) are acknowledged with the interaction token, never the bot token.
  const interactionRest = new REST({ api: deps.apiRoot, version: "10", retries: 0, timeout: 2500 });
  const interactions = createInteractionIntake({
    ingestor: createIngestor({
      transport: "discord",
      sink: deps.ingress,
      tracker,
      logger: deps.logger,
      clock: deps.clock,
      identity,
      normalize: normalizeDiscordInteraction,
      keepRaw: deps.keepRaw ?? false,
      quarantine: deps.quarantine,
      source: "interaction",
    }),
    tracker,
    logger: deps.logger,
    clock: deps.clock,
    random,
    ...(deps.resolveCommand ? { resolve: deps.resolveCommand } : {}),
    ...(deps.tokens ? { sealToken: (t: string) => deps.tokens!.seal(t) } : {}),
    publicKey: () => deps.secret("discord-public-key"),
    isRunning: () => tracker.running || (deps.httpIntakeOnStandby?.() ?? false),
    maxBodyBytes: deps.maxBodyBytes ?? 1_048_576,
    async callback(id, token, body) {
      await interactionRest.post(Routes.interactionCallback(id, token), { body, auth: false });
    },
  });
  let gateway: DiscordGateway | null = null;
  let backfill: GatewayBackfill | null = null;
  let backfillRest: REST | null = null;
  let backfillAbort = new AbortController();
  let poller: DiscordPoller | null = null;
  let loop: Promise<void> | null = null;
  let abort: AbortController | null = null;
  let stopping: Promise<void> | null = null;

  function requireToken(): string {
    const token = deps.secret("discord-bot-token");
    if (!token) {
      tracker.note("missing_discord_bot_token");
      throw new TauError("MISSING_DISCORD_BOT_TOKEN", "no Discord bot token", {
        hint: "set TAU_DISCORD_BOT_TOKEN or `tau secrets set discord-bot-token`",
      });
    }
    return token;
  }

  function pollerFor(token: string): DiscordPoller {
    if (poller) return poller;
    const rest = new REST({ api: deps.apiRoot, version: "10" }).setToken(token);
    poller = createDiscordPoller({
      rest,
      token,
      channelIds: deps.channelIds ?? [],
      ingestor,
      cursors: deps.cursors,
      tracker,
      logger: deps.logger,
      clock: deps.clock,
      intervalMs,
      backoff,
      random,
      selfId: () => selfId,
      async beforePolling(signal) {
        // Real ids learned from the API beat config: own messages must never come back in.
        // Literal "@me": Routes.user() percent-encodes it.
        const me = (await restGet(rest, "/users/@me", signal)) as { id: string };
        selfId = me.id;
      },
    });
    return poller;
  }

  const connector: Connector = {
    transport: "discord",
    mode: deps.mode,
    async start() {
      await stopping;
      if (tracker.running) return;
      const token = requireToken();
      tracker.setRunning(true);
      if (deps.mode === "gateway") {
        backfillAbort = new AbortController();
        const bf = (backfill ??= createGatewayBackfill({
          rest: () => (backfillRest ??= new REST({ api: deps.apiRoot, version: "10" }).setToken(token)),
          token,
          ingestor,
          cursors: deps.cursors,
          tracker,
          logger: deps.logger,
          clock: deps.clock,
          backoff,
          random,
          selfId: () => selfId,
        }));
        gateway ??= createDiscordGateway({
          token,
          apiRoot: deps.apiRoot,
          ingestor,
          tracker,
          logger: deps.logger,
          backoff,
          random,
          onSelf: (id) => {
            selfId = id;
          },
          selfId: () => selfId,
          onAppended: (packets) => bf.noteAppended(packets),
          onSession: () => void bf.onSession(backfillAbort.signal),
          onInteraction: (d) => void interactions.onGatewayInteraction(d),
        });
        const g = gateway;
        tracker.connected = () => g.connected();
        await g.start();
      } else {
        if ((deps.channelIds ?? []).length === 0) {
          deps.logger.warn(
            { event: "connector.config", transport: "discord", code: "discord_no_channels" },
            "polling mode with no connectors.discord.channel_ids",
          );
        }
        abort = new AbortController();
        loop = pollerFor(token).run(abort.signal);
      }
      deps.logger.info({ event: "connector.started", transport: "discord", mode: deps.mode }, "discord intake started");
    },
    async stop() {
      if (stopping) return stopping;
      if (!tracker.running) return;
      stopping = (async () => {
        abort?.abort();
        backfillAbort.abort();
        await loop;
        await gateway?.stop();
        await interactions.idle();
        await backfill?.idle();
        await ingestor.idle();
      })();
      await stopping;
      stopping = null;
      loop = null;
      abort = null;
      tracker.setRunning(false);
      deps.logger.info({ event: "connector.stopped", transport: "discord" }, "discord intake stopped");
    },
    status: () => tracker.status(),
    webhooks: [interactions.route],
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
