import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createAppRunner, openIngressWriter } from "../../src/app/index.ts";
import { makeDm, makeEnvelope } from "../helpers/envelope-factory.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

const homes: TauHome[] = [];
function home(extra?: string): TauHome {
  const h = makeTauHome(extra);
  homes.push(h);
  return h;
}
afterEach(() => {
  for (const h of homes.splice(0)) h.cleanup();
});

function readNdjson(file: string): Record<string, unknown>[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .trimEnd()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

describe("runner", () => {
  it("answers a DM once in dry-run, skips the redelivered duplicate, and records one trace per event", async () => {
    const h = home();
    const app = h.open(() => 1_763_712_001_000);
    const w = openIngressWriter(app);
    const dm = makeDm("4242", { event_id: "telegram:6112:u:10", meta: { message_id: 311 } });
    await w.append("telegram", [dm, dm]);
    await w.close();
    const { runner, close } = createAppRunner(app);
    const reports = await runner.drain();
    close();
    expect(reports[0]).toMatchObject({ processed: 1, duplicates: 1, replies: 1, delivered: 1, queue_depth: 0 });
    const receipts = readNdjson(path.join(h.stateDir, "outbox", "dry-run.ndjson"));
    expect(receipts).toHaveLength(1);
    expect(receipts[0]).toMatchObject({
      event_id: "telegram:6112:u:10",
      status: "dry_run",
      reason: "delivery_dry_run",
      request: {
        method: "POST",
        url: "https://api.telegram.org/bot<redacted>/sendMessage",
        body: { chat_id: 4242, reply_parameters: { message_id: 311, allow_sending_without_reply: true } },
      },
    });
    const traces = app.store.inspect.tracesAfter(0).map(({ event_id, outcome, reason }) => ({ event_id, outcome, reason }));
    expect(traces).toEqual([{ event_id: "telegram:6112:u:10", outcome: "replied", reason: "responder_replied" }]);
    app.close();
  });

  it("never answers itself or other bots, and records non-message kinds without a reply", async () => {
    const h = home();
    const app = h.open();
    const w = openIngressWriter(app);
    await w.append("telegram", [
      makeEnvelope({ event_id: "telegram:6112:u:1", actor: { id: "6112", is_bot: true } }),
      makeEnvelope({ event_id: "telegram:6112:u:2", actor: { id: "777", is_bot: true } }),
      makeEnvelope({ event_id: "telegram:6112:u:3", kind: "edit" }),
      makeEnvelope({ event_id: "telegram:6112:u:4", kind: "membership" }),
    ]);
    await w.close();
    const { runner, close } = createAppRunner(app);
    await runner.drain();
    close();
    expect(app.store.inspect.tracesAfter(0).map(({ event_id, outcome, reason }) => ({ event_id, outcome, reason }))).toEqual([
      { event_id: "telegram:6112:u:1", outcome: "ignored", reason: "ignored_self" },
      { event_id: "telegram:6112:u:2", outcome: "ignored", reason: "ignored_bot" },
      { event_id: "telegram:6112:u:3", outcome: "recorded", reason: "recorded_edit" },
      { event_id: "telegram:6112:u:4", outcome: "recorded", reason: "recorded_membership" },
    ]);
    expect(app.store.inspect.repliesAfter(0)).toHaveLength(0);
    app.close();
  });

  it("quarantines malformed lines with file, line, reason and detail, and processes the lines after them", async () => {
    const h = home();
    const app = h.open();
    fs.mkdirSync(path.join(h.stateDir, "ingress"), { recursive: true });
    const good = (id: string) => JSON.stringify(makeDm("4242", { event_id: id }));
    const v2 = JSON.stringify({ ...makeDm("4242", { event_id: "telegram:6112:u:3" }), v: 2 });
    fs.writeFileSync(
      path.join(h.stateDir, "ingress", "telegram.ndjson"),
      [good("telegram:6112:u:1"), "{not json", v2, JSON.stringify({ v: 1 }), good("telegram:6112:u:5")].join("\n") + "\n",
    );
    const { runner, close } = createAppRunner(app);
    const [r] = await runner.drain();
    close();
    expect(r).toMatchObject({ processed: 2, quarantined: 3 });
    const q = readNdjson(path.join(h.stateDir, "quarantine", "telegram.ndjson")).map(({ at_ms: _a, detail: _d, ...rest }) => rest);
    expect(q).toEqual([
      { transport: "telegram", file: "telegram.ndjson", line: 2, reason: "ingress_malformed_json" },
      { transport: "telegram", file: "telegram.ndjson", line: 3, reason: "ingress_schema_version_unsupported" },
      { transport: "telegram", file: "telegram.ndjson", line: 4, reason: "ingress_missing_id" },
    ]);
    app.close();
  });

  it("bounds a cycle by queue_limit and reports the remainder as queue_depth without dropping it", async () => {
    const h = home("runner:\n  coalesce_window_ms: 0\n  queue_limit: 40\n  batch_size: 7\n");
    const app = h.open();
    const w = openIngressWriter(app);
    await w.append(
      "discord",
      Array.from({ length: 25 }, (_, i) =>
        makeDm(`u${i}`, { event_id: `discord:${1000 + i}`, transport: "discord", provider: "discord", account_id: "1100000000000000001" }),
      ),
    );
    await w.close();
    const { runner, close } = createAppRunner(app);
    const first = await runner.cycle();
    // 40 / 4 transports = 10 per transport per cycle.
    expect(first).toMatchObject({ processed: 10, queue_depth: 15 });
    expect(runner.readState()?.last_reason_codes).toContain("queue_backpressure_applied");
    const rest = await runner.drain();
    close();
    expect(rest.reduce((a, r) => a + r.processed, 0)).toBe(15);
    expect(app.store.inspect.tracesAfter(0)).toHaveLength(25);
    app.close();
  });

  it("rotates a consumed ingress file while a writer keeps appending, losing nothing", async () => {
    const h = home("runner:\n  coalesce_window_ms: 0\n  rotate_min_bytes: 0\n");
    const app = h.open();
    const w = openIngressWriter(app);
    const { runner, close } = createAppRunner(app);
    for (let round = 0; round < 5; round++) {
      await w.append(
        "telegram",
        Array.from({ length: 20 }, (_, i) => makeDm("4242", { event_id: `telegram:6112:u:${round * 100 + i}` })),
      );
      await runner.cycle();
    }
    await w.close();
    await runner.drain();
    close();
    expect(app.store.inspect.tracesAfter(0)).toHaveLength(100);
    expect(fs.readdirSync(path.join(h.stateDir, "ingress", "archive")).length).toBeGreaterThan(0);
    app.close();
  });

  it("coalesces a same-conversation burst inside the window", async () => {
    const h = home("runner:\n  coalesce_window_ms: 2500\n");
    const app = h.open();
    const w = openIngressWriter(app);
    await w.append("telegram", [
      makeDm("4242", { event_id: "telegram:6112:u:1", occurred_at_ms: 1_000_000 }),
      makeDm("4242", { event_id: "telegram:6112:u:2", occurred_at_ms: 1_001_000 }),
      makeDm("4242", { event_id: "telegram:6112:u:3", occurred_at_ms: 1_004_000 }),
    ]);
    await w.close();
    const { runner, close } = createAppRunner(app);
    await runner.drain();
    close();
    expect(app.store.inspect.tracesAfter(0).map(({ event_id, reason }) => ({ event_id, reason }))).toEqual([
      { event_id: "telegram:6112:u:1", reason: "responder_replied" },
      { event_id: "telegram:6112:u:2", reason: "responder_coalesced" },
      { event_id: "telegram:6112:u:3", reason: "responder_replied" },
    ]);
    app.close();
  });

  it("refuses a second runner on the same state dir", () => {
    const h = home();
    const app = h.open();
    const first = createAppRunner(app);
    expect(() => createAppRunner(app)).toThrow(/another tau runner is already running/);
    first.close();
    app.close();
  });

  it("wake() ends the idle at once: an append is answered long before the poll interval", async () => {
    const h = home("runner:\n  poll_interval_ms: 60000\n  coalesce_window_ms: 0\n");
    const app = h.open();
    const w = openIngressWriter(app);
    const { runner, close } = createAppRunner(app);
    const ac = new AbortController();
    const loop = runner.run(ac.signal);
    try {
      await new Promise((r) => setTimeout(r, 100)); // the runner is idle now, for up to 60 s
      const t0 = Date.now();
      await w.append("telegram", [makeDm("4242", { event_id: "telegram:6112:u:wake-1" })]);
      runner.wake();
      const receipts = path.join(h.stateDir, "outbox", "dry-run.ndjson");
      while (readNdjson(receipts).length === 0 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 10));
      expect(readNdjson(receipts)).toHaveLength(1);
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      ac.abort();
      await loop;
      close();
      await w.close();
    }
  });
});

