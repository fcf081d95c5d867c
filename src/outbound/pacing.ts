/**
 * @module Outbound pacing: stay under a provider's published limits instead of discovering them by 429s. Each limit
 * is "at most `count` sends per `window_ms`" on a key (one chat, one group, the whole bot). Two halves:
 * - `plan` (before delivery, per outbox row): a virtual schedule (per conversation the same windows, bursts allowed; the
 *   shared bot/account budget per fixed window); a row whose slot is further away than the horizon is booked and
 *   deferred (its retry time moves), so no send waits in process for long and a busy chat never holds up other chats;
 * - `acquire` (per chunk, at send time): the exact check. A send occupies one unit of each of its limits from the moment
 *   it starts until `window_ms` after its answer came back — conservative whatever the network latency, since the
 *   provider sees the request between those two moments. Waits are timers, not sleeps in a loop: each caller awaits its
 *   own permit while others proceed.
 * Order within a conversation: rows are planned oldest first, and a conversation's later rows are booked after its
 * earlier ones (also after a provider's 429 wait), so they never overtake. State is in memory (per process).
 * @see https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this (PROVIDERS.md §1.6, §10.1.8)
 */

/** At most `count` sends per `window_ms`. */
export interface WindowLimit {
  count: number;
  window_ms: number;
}

/** One limit a send is subject to. `shared`: the whole bot/account (every send waits for it anyway). */
export interface PaceKey {
  id: string;
  limit: WindowLimit;
  shared: boolean;
}

/** What to pace: `item` identifies the outbox row (its chunks share a booking), `keys` its limits. */
export interface PaceRequest {
  item: string;
  keys: readonly PaceKey[];
}

/** A permit to send now; `done` once the answer came back (with the provider's wait when it answered 429). */
export type PaceGrant = { ok: true; waited_ms: number; done(rateLimitedMs?: number | null): void } | { ok: false; until: number };

/**
 * Occupancy of one limit: sends in flight plus the answer times of recent sends (an answer at `e` occupies until
 * `e + window_ms`). `blockedUntil` is a wait the provider asked for.
 */
export class WindowLimiter {
  private inFlight = 0;
  private ends: number[] = [];
  private blockedUntil = 0;

  constructor(readonly limit: WindowLimit) {}

  private prune(now: number): void {
    const w = this.limit.window_ms;
    let k = 0;
    while (k < this.ends.length && this.ends[k]! + w <= now) k += 1;
    if (k > 0) this.ends.splice(0, k);
  }

  /** The earliest time a new send may start (≥ now); Infinity when it depends on a send still in flight. */
  freeAt(now: number): number {
    this.prune(now);
    const used = this.inFlight + this.ends.length;
    let t = now;
    if (used >= this.limit.count) {
      const need = used - this.limit.count; // index of the answer whose expiry frees a unit
      t = need < this.ends.length ? this.ends[need]! + this.limit.window_ms : Infinity;
    }
    return Math.max(t, this.blockedUntil);
  }

  begin(): void {
    this.inFlight += 1;
  }

  /** A send started with `begin` got its answer at `at`. */
  end(at: number): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    const last = this.ends[this.ends.length - 1];
    this.ends.push(last !== undefined && last > at ? last : at);
  }

  /** The provider asked to wait until `until` (429 retry_after). */
  block(until: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, until);
  }

  /** Nothing in flight, nothing recent, no block: the limiter can be forgotten. */
  idle(now: number): boolean {
    this.prune(now);
    return this.inFlight === 0 && this.ends.length === 0 && this.blockedUntil <= now;
  }
}

export interface PacerOptions {
  clock: () => number;
  /** Longest wait for a slot: in process at send time, and how far ahead `plan` admits rows (default 1500 ms). */
  maxWaitMs?: number;
  /** Schedule `fn` after `ms` (default setTimeout); returns a cancel function. */
  setTimer?: (ms: number, fn: () => void) => () => void;
}

/** Bookings older than this (a row that never came back: sent elsewhere, dead-lettered, held by a kill switch) are dropped. */
const STALE_BOOKING_MS = 10 * 60_000;
/** A conversation's hold (a send told to wait) is forgotten this long after its time if its row never came back. */
const HOLD_GRACE_MS = 60_000;
/** Step by which a later row re-waits while the held row of its conversation has not gone yet. */
const BEHIND_HOLD_STEP_MS = 100;
/** Sweep idle state every this many calls. */
const SWEEP_EVERY = 1024;

interface Waiter {
  req: PaceRequest;
  since: number;
  resolve(g: PaceGrant): void;
  /** When the limits said it may go (by the clock), and whether its timer for that moment has fired. */
  readyAt: number;
  due: boolean;
  cancel: (() => void) | null;
}

