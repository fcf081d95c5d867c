/**
 * The pacer's schedule with clock values passed in (no sleeping): the occupancy of one limit, the plan that defers rows
 * beyond the horizon while keeping a conversation's order, and permits at send time that wait on a timer for one chat
 * without holding up another. Expected times are written out.
 */
import { describe, expect, it } from "vitest";
import { TauConfigSchema } from "../../src/config/schema.ts";
import { createPacer, WindowLimiter, type PaceKey, type PaceGrant } from "../../src/outbound/pacing.ts";
import { DEFAULT_PACING, paceKeys, scalePacing } from "../../src/outbound/pacing-senders.ts";

const T0 = 1_763_712_000_000;

/** A clock the test moves and a timer list the test fires. */
function fakeTime() {
  const now = { ms: T0 };
  const timers: { at: number; fn: () => void; live: boolean }[] = [];
  return {
    now,
    clock: () => now.ms,
    setTimer: (ms: number, fn: () => void) => {
      const t = { at: now.ms + ms, fn, live: true };
      timers.push(t);
      return () => {
        t.live = false;
      };
    },
    /** Move to `ms` and fire the timers due by then. */
    advanceTo(ms: number) {
      now.ms = ms;
      for (const t of timers.filter((x) => x.live && x.at <= ms)) {
        t.live = false;
        t.fn();
      }
    },
    pendingTimers: () => timers.filter((t) => t.live).map((t) => t.at),
    /** Fire every live timer without moving the clock (a clock lagging real time). */
    fireAll() {
      for (const t of timers.filter((x) => x.live)) {
        t.live = false;
        t.fn();
      }
    },
  };
}

const chat = (id: string, count = 1, window_ms = 1000): PaceKey => ({ id: `chat:${id}`, limit: { count, window_ms }, shared: false });
const bot = (count: number, window_ms = 1000): PaceKey => ({ id: "bot", limit: { count, window_ms }, shared: true });

describe("WindowLimiter: a send occupies a unit from its start until window_ms after its answer", () => {
  it("frees a unit window_ms after the answer; in-flight sends make the time unknown; a block wins", () => {
    const l = new WindowLimiter({ count: 2, window_ms: 1000 });
    expect(l.freeAt(T0)).toBe(T0);
    l.begin();
    l.begin();
    expect(l.freeAt(T0 + 5)).toBe(Infinity);
    l.end(T0 + 100);
    // Still two units used (one in flight, one answered at +100): the answer's unit frees at +1100.
    expect(l.freeAt(T0 + 120)).toBe(T0 + 1100);
    l.end(T0 + 130);
    expect(l.freeAt(T0 + 1100)).toBe(T0 + 1100);
  });

  it("counts in-flight and recent answers together", () => {
    const l = new WindowLimiter({ count: 2, window_ms: 1000 });
    l.begin();
    l.begin();
    l.end(T0 + 100);
    l.end(T0 + 150);
    expect(l.freeAt(T0 + 200)).toBe(T0 + 1100);
    expect(l.freeAt(T0 + 1100)).toBe(T0 + 1100);
    l.begin();
    l.begin();
    // One of the two answers of T0+100/150 expired at 1100, the other still occupies until 1150; two in flight.
    expect(l.freeAt(T0 + 1100)).toBe(Infinity);
    l.block(T0 + 9000);
    l.end(T0 + 1200);
    l.end(T0 + 1200);
    expect(l.freeAt(T0 + 3000)).toBe(T0 + 9000);
    expect(l.idle(T0 + 9000)).toBe(true);
  });
});