describe("runner: the service loop's cycle telemetry", () => {
  it("a busy cycle's state and runtime event ride on a later commit, at most a second behind, none lost, all written at stop", async () => {
    const h = home();
    const now = { ms: 1_763_712_001_000 };
    const app = h.open(() => now.ms);
    const { runner, close } = createAppRunner(app);
    const w = openIngressWriter(app);
    const ac = new AbortController();
    const loop = runner.run(ac.signal);
    const state = () => JSON.parse(app.store.kv.get("runner_state") ?? "null") as { totals: { processed: number } } | null;
    const until = async (what: string, ok: () => boolean) => {
      const deadline = performance.now() + 10_000;
      while (!ok()) {
        if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const send = async (n: number) => {
      await w.append("telegram", [makeDm("4242", { event_id: `telegram:6112:u:${n}`, meta: { message_id: n } })]);
      runner.wake();
      await until(`event ${n}`, () => app.store.inspect.trace(`telegram:6112:u:${n}`).length === 1);
    };
    try {
      // The first cycle's state is written at once (nothing was written yet).
      await until("the first state", () => state() !== null);
      expect(state()!.totals.processed).toBe(0);
      // With the clock still, a busy cycle's telemetry has no commit of its own …
      await send(1);
      await new Promise((r) => setTimeout(r, 100));
      expect(state()!.totals.processed).toBe(0);
      // … it commits with the next batch …
      await send(2);
      expect(state()!.totals.processed).toBe(1);
      // … or, once a second has passed, with the idle runner's next cycle.
      now.ms += 1000;
      await until("the held-back state", () => state()?.totals.processed === 2);
      await send(3);
    } finally {
      ac.abort();
      await loop;
      close();
      await w.close();
    }
    // Stopping writes what was held back; every busy cycle's runtime event is there (each event counted once).
    expect(state()!.totals.processed).toBe(3);
    const cycles = app.store.inspect.runtimeEventsNamed("runner.cycle", 0, 1000);
    expect(cycles.reduce((n, e) => n + (JSON.parse(e.detail) as { processed: number }).processed, 0)).toBe(3);
    app.close();
  });
});

describe("runner: housekeeping", () => {
  it("the service loop prunes pairing attempts older than the hour the pairing rate limit counts", async () => {
    const h = home();
    const now = 1_763_712_001_000;
    const app = h.open(() => now);
    app.store.access.recordAttempt("telegram:777", now - 2 * 3_600_000);
    app.store.access.recordAttempt("telegram:777", now - 60_000);
    const { runner, close } = createAppRunner(app);
    const ac = new AbortController();
    const loop = runner.run(ac.signal);
    const deadline = performance.now() + 10_000;
    while (app.store.access.attemptsSince("telegram:777", 0) !== 1 && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    await loop;
    close();
    expect(app.store.access.attemptsSince("telegram:777", 0)).toBe(1);
    expect(app.store.access.attemptsSince("telegram:777", now - 3_600_000)).toBe(1);
    app.close();
  });
});