/** Create a pacer; one per process and provider delivery (see `createPacedSenders`). */
export function createPacer(opts: PacerOptions) {
  const { clock } = opts;
  const maxWait = opts.maxWaitMs ?? 1500;
  const setTimer =
    opts.setTimer ??
    ((ms: number, fn: () => void) => {
      const t = setTimeout(fn, ms);
      return () => clearTimeout(t);
    });
  const limiters = new Map<string, WindowLimiter>();
  /** The virtual schedule: start times booked per conversation key (ascending), and per window of a shared key. */
  const virtualLog = new Map<string, number[]>();
  const sharedBuckets = new Map<string, Map<number, number>>();
  /** Rows deferred by `plan` (or held at send time): outbox id → their slot. */
  const booked = new Map<string, number>();
  /** Per conversation key: the row told to wait (by the pacer or a 429) and until when; later rows go after it. */
  const holds = new Map<string, { item: string; until: number }>();
  const waiters: Waiter[] = [];
  let calls = 0;

  function limiterOf(k: PaceKey): WindowLimiter {
    let l = limiters.get(k.id);
    if (!l) limiters.set(k.id, (l = new WindowLimiter(k.limit)));
    return l;
  }

  function sweep(now: number): void {
    if (++calls % SWEEP_EVERY !== 0) return;
    for (const [id, l] of limiters) if (l.idle(now)) limiters.delete(id);
    // Far-future bookings stay; anything over an hour old is history.
    for (const [id, log] of virtualLog) if (log.length === 0 || log[log.length - 1]! < now - 3_600_000) virtualLog.delete(id);
    for (const buckets of sharedBuckets.values()) for (const b of buckets.keys()) if (b < now - 3_600_000) buckets.delete(b);
    for (const [id, t] of booked) if (t + STALE_BOOKING_MS < now) booked.delete(id);
    for (const [id, h] of holds) if (h.until + HOLD_GRACE_MS < now) holds.delete(id);
  }

  /** Remember that `item` was told to wait until `until`: its conversation's later rows go after it. */
  function hold(req: PaceRequest, until: number): void {
    booked.set(req.item, until);
    for (const k of req.keys) if (!k.shared) holds.set(k.id, { item: req.item, until: Math.max(until, holds.get(k.id)?.until ?? 0) });
  }

  /** A time to wait until when an earlier row of the same conversation is held and has not gone yet, else null. */
  function behindHold(req: PaceRequest, now: number): number | null {
    let until: number | null = null;
    for (const k of req.keys) {
      const h = holds.get(k.id);
      if (!h || h.item === req.item) continue;
      if (h.until + HOLD_GRACE_MS < now) holds.delete(k.id);
      else until = Math.max(until ?? 0, Math.max(h.until, now) + BEHIND_HOLD_STEP_MS);
    }
    return until;
  }

  /** The earliest start for `req` by the exact limits (Infinity: wait for a send in flight). */
  function exactFreeAt(req: PaceRequest, now: number): number {
    let t = now;
    for (const k of req.keys) t = Math.max(t, limiterOf(k).freeAt(now));
    return t;
  }

  function grant(req: PaceRequest, since: number): PaceGrant {
    const ls = req.keys.map(limiterOf);
    for (const l of ls) l.begin();
    booked.delete(req.item);
    for (const k of req.keys) if (holds.get(k.id)?.item === req.item) holds.delete(k.id);
    let finished = false;
    return {
      ok: true,
      waited_ms: clock() - since,
      done(rateLimitedMs) {
        if (finished) return;
        finished = true;
        const at = clock();
        for (const l of ls) l.end(at);
        if (rateLimitedMs !== undefined && rateLimitedMs !== null) {
          // The provider wants a pause: the conversation's own limits wait it out, and its later rows come after
          // this one (which the retry policy brings back at that time).
          const until = at + rateLimitedMs;
          req.keys.forEach((k, i) => {
            if (k.shared) return;
            ls[i]!.block(until);
            bookVirtual(k, until);
          });
          hold(req, until);
        }
        pump();
      },
    };
  }

  /**
   * Grant every waiter whose limits are free now (oldest first); give each other waiter a timer for the moment its
   * limits free up (none while that depends on an answer in flight: `done` pumps again). A waiter whose timer fired
   * while the clock had not yet reached its time (a clock that lags real time, as in tests) goes too, so no wait
   * outlasts its computed length.
   */
  function pump(): void {
    const now = clock();
    for (let i = 0; i < waiters.length;) {
      const w = waiters[i]!;
      const t = exactFreeAt(w.req, now);
      if (t <= now || (w.due && now < w.readyAt)) {
        waiters.splice(i, 1);
        w.cancel?.();
        w.resolve(grant(w.req, w.since));
        continue;
      }
      if (t !== Infinity && (w.cancel === null || t !== w.readyAt)) {
        w.cancel?.();
        w.readyAt = t;
        w.due = false;
        w.cancel = setTimer(Math.max(1, t - now), () => {
          w.due = true;
          w.cancel = null;
          pump();
        });
      }
      i += 1;
    }
  }

  /** The booked starts of a conversation key, pruned of those older than its window. */
  function logOf(k: PaceKey, now: number): number[] {
    let log = virtualLog.get(k.id);
    if (!log) virtualLog.set(k.id, (log = []));
    let drop = 0;
    while (drop < log.length && log[drop]! <= now - k.limit.window_ms) drop += 1;
    if (drop > 0) log.splice(0, drop);
    return log;
  }

  /** Earliest start ≥ t on a conversation key: after its last booking, and under `count` per window (bursts allowed). */
  function earliestOn(k: PaceKey, log: readonly number[], t: number): number {
    let x = Math.max(t, log[log.length - 1] ?? t);
    if (log.length >= k.limit.count) x = Math.max(x, log[log.length - k.limit.count]! + k.limit.window_ms);
    return x;
  }

  function bookVirtual(k: PaceKey, t: number): void {
    const log = virtualLog.get(k.id) ?? [];
    virtualLog.set(k.id, log);
    log.push(Math.max(t, log[log.length - 1] ?? t));
  }

  /**
   * Earliest start ≥ t on a shared key, counted per fixed window (`count` per `window_ms` slice): rows of other
   * conversations booked far ahead do not push this one back. The exact check is `acquire`'s.
   */
  function earliestShared(k: PaceKey, t: number): number {
    let buckets = sharedBuckets.get(k.id);
    if (!buckets) sharedBuckets.set(k.id, (buckets = new Map()));
    const w = k.limit.window_ms;
    let x = t;
    while ((buckets.get(Math.floor(x / w) * w) ?? 0) >= k.limit.count) x = (Math.floor(x / w) + 1) * w;
    return x;
  }

  function bookShared(k: PaceKey, t: number): void {
    const buckets = sharedBuckets.get(k.id)!;
    const b = Math.floor(t / k.limit.window_ms) * k.limit.window_ms;
    buckets.set(b, (buckets.get(b) ?? 0) + 1);
  }

  return {
    /**
     * Before delivery: when may the row `req` (with `units` chunks) start? Returns `now` to send it in this pass, or
     * a later time to defer it to (its slot stays booked, so it is admitted when it comes back). Rows are planned
     * oldest first; each books `units` slots (one per chunk) under each of its limits.
     */
    plan(req: PaceRequest, units: number, now: number): number {
      sweep(now);
      if (req.keys.length === 0) return now;
      const behind = behindHold(req, now);
      if (behind !== null) {
        booked.set(req.item, behind);
        return behind;
      }
      const b = booked.get(req.item);
      if (b !== undefined) return b <= now + maxWait ? now : b;
      const own = req.keys.filter((k) => !k.shared);
      const shared = req.keys.filter((k) => k.shared);
      let t = now;
      for (const k of own) {
        const free = limiterOf(k).freeAt(now);
        t = Math.max(t, free === Infinity ? now + k.limit.window_ms : free);
      }
      let first: number | null = null;
      for (let u = 0; u < Math.max(1, units); u++) {
        for (const k of own) t = earliestOn(k, logOf(k, now), t);
        for (const k of shared) t = earliestShared(k, t);
        for (const k of own) bookVirtual(k, t);
        for (const k of shared) bookShared(k, t);
        first ??= t;
      }
      if (first! <= now + maxWait) return now;
      booked.set(req.item, first!);
      return first!;
    },

    /**
     * At send time: resolves with a permit once every limit of `req` has room (waiting on a timer, other callers go
     * on meanwhile), or at once with `{ok:false, until}` when the wait would exceed the maximum — the caller then
     * reschedules the row instead of waiting.
     */
    acquire(req: PaceRequest): Promise<PaceGrant> {
      const now = clock();
      sweep(now);
      if (req.keys.length === 0) return Promise.resolve(grant(req, now));
      // Never overtake a held row of the same conversation (it comes back at its time; this one after it).
      const behind = behindHold(req, now);
      if (behind !== null) {
        booked.set(req.item, behind);
        return Promise.resolve({ ok: false, until: behind });
      }
      const t = exactFreeAt(req, now);
      if (t <= now && waiters.length === 0) return Promise.resolve(grant(req, now));
      // A send in flight (Infinity) answers within the HTTP timeout; estimate one window per key.
      const est = t === Infinity ? now + Math.max(...req.keys.map((k) => k.limit.window_ms)) : t;
      // Waiters ahead for the same shared budget each take a unit of it.
      const shared = req.keys.find((k) => k.shared);
      const ahead = shared ? waiters.filter((w) => w.req.keys.some((k) => k.id === shared.id)).length : 0;
      const queued = shared ? Math.floor(ahead / shared.limit.count) * shared.limit.window_ms : 0;
      if (est + queued - now > maxWait) {
        hold(req, est + queued);
        return Promise.resolve({ ok: false, until: est + queued });
      }
      return new Promise<PaceGrant>((resolve) => {
        waiters.push({ req, since: now, resolve, readyAt: Infinity, due: false, cancel: null });
        pump();
      });
    },

    /** Waiting callers and tracked keys (for tests and benches). */
    stats(): { waiting: number; keys: number; booked: number } {
      return { waiting: waiters.length, keys: limiters.size, booked: booked.size };
    },
  };
}

export type Pacer = ReturnType<typeof createPacer>;