describe("plan: rows beyond the horizon are deferred to their slot", () => {
  it("spreads many chats over the bot's windows and admits the first horizon's worth", () => {
    const p = createPacer({ clock: () => T0, maxWaitMs: 1000 });
    const got = Array.from({ length: 45 }, (_, k) => p.plan({ item: `ob_${k}`, keys: [chat(String(k)), bot(20)] }, 1, T0));
    // 20 per 1000 ms: rows 0..19 in the window starting now, 20..39 in the next (within the 1000 ms horizon), 40.. after.
    expect(got.slice(0, 40)).toEqual(Array(40).fill(T0));
    expect(got.slice(40)).toEqual(Array(5).fill(T0 + 2000));
    expect(p.stats().booked).toBe(5);
  });

  it("a group: 1/s bursts up to 20 per minute, then the window; later rows come after earlier ones", () => {
    const p = createPacer({ clock: () => T0, maxWaitMs: 1000 });
    const keys = [chat("-100"), { id: "group:-100", limit: { count: 20, window_ms: 60_000 }, shared: false }, bot(30)];
    const got = Array.from({ length: 21 }, (_, k) => p.plan({ item: `g${k}`, keys }, 1, T0));
    expect(got).toEqual([
      T0,
      T0, // +1000: within the horizon, sent in this pass (waiting for its slot at send time)
      ...Array.from({ length: 18 }, (_, k) => T0 + (k + 2) * 1000),
      T0 + 60_000, // the 21st: the first of the 20 leaves the minute
    ]);
    expect(p.plan({ item: "g5", keys }, 1, T0 + 5000)).toBe(T0 + 5000); // its booking: admitted when due
    expect(p.plan({ item: "g20", keys }, 1, T0 + 10_000)).toBe(T0 + 60_000); // not yet
    expect(p.plan({ item: "late", keys }, 1, T0 + 100)).toBe(T0 + 61_000); // after g20, one window after g1
    // A reply in two chunks books two slots.
    const q = createPacer({ clock: () => T0, maxWaitMs: 1000 });
    expect(q.plan({ item: "m1", keys: [chat("9"), bot(30)] }, 2, T0)).toBe(T0);
    expect(q.plan({ item: "m2", keys: [chat("9"), bot(30)] }, 1, T0)).toBe(T0 + 2000);
  });

  it("does not pace transports without limits, nor when disabled", () => {
    expect(paceKeys(DEFAULT_PACING, "discord", "1", "2")).toEqual([]);
    expect(paceKeys(DEFAULT_PACING, "email", "ops", "x@example.com")).toEqual([]);
    expect(paceKeys({ ...DEFAULT_PACING, enabled: false }, "telegram", "6112", "42")).toEqual([]);
    expect(paceKeys(DEFAULT_PACING, "telegram", "6112", "-1001").map((k) => [k.id, k.limit, k.shared])).toEqual([
      ["telegram:6112:chat:-1001", { count: 1, window_ms: 1000 }, false],
      ["telegram:6112:group:-1001", { count: 20, window_ms: 60_000 }, false],
      ["telegram:6112", { count: 30, window_ms: 1000 }, true],
    ]);
    expect(paceKeys(DEFAULT_PACING, "whatsapp", "1065", "16505551234").map((k) => [k.id, k.limit])).toEqual([
      ["whatsapp:1065:to:16505551234", { count: 1, window_ms: 6000 }],
      ["whatsapp:1065", { count: 80, window_ms: 1000 }],
    ]);
    expect(scalePacing(DEFAULT_PACING, 10).telegram.per_group).toEqual({ count: 20, window_ms: 6000 });
  });

  it("config defaults are the published limits, on", () => {
    expect(TauConfigSchema.parse({}).outbound.pacing).toEqual({
      enabled: true,
      max_wait_ms: 1500,
      telegram: {
        per_chat: { count: 1, window_ms: 1000 },
        per_group: { count: 20, window_ms: 60_000 },
        per_bot: { count: 30, window_ms: 1000 },
      },
      whatsapp: { per_recipient: { count: 1, window_ms: 6000 }, per_number: { count: 80, window_ms: 1000 } },
    });
    expect(DEFAULT_PACING).toEqual(TauConfigSchema.parse({}).outbound.pacing);
  });
});

