/**
 * @module Telegram long polling with tau owning the offset: getUpdates → normalize each update → durable
 * append → only then persist `offset = last update_id + 1`. grammY's `bot.start()` is not used: it confirms
 * updates before our fsync and rethrows 401/409 (PROVIDERS.md §1.2).
 * @see https://core.telegram.org/bots/api#getupdates
 */
import type { Api } from "grammy";
import type { ConnectorLogger, CursorStore, PollRoundResult } from "../shared/connector.ts";
import { backoffDelay, sleep, type BackoffOptions } from "../shared/backoff.ts";
import type { Ingestor } from "../shared/ingest.ts";
import type { StatusTracker } from "../shared/status-tracker.ts";
import { classifyTelegramError, grammySignal, PollStalledError, TELEGRAM_ALLOWED_UPDATES } from "./api.ts";

/** Cursor key of the next offset to request (the runtime prefixes it with `connector:`). */
const TELEGRAM_OFFSET_KEY = "telegram:offset";

interface TelegramPollerOptions {
  api: Api;
  ingestor: Ingestor;
  cursors: CursorStore;
  tracker: StatusTracker;
  logger: ConnectorLogger;
  /** Long-poll timeout in seconds (Bot API clamps to 0..50). */
  pollTimeoutS: number;
  /** A poll not completed within timeout + this margin is aborted and restarted. */
  stallMarginMs: number;
  backoff: BackoffOptions;
  random: () => number;
  /** Runs before the first poll (deleteWebhook, identity); retried with backoff like a poll. */
  beforePolling(signal: AbortSignal): Promise<void>;
}

export interface TelegramPoller {
  /** Poll until `signal` aborts. Never rejects: every failure becomes a reason code and a backoff. */
  run(signal: AbortSignal): Promise<void>;
  /** One short poll (timeout 0): run `beforePolling` if needed, fetch, append, commit. */
  once(signal: AbortSignal): Promise<PollRoundResult>;
}

export function createTelegramPoller(o: TelegramPollerOptions): TelegramPoller {
  let prepared = false;

  function storedOffset(): number | undefined {
    const raw = o.cursors.get(TELEGRAM_OFFSET_KEY);
    return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
  }

  /** getUpdates with a stall watchdog tied to `signal`. */
  async function fetchUpdates(timeoutS: number, signal: AbortSignal): Promise<unknown[]> {
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    const limitMs = timeoutS * 1000 + o.stallMarginMs;
    let stalled = false;
    const watchdog = setTimeout(() => {
      stalled = true;
      ac.abort();
    }, limitMs);
    try {
      const offset = storedOffset();
      return await o.api.getUpdates(
        { ...(offset !== undefined ? { offset } : {}), limit: 100, timeout: timeoutS, allowed_updates: [...TELEGRAM_ALLOWED_UPDATES] },
        grammySignal(ac.signal),
      );
    } catch (err) {
      if (stalled) throw new PollStalledError(limitMs);
      throw err;
    } finally {
      clearTimeout(watchdog);
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** One getUpdates round; returns how many envelopes were appended. Throws on any failure. */
  async function round(timeoutS: number, signal: AbortSignal): Promise<number> {
    if (!prepared) {
      await o.beforePolling(signal);
      prepared = true;
    }
    const updates = await fetchUpdates(timeoutS, signal);
    o.tracker.success(); // liveness = the last completed getUpdates
    if (updates.length === 0) return 0;
    const result = await o.ingestor.ingest(updates); // rejects before anything is committed
    let next = storedOffset() ?? 0;
    for (const u of updates) {
      const id = (u as { update_id?: unknown }).update_id;
      if (typeof id === "number" && Number.isSafeInteger(id) && id + 1 > next) next = id + 1;
    }
    o.cursors.put(TELEGRAM_OFFSET_KEY, String(next));
    return result.appended;
  }

  function report(err: unknown): { code: string; waitMs: number | null } {
    const f = classifyTelegramError(err);
    if (!f.counted) o.tracker.failure(f.kind, f.code);
    o.logger.warn(
      { event: "connector.poll_failed", transport: "telegram", code: f.code, status: f.status, description: f.description },
      "telegram poll failed",
    );
    return { code: f.code, waitMs: f.retryAfterMs };
  }

  return {
    async run(signal) {
      let attempt = 0;
      while (!signal.aborted) {
        try {
          await round(o.pollTimeoutS, signal);
          attempt = 0;
        } catch (err) {
          if (signal.aborted) break;
          const { waitMs } = report(err);
          o.tracker.retry();
          await sleep(waitMs ?? backoffDelay(attempt++, o.backoff, o.random), signal);
        }
      }
    },
    async once(signal) {
      try {
        const appended = await round(0, signal);
        return { ok: true, appended, code: null };
      } catch (err) {
        return { ok: false, appended: 0, code: report(err).code };
      }
    },
  };
}
