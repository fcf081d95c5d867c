/**
 * @module Discord REST polling: `GET /channels/{id}/messages?after=<cursor>&limit=100` per configured channel.
 * The first run starts at the newest message (no history replay); pages come newest→oldest and are
 * processed oldest first; the per-channel cursor is committed only after the durable append.
 * @see https://discord.com/developers/docs/resources/message#get-channel-messages
 */
import { Routes, type REST } from "discord.js";
import { backoffDelay, sleep, type BackoffOptions } from "../shared/backoff.ts";
import type { ConnectorLogger, CursorStore, PollRoundResult } from "../shared/connector.ts";
import type { Ingestor } from "../shared/ingest.ts";
import type { StatusTracker } from "../shared/status-tracker.ts";
import { classifyDiscordError } from "./errors.ts";

/** Discord epoch (2015-01-01T00:00:00Z) in ms: snowflake = (ms − epoch) << 22. */
const DISCORD_EPOCH_MS = 1_420_070_400_000n;
const PAGE_LIMIT = 100;

/** Cursor key of a channel (the runtime prefixes it with `connector:`). */
export const discordCursorKey = (channelId: string) => `discord:after:${channelId}`;

/** The smallest snowflake at `ms`, a valid `after` cursor for "everything from now on". */
function snowflakeAt(ms: number): string {
  return ((BigInt(Math.max(0, Math.floor(ms))) - DISCORD_EPOCH_MS) << 22n).toString();
}

function compareSnowflakes(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

interface RestMessage {
  id: string;
  author?: { id?: string };
  guild_id?: string;
  channel_type?: number;
  [k: string]: unknown;
}
interface ChannelInfo {
  guild_id?: string;
  type: number;
}

interface DiscordPollerOptions {
  rest: REST;
  token: string;
  channelIds: readonly string[];
  ingestor: Ingestor;
  cursors: CursorStore;
  tracker: StatusTracker;
  logger: ConnectorLogger;
  clock: () => number;
  intervalMs: number;
  backoff: BackoffOptions;
  random: () => number;
  selfId(): string;
  /** Runs before the first round (learn our own user id); retried like a round. */
  beforePolling(signal: AbortSignal): Promise<void>;
}

export interface DiscordPoller {
  run(signal: AbortSignal): Promise<void>;
  once(signal: AbortSignal): Promise<PollRoundResult>;
}

/**
 * GET through a per-request child signal: @discordjs/rest leaves its abort listener on the signal it is
 * given, so handing it the long-lived stop signal would pile up one listener per request.
 */
export async function restGet(rest: REST, route: `/${string}`, signal: AbortSignal, query?: URLSearchParams): Promise<unknown> {
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await rest.get(route, { signal: ac.signal, ...(query ? { query } : {}) });
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

export function createDiscordPoller(o: DiscordPollerOptions): DiscordPoller {
  const channels = new Map<string, ChannelInfo>();
  let prepared = false;

  /** REST-polled messages lack guild_id/channel_type; the channel object has them (cached). */
  async function channelInfo(id: string, signal: AbortSignal): Promise<ChannelInfo> {
    const cached = channels.get(id);
    if (cached) return cached;
    const c = (await restGet(o.rest, Routes.channel(id), signal)) as { guild_id?: string; type?: number };
    const info: ChannelInfo = { type: typeof c.type === "number" ? c.type : 0, ...(c.guild_id ? { guild_id: c.guild_id } : {}) };
    channels.set(id, info);
    return info;
  }

  async function page(channelId: string, query: Record<string, string>, signal: AbortSignal): Promise<RestMessage[]> {
    return (await restGet(o.rest, Routes.channelMessages(channelId), signal, new URLSearchParams(query))) as RestMessage[];
  }

  async function pollChannel(channelId: string, signal: AbortSignal): Promise<number> {
    const key = discordCursorKey(channelId);
    let after = o.cursors.get(key);
    if (after === undefined) {
      // First run: start at the newest message, so history is never replayed.
      const newest = await page(channelId, { limit: "1" }, signal);
      after = newest[0]?.id ?? snowflakeAt(o.clock());
      o.cursors.put(key, after);
      o.logger.info(
        { event: "connector.cursor_initialized", transport: "discord", channel_id: channelId, after },
        "discord polling starts at the newest message",
      );
      return 0;
    }
    let appended = 0;
    for (;;) {
      const messages = await page(channelId, { after, limit: String(PAGE_LIMIT) }, signal);
      if (messages.length === 0) break;
      // The API answers newest→oldest; sorting by snowflake also survives any other order.
      const ordered = [...messages].sort((a, b) => compareSnowflakes(a.id, b.id));
      const info = await channelInfo(channelId, signal);
      const self = o.selfId();
      const items = ordered
        .filter((m) => m.author?.id !== self)
        .map((m) => ({
          ...m,
          ...(m.guild_id === undefined && info.guild_id !== undefined ? { guild_id: info.guild_id } : {}),
          ...(m.channel_type === undefined ? { channel_type: info.type } : {}),
        }));
      appended += (await o.ingestor.ingest(items)).appended;
      after = ordered[ordered.length - 1]!.id;
      o.cursors.put(key, after); // only after the fsync
      if (messages.length < PAGE_LIMIT) break;
    }
    return appended;
  }

  function report(err: unknown, channelId: string | null): string {
    const f = classifyDiscordError(err);
    if (!f.counted) o.tracker.failure(f.kind, f.code);
    o.logger.warn(
      {
        event: "connector.poll_failed",
        transport: "discord",
        channel_id: channelId,
        code: f.code,
        status: f.status,
        description: f.description,
      },
      "discord poll failed",
    );
    return f.code;
  }

  /** One pass over every channel. A failing channel does not stop the others; the round fails only if all do. */
  async function round(signal: AbortSignal): Promise<PollRoundResult> {
    o.rest.setToken(o.token); // @discordjs/rest clears the token after a 401
    if (!prepared) {
      await o.beforePolling(signal);
      prepared = true;
    }
    let appended = 0;
    let failures = 0;
    let lastCode: string | null = null;
    for (const channelId of o.channelIds) {
      if (signal.aborted) break;
      try {
        appended += await pollChannel(channelId, signal);
      } catch (err) {
        if (signal.aborted) break;
        failures += 1;
        lastCode = report(err, channelId);
      }
    }
    const ok = failures === 0 || failures < o.channelIds.length;
    if (ok && !signal.aborted) o.tracker.success();
    return { ok, appended, code: lastCode };
  }

  return {
    async run(signal) {
      let attempt = 0;
      while (!signal.aborted) {
        let wait = o.intervalMs;
        try {
          const r = await round(signal);
          if (r.ok) attempt = 0;
          else {
            o.tracker.retry();
            wait = Math.max(wait, backoffDelay(attempt++, o.backoff, o.random));
          }
        } catch (err) {
          if (signal.aborted) break;
          report(err, null);
          o.tracker.retry();
          wait = Math.max(wait, backoffDelay(attempt++, o.backoff, o.random));
        }
        await sleep(wait, signal);
      }
    },
    async once(signal) {
      try {
        return await round(signal);
      } catch (err) {
        return { ok: false, appended: 0, code: report(err, null) };
      }
    },
  };
}