describe("acquire: permits at send time", () => {
  it("a chat waiting for its slot does not hold up another chat; the waiter gets its permit when the timer fires", async () => {
    const t = fakeTime();
    const p = createPacer({ clock: t.clock, maxWaitMs: 1500, setTimer: t.setTimer });
    const first = (await p.acquire({ item: "a1", keys: [chat("a"), bot(30)] })) as Extract<PaceGrant, { ok: true }>;
    expect(first.ok).toBe(true);
    t.now.ms = T0 + 10;
    first.done();
    t.now.ms = T0 + 20;
    let second: PaceGrant | null = null;
    void p.acquire({ item: "a2", keys: [chat("a"), bot(30)] }).then((g) => (second = g));
    const other = await p.acquire({ item: "b1", keys: [chat("b"), bot(30)] });
    expect(other.ok).toBe(true);
    expect(second).toBeNull();
    expect(t.pendingTimers()).toEqual([T0 + 1010]);
    t.advanceTo(T0 + 1010);
    await Promise.resolve();
    expect(second).toMatchObject({ ok: true, waited_ms: 990 });
  });

  it("the shared budget is served oldest first once an answer frees a unit", async () => {
    const t = fakeTime();
    const p = createPacer({ clock: t.clock, maxWaitMs: 1500, setTimer: t.setTimer });
    const a = (await p.acquire({ item: "a", keys: [chat("a"), bot(2)] })) as Extract<PaceGrant, { ok: true }>;
    await p.acquire({ item: "b", keys: [chat("b"), bot(2)] });
    const order: string[] = [];
    void p.acquire({ item: "c", keys: [chat("c"), bot(2)] }).then(() => order.push("c"));
    void p.acquire({ item: "d", keys: [chat("d"), bot(2)] }).then(() => order.push("d"));
    await Promise.resolve();
    expect(order).toEqual([]);
    expect(p.stats().waiting).toBe(2);
    t.now.ms = T0 + 50;
    a.done(); // answered at +50: its unit is free at +1050
    expect(t.pendingTimers()).toEqual([T0 + 1050, T0 + 1050]);
    t.advanceTo(T0 + 1050);
    await Promise.resolve();
    expect(order).toEqual(["c"]);
  });

  it("a clock that lags real time never strands a waiter: the timer of its computed wait ends it", async () => {
    const t = fakeTime();
    const p = createPacer({ clock: t.clock, maxWaitMs: 1500, setTimer: t.setTimer });
    const g = (await p.acquire({ item: "a1", keys: [chat("a"), bot(30)] })) as Extract<PaceGrant, { ok: true }>;
    g.done();
    let second: PaceGrant | null = null;
    void p.acquire({ item: "a2", keys: [chat("a"), bot(30)] }).then((x) => (second = x));
    t.fireAll(); // 1000 ms of real time passed; the injected clock still says T0
    await Promise.resolve();
    expect(second).toMatchObject({ ok: true });
  });

  it("refuses at once when the wait exceeds the maximum, and a provider's 429 pauses that conversation", async () => {
    const t = fakeTime();
    const p = createPacer({ clock: t.clock, maxWaitMs: 1500, setTimer: t.setTimer });
    const keys = [chat("a", 1, 6000), bot(80)];
    const g = (await p.acquire({ item: "w1", keys })) as Extract<PaceGrant, { ok: true }>;
    t.now.ms = T0 + 100;
    g.done();
    expect(await p.acquire({ item: "w2", keys })).toEqual({ ok: false, until: T0 + 6100 });
    // The row w2 is booked: when the gate plans it at its time it is admitted.
    expect(p.plan({ item: "w2", keys }, 1, T0 + 6100)).toBe(T0 + 6100);

    const k2 = [chat("z"), bot(30)];
    const h = (await p.acquire({ item: "r1", keys: k2 })) as Extract<PaceGrant, { ok: true }>;
    t.now.ms = T0 + 200;
    h.done(3000); // 429 retry_after 3 s
    // r2 waits behind r1 (due at +3200): re-checked a step after it.
    expect(await p.acquire({ item: "r2", keys: k2 })).toEqual({ ok: false, until: T0 + 3300 });
    // A new row of that chat is planned after the one that was told to wait.
    expect(p.plan({ item: "r3", keys: k2 }, 1, T0 + 300)).toBeGreaterThan(T0 + 3200);
    // Still behind r1 at its time while r1 has not gone; once r1 got its permit, r2 goes.
    t.now.ms = T0 + 3300;
    expect(p.plan({ item: "r2", keys: k2 }, 1, T0 + 3300)).toBe(T0 + 3400);
    const again = (await p.acquire({ item: "r1", keys: k2 })) as Extract<PaceGrant, { ok: true }>;
    expect(again.ok).toBe(true);
    t.now.ms = T0 + 3310;
    again.done();
    expect(p.plan({ item: "r2", keys: k2 }, 1, T0 + 3400)).toBe(T0 + 3400);
  });

  it("a row held at send time keeps the later rows of its conversation behind it, even ones booked earlier", async () => {
    const t = fakeTime();
    const p = createPacer({ clock: t.clock, maxWaitMs: 300, setTimer: t.setTimer });
    const keys = (c: string) => [chat(c, 1, 200), bot(2)];
    // The bot budget is taken by two sends in flight; g1 would wait longer than 300 ms for it → held.
    await p.acquire({ item: "x", keys: keys("x") });
    await p.acquire({ item: "y", keys: keys("y") });
    const g1 = await p.acquire({ item: "g1", keys: keys("g") });
    expect(g1).toEqual({ ok: false, until: T0 + 1000 });
    // g2 (same chat) must not go first, even if the bot budget frees up meanwhile.
    expect(await p.acquire({ item: "g2", keys: keys("g") })).toEqual({ ok: false, until: T0 + 1100 });
    expect(await p.acquire({ item: "h1", keys: keys("h") })).toMatchObject({ ok: false }); // bot still full
  });
});
