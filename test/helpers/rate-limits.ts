/**
 * Provider rate limits for the local servers, enforced on arrival (what the provider sees), independent of tau's pacer:
 * a sliding log per key, "at most `count` accepted sends in any `window_ms`". Telegram (Bot FAQ, PROVIDERS.md §1.6):
 * 1/s per chat, 20/min per group (chat id < 0), 30/s per bot, refused with the real 429 body and `retry_after` in whole
 * seconds (§1.7). WhatsApp (§3.6, §3.7): pair rate 1 per 6 s per recipient → 131056, 80/s per phone number → 130429.
 * Pass one to `startTelegramBotApiServer({ rateLimits })` / `startWhatsAppGraphServer({ rateLimits })`; windows are
 * configurable so tests and benches can run them scaled down.
 */

export interface WindowRule {
  count: number;
  window_ms: number;
}

/** One refused request. */
export interface Rejection {
  at: number;
  key: string;
  /** Telegram: seconds in `retry_after`; WhatsApp: the Graph error code. */
  retry_after_s?: number;
  code?: number;
}

/** Sliding logs of accepted sends per key. */
class SlidingLogs {
  private readonly logs = new Map<string, number[]>();

  /** The wait (ms) before `key` has room under `rule` at `now`; 0 = room now. */
  waitMs(key: string, rule: WindowRule, now: number): number {
    const log = this.logs.get(key);
    if (!log) return 0;
    while (log.length > 0 && log[0]! <= now - rule.window_ms) log.shift();
    if (log.length < rule.count) return 0;
    return log[log.length - rule.count]! + rule.window_ms - now;
  }

  record(key: string, now: number): void {
    let log = this.logs.get(key);
    if (!log) this.logs.set(key, (log = []));
    log.push(now);
  }
}

export interface TelegramRateLimitOptions {
  per_chat?: WindowRule;
  per_group?: WindowRule;
  per_bot?: WindowRule;
}

/** Methods that post a message to a chat (what the flood limits count). */
const TELEGRAM_SEND_METHODS = new Set([
  "sendmessage",
  "sendphoto",
  "senddocument",
  "sendvideo",
  "sendaudio",
  "sendvoice",
  "sendanimation",
  "sendsticker",
  "sendmediagroup",
  "copymessage",
  "forwardmessage",
]);

/** The Telegram limits; `admit` returns null (accepted and counted) or the 429 to answer. */
export function createTelegramRateLimits(opts: TelegramRateLimitOptions = {}) {
  const perChat = opts.per_chat ?? { count: 1, window_ms: 1000 };
  const perGroup = opts.per_group ?? { count: 20, window_ms: 60_000 };
  const perBot = opts.per_bot ?? { count: 30, window_ms: 1000 };
  const logs = new SlidingLogs();
  const rejections: Rejection[] = [];
  let accepted = 0;
  return {
    rejections,
    accepted: () => accepted,
    /** null = send allowed (and counted); else the exact flood answer (§1.7). */
    admit(method: string, chatId: unknown, now: number): { description: string; retry_after: number } | null {
      if (!TELEGRAM_SEND_METHODS.has(method.toLowerCase()) || chatId === undefined) return null;
      const chat = String(chatId);
      const rules: [string, WindowRule][] = [[`chat:${chat}`, perChat]];
      if (chat.startsWith("-")) rules.push([`group:${chat}`, perGroup]);
      rules.push(["bot", perBot]);
      for (const [key, rule] of rules) {
        const wait = logs.waitMs(key, rule, now);
        if (wait > 0) {
          const retry_after = Math.max(1, Math.ceil(wait / 1000));
          rejections.push({ at: now, key, retry_after_s: retry_after });
          return { description: `Too Many Requests: retry after ${retry_after}`, retry_after };
        }
      }
      for (const [key] of rules) logs.record(key, now);
      accepted += 1;
      return null;
    },
  };
}
export type TelegramRateLimits = ReturnType<typeof createTelegramRateLimits>;

export interface WhatsAppRateLimitOptions {
  per_recipient?: WindowRule;
  per_number?: WindowRule;
}

/** The WhatsApp limits; `admit` returns null (accepted and counted) or the Graph error code to answer. */
export function createWhatsAppRateLimits(opts: WhatsAppRateLimitOptions = {}) {
  const perRecipient = opts.per_recipient ?? { count: 1, window_ms: 6000 };
  const perNumber = opts.per_number ?? { count: 80, window_ms: 1000 };
  const logs = new SlidingLogs();
  const rejections: Rejection[] = [];
  let accepted = 0;
  return {
    rejections,
    accepted: () => accepted,
    /** A message from phone number `pnid` to `to`: null = allowed (and counted), else 131056 (pair) or 130429 (throughput). */
    admit(pnid: string, to: string, now: number): 131056 | 130429 | null {
      const number = `number:${pnid}`;
      const pair = `pair:${pnid}:${to}`;
      if (logs.waitMs(number, perNumber, now) > 0) {
        rejections.push({ at: now, key: number, code: 130429 });
        return 130429;
      }
      if (logs.waitMs(pair, perRecipient, now) > 0) {
        rejections.push({ at: now, key: pair, code: 131056 });
        return 131056;
      }
      logs.record(number, now);
      logs.record(pair, now);
      accepted += 1;
      return null;
    },
  };
}
export type WhatsAppRateLimits = ReturnType<typeof createWhatsAppRateLimits>;
