/**
 * kill -9 of a runner consuming JetStream: `tau process` children are SIGKILLed mid-run (after a fetch, before the
 * batch's commit or its acks); the messages they held come back after ack_wait to the next runner, and every event is
 * processed exactly once and answered once (dry-run receipts). Real nats-server, real SQLite, tau as shipped.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openIngressWriter } from "../../src/app/index.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { inspectStream, startNats, type TestNats } from "../helpers/nats.ts";
import { committedEvents, dryRunReceiptIds, readState, runProcessChild } from "../helpers/kill-child.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

const STREAM = "TAU_INGRESS";
let nats: TestNats;
let h: TauHome | null = null;
beforeAll(async () => {
  nats = await startNats();
}, 30_000);
afterAll(async () => {
  await nats?.stop();
});
afterEach(() => h?.cleanup());

describe("kill -9 of a JetStream runner", () => {
  it("messages held by a killed runner come back after ack_wait; every event is processed exactly once, answered once", async () => {
    h = makeTauHome(
      `runner:\n  coalesce_window_ms: 0\n  batch_size: 25\ningress:\n  driver: nats\n  nats_url: "${nats.url}"\n  stream: ${STREAM}\n  nats_ack_wait_ms: 1000\n`,
    );
    const app = h.open();
    const w = openIngressWriter(app, true);
    const N = 1500;
    for (let start = 0; start < N; start += 500) {
      await w.append(
        "telegram",
        Array.from({ length: 500 }, (_, i) => makeDm(String(200_000 + start + i), { event_id: `telegram:6112:u:${start + i}` })),
      );
    }
    await w.close();
    app.close();

    let seed = 7;
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const heldAtKill: number[] = [];
    for (let k = 0; k < 4; k++) {
      const done = committedEvents(h);
      const { signal } = await runProcessChild(h, [], { atEvents: done + 1 + Math.floor(rand() * 200), jitterMs: Math.floor(rand() * 15) });
      expect(signal).toBe("SIGKILL");
      // What the dead runner had fetched and not acknowledged is still held by the consumer, not lost.
      heldAtKill.push((await inspectStream(nats.url, STREAM)).consumer!.ackPending);
    }
    const progress = committedEvents(h);
    expect(progress).toBeGreaterThan(0);
    expect(progress).toBeLessThan(N);
    // At least one kill landed between a fetch and its acks (the point of the test).
    expect(heldAtKill.some((n) => n > 0)).toBe(true);

    // Another runner drains: the held messages come back after ack_wait (1 s here).
    expect((await runProcessChild(h, ["--once"], null)).signal).toBeNull();

    readState(h, (db) => {
      expect(db.prepare("SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS d FROM events").get()).toEqual({ n: N, d: N });
      expect(db.prepare("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status").all()).toEqual([{ status: "sent", n: N }]);
    });
    const receipts = dryRunReceiptIds(h);
    expect(receipts).toHaveLength(N);
    expect(new Set(receipts).size).toBe(N);
    expect(await inspectStream(nats.url, STREAM)).toMatchObject({ messages: 0, lastSeq: N, consumer: { pending: 0, ackPending: 0 } });
  }, 180_000);
});
