import { afterEach, describe, expect, it } from "vitest";
import { openIngressWriter } from "../../src/app/index.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { committedEvents, dryRunReceiptIds, readState, runProcessChild, type KillPlan } from "../helpers/kill-child.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

let h: TauHome | null = null;
afterEach(() => h?.cleanup());

describe("kill -9 during processing", () => {
  it("processes every one of 10,000 events exactly once and never duplicates a reply", async () => {
    h = makeTauHome("runner:\n  coalesce_window_ms: 0\n  batch_size: 50\n  queue_limit: 200\n");
    const app = h.open();
    const w = openIngressWriter(app, true);
    const N = 10_000;
    for (let start = 0; start < N; start += 1000) {
      await w.append(
        "telegram",
        Array.from({ length: 1000 }, (_, i) => makeDm(String(100_000 + start + i), { event_id: `telegram:6112:u:${start + i}` })),
      );
    }
    await w.close();
    app.close();

    // Deterministic pseudo-random kill points (seeded LCG), covering startup, mid-batch and delivery.
    let seed = 42;
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    let kills = 0;
    const progressAtKill: number[] = [];
    for (let attempt = 0; attempt < 40; attempt++) {
      // Two kills at a random time (startup, migrations, recovery), then six at random progress points with
      // 0–20 ms of jitter (mid-batch, mid-delivery, mid-commit), then run to completion.
      const done = committedEvents(h);
      const plan: KillPlan =
        kills < 2
          ? { afterMs: 200 + Math.floor(rand() * 800) }
          : kills < 8
            ? { atEvents: done + 1 + Math.floor(rand() * Math.max(1, (N - done) / 3)), jitterMs: Math.floor(rand() * 20) }
            : null;
      const r = await runProcessChild(h, ["--once"], plan);
      if (r.signal !== "SIGKILL") break;
      kills += 1;
      progressAtKill.push(committedEvents(h));
    }
    // The kills must have landed mid-run (some progress, not all), or this test proves nothing.
    expect(kills).toBeGreaterThanOrEqual(3);
    expect(progressAtKill.some((n) => n > 0 && n < N)).toBe(true);

    const events = readState(h, (db) => db.prepare("SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS d FROM events").get());
    expect(events).toEqual({ n: N, d: N });
    expect(readState(h, (db) => db.prepare("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status").all())).toEqual([
      { status: "sent", n: N },
    ]);
    const receipts = dryRunReceiptIds(h);
    expect(receipts).toHaveLength(N);
    expect(new Set(receipts).size).toBe(N);
  }, 240_000);
});
