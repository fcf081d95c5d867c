/**
 * @module Discord gateway intake with discord.js: Guilds, GuildMessages, DirectMessages, MessageContent and
 * the Channel partial (DMs). Envelopes are built from the exact gateway frames (`raw` event), not from
 * discord.js objects. The library heartbeats, reconnects and resumes; tau reconnects only after a close
 * discord.js gives up on (4004, 4010–4014), with backoff.
 * @see https://discord.com/developers/docs/events/gateway
 */
import { Client, Events, GatewayIntentBits, Options, Partials, Status } from "discord.js";
import { backoffDelay, sleep, type BackoffOptions } from "../shared/backoff.ts";
import type { ConnectorLogger } from "../shared/connector.ts";
import type { Ingestor } from "../shared/ingest.ts";
import type { StatusTracker } from "../shared/status-tracker.ts";
import { classifyCloseCode, classifyDiscordError, type DiscordFailure } from "./errors.ts";

const MESSAGE_EVENTS = new Set([
  "MESSAGE_CREATE",
  "MESSAGE_UPDATE",
  "MESSAGE_DELETE",
  "MESSAGE_DELETE_BULK",
  // Reactions (kind `reaction`); they need the GuildMessageReactions / DirectMessageReactions intents below.
  "MESSAGE_REACTION_ADD",
  "MESSAGE_REACTION_REMOVE",
]);
/** Appends of gateway frames are retried this many times; the gateway cannot redeliver. */
const APPEND_ATTEMPTS = 5;

export interface DiscordGatewayOptions {
  token: string;
  apiRoot: string;
  ingestor: Ingestor;
  tracker: StatusTracker;
  logger: ConnectorLogger;
  backoff: BackoffOptions;
  random: () => number;
  /** Learned from READY: the bot's own user id (own messages are ignored). */
  onSelf(id: string): void;
  selfId(): string;
  /** A batch of frames is durably in ingress (cursor bookkeeping for backfill). */
  onAppended?(packets: readonly GatewayPacket[]): void;
  /** A new session is READY (not a resume): dispatches since the last one may be lost; backfill them. */
  onSession?(): void;
  /** `INTERACTION_CREATE` (no intent needed): slash commands and component presses, acknowledged by the callee. */
  onInteraction?(d: unknown): void;
}

export interface DiscordGateway {
  /** Connect; resolves after the first login attempt (later attempts run in the background). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** True while a shard is connected and READY/RESUMED. */
  connected(): boolean;
}

interface GatewayPacket {
  op: number;
  t?: string | null;
  s?: number | null;
  d?: { id?: string; channel_id?: string; author?: { id?: string }; user?: { id?: string } } | null;
}

export function createDiscordGateway(o: DiscordGatewayOptions): DiscordGateway {
  let client: Client | null = null;
  let stopped = true;
  let attempt = 0;
  let reconnecting: Promise<void> | null = null;
  let stopAbort = new AbortController();
  const pending: GatewayPacket[] = [];
  let flushing: Promise<void> | null = null;

  function fail(f: DiscordFailure): void {
    if (!f.counted) o.tracker.failure(f.kind, f.code);
    o.logger.warn(
      { event: "connector.gateway_failed", transport: "discord", code: f.code, status: f.status, description: f.description },
      "discord gateway failure",
    );
  }

  async function drain(): Promise<void> {
    while (pending.length > 0) {
      const batch = pending.splice(0);
      for (let i = 0; ; i++) {
        try {
          await o.ingestor.ingest(batch);
          o.onAppended?.(batch);
          break;
        } catch {
          if (i + 1 >= APPEND_ATTEMPTS) {
            o.logger.error(
              { event: "connector.events_lost", transport: "discord", code: "ingress_append_failed", count: batch.length },
              "gateway events could not be appended",
            );
            break;
          }
          o.tracker.retry();
          await sleep(backoffDelay(i, { baseMs: 200, maxMs: 5000 }, o.random));
        }
      }
    }
  }

  function enqueue(packet: GatewayPacket): void {
    pending.push(packet);
    if (flushing) return;
    flushing = (async () => {
      try {
        await drain();
      } finally {
        flushing = null;
      }
    })();
  }

  function onPacket(packet: GatewayPacket): void {
    const t = packet.t ?? "";
    if (t === "READY") {
      const id = packet.d?.user?.id;
      if (id) o.onSelf(id);
      attempt = 0;
      o.tracker.success();
      o.onSession?.();
      return;
    }
    if (t === "RESUMED") {
      o.tracker.success();
      return;
    }
    if (t === "INTERACTION_CREATE") {
      o.tracker.success();
      o.onInteraction?.(packet.d);
      return;
    }
    if (!MESSAGE_EVENTS.has(t)) return;
    o.tracker.success();
    // Our own messages come back as MESSAGE_CREATE (and UPDATE on edits): never intake them.
    if (t !== "MESSAGE_DELETE" && packet.d?.author?.id !== undefined && packet.d.author.id === o.selfId()) return;
    enqueue(packet);
  }

  function newClient(): Client {
    const c = new Client({
      intents: [
        GatewayIntentBits.Guilds,
        GatewayIntentBits.GuildMessages,
        GatewayIntentBits.DirectMessages,
        GatewayIntentBits.MessageContent,
        GatewayIntentBits.GuildMessageReactions,
        GatewayIntentBits.DirectMessageReactions,
      ],
      partials: [Partials.Channel],
      rest: { api: o.apiRoot },
      // We read raw frames; discord.js need not keep messages.
      makeCache: Options.cacheWithLimits({ ...Options.DefaultMakeCacheSettings, MessageManager: 0 }),
    });
    c.on(Events.Raw, (packet: GatewayPacket) => onPacket(packet));
    c.on(Events.Debug, (message: string) => {
      if (message.includes("Heartbeat acknowledged")) o.tracker.success();
    });
    c.on(Events.ShardResume, () => o.tracker.success());
    c.on(Events.ShardReconnecting, () => o.tracker.retry());
    c.on(Events.ShardError, (error: Error) => fail(classifyDiscordError(error)));
    c.on(Events.Error, (error: Error) => fail(classifyDiscordError(error)));
    c.on(Events.ShardDisconnect, (event: { code: number }) => {
      // discord.js gives up on this close code: reconnect ourselves, with backoff (never a silent stop).
      fail(classifyCloseCode(event.code));
      scheduleReconnect();
    });
    return c;
  }

  async function connectOnce(): Promise<boolean> {
    const c = newClient();
    client = c;
    try {
      await c.login(o.token);
      return true;
    } catch (err) {
      fail(classifyDiscordError(err));
      await c.destroy().catch(() => undefined);
      if (client === c) client = null;
      return false;
    }
  }

  function scheduleReconnect(): void {
    if (stopped || reconnecting) return;
    reconnecting = (async () => {
      try {
        while (!stopped) {
          o.tracker.retry();
          await sleep(backoffDelay(attempt++, o.backoff, o.random), stopAbort.signal);
          if (stopped) return;
          const old = client;
          client = null;
          await old?.destroy().catch(() => undefined);
          if (await connectOnce()) return;
        }
      } finally {
        reconnecting = null;
      }
    })();
  }

  return {
    async start() {
      if (!stopped) return;
      stopped = false;
      stopAbort = new AbortController();
      attempt = 0;
      if (!(await connectOnce())) scheduleReconnect();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      stopAbort.abort();
      await reconnecting;
      const c = client;
      client = null;
      await c?.destroy().catch(() => undefined);
      await flushing;
      await o.ingestor.idle();
    },
    connected() {
      return client !== null && client.ws.status === Status.Ready;
    },
  };
}
