/**
 * @module Gateway gap backfill (PROVIDERS.md §2.6 "Gaps"): a non-resumable session (op 9 `d:false`, a close
 * discord.js cannot resume) or a restart loses the dispatches in between. The gateway intake remembers, per
 * channel it has seen, the newest message id it durably appended (the same `discord:after:<channel>` cursor
 * polling uses); on every new session (READY, not RESUMED) it fetches `GET /channels/{id}/messages?after=`
 * for those channels. What the gateway also delivers is a duplicate the runner drops by event id.
 */
import type { REST } from "discord.js";
import type { BackoffOptions } from "../shared/backoff.ts";
import type { ConnectorLogger, CursorStore } from "../shared/connector.ts";
import type { Ingestor } from "../shared/ingest.ts";
import type { StatusTracker } from "../shared/status-tracker.ts";
import { createDiscordPoller, discordCursorKey } from "./polling.ts";

/** Cursor key listing the channels the gateway has seen (most recent first). */
const GATEWAY_CHANNELS_KEY = "discord:gateway:channels";
/** Channels remembered for backfill: a bound, so a bot in thousands of channels does not fetch them all. */
const BACKFILL_MAX_CHANNELS = 200;

interface GatewayBackfillOptions {
  rest: () => REST;
  token: string;
  ingestor: Ingestor;
  cursors: CursorStore;
  tracker: StatusTracker;
  logger: ConnectorLogger;
  clock: () => number;
  backoff: BackoffOptions;
  random: () => number;
  selfId(): string;
}

interface MessagePacket {
  t?: string | null;
  d?: { id?: unknown; channel_id?: unknown } | null;
}

const newer = (a: string, b: string | undefined) => b === undefined || BigInt(a) > BigInt(b);

export function createGatewayBackfill(o: GatewayBackfillOptions) {
  let running: Promise<void> | null = null;

  function channels(): string[] {
    try {
      const v = JSON.parse(o.cursors.get(GATEWAY_CHANNELS_KEY) ?? "[]") as unknown;
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string" && /^\d+$/.test(x)) : [];
    } catch {
      return [];
    }
  }

  return {
    /** After a batch of frames is durably in ingress: advance each channel's cursor to its newest message. */
    noteAppended(packets: readonly MessagePacket[]): void {
      const newest = new Map<string, string>();
      for (const p of packets) {
        if (p.t !== "MESSAGE_CREATE") continue;
        const id = p.d?.id;
        const channel = p.d?.channel_id;
        if (typeof id !== "string" || typeof channel !== "string" || !/^\d+$/.test(id)) continue;
        if (newer(id, newest.get(channel))) newest.set(channel, id);
      }
      if (newest.size === 0) return;
      for (const [channel, id] of newest)
        if (newer(id, o.cursors.get(discordCursorKey(channel)))) o.cursors.put(discordCursorKey(channel), id);
      const known = channels();
      const merged = [...newest.keys(), ...known.filter((c) => !newest.has(c))].slice(0, BACKFILL_MAX_CHANNELS);
      if (merged.length !== known.length || merged.some((c, i) => c !== known[i]))
        o.cursors.put(GATEWAY_CHANNELS_KEY, JSON.stringify(merged));
    },
    /** A new session started: fetch what the known channels got since their cursors (one at a time). */
    onSession(signal: AbortSignal): Promise<void> {
      if (running) return running;
      const ids = channels();
      if (ids.length === 0) return Promise.resolve();
      running = (async () => {
        const poller = createDiscordPoller({
          rest: o.rest(),
          token: o.token,
          channelIds: ids,
          ingestor: o.ingestor,
          cursors: o.cursors,
          tracker: o.tracker,
          logger: o.logger,
          clock: o.clock,
          intervalMs: 0,
          backoff: o.backoff,
          random: o.random,
          selfId: o.selfId,
          beforePolling: async () => undefined,
        });
        const r = await poller.once(signal);
        o.logger.info(
          { event: "connector.backfill", transport: "discord", channels: ids.length, appended: r.appended, ok: r.ok, code: r.code },
          "discord gateway backfill after a new session",
        );
      })().finally(() => {
        running = null;
      });
      return running;
    },
    /** Resolves when a backfill in progress is done. */
    idle(): Promise<void> {
      return running ?? Promise.resolve();
    },
  };
}

export type GatewayBackfill = ReturnType<typeof createGatewayBackfill>;
