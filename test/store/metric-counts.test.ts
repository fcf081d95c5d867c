/**
 * The `/metrics` totals that need a scan (denied events by reason, replies by transport and reason) are read on a
 * worker thread over its own read-only connection: the scans grow with history (about 85 ms at 100,000 events on the
 * development machine) and on the main thread they stalled webhook acknowledgements for that long on every scrape.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { metricsSnapshotSource } from "../../src/app/http-runtime.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { makeTauHome } from "../helpers/tau-home.ts";

let dir = "";
let store: Store | null = null;
afterEach(() => {
  store?.close();
  store = null;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function fill(s: Store, from: number, n: number): void {
  s.atomically(() => {
    for (let i = from; i < from + n; i++) {
      const denied = i % 3 === 0;
      s.runner.insertEvent({
        event_id: `telegram:1:u:${i}`,
        transport: i % 2 ? "telegram" : "discord",
        kind: "message",
        chat_type: "dm",
        conversation_id: String(1000 + (i % 50)),
        actor_id: String(i % 50),
        occurred_at_ms: 1000 + i,
        processed_at_ms: 2000 + i,
        outcome: denied ? "denied" : "replied",
        reason: denied ? "deny_actor_not_allowlisted" : "responder_replied",
        decisions: [],
        route: null,
      });
      if (denied) continue;
      s.outbox.insert(
        {
          outbox_id: `ob_${String(i).padStart(8, "0")}`,
          event_id: `telegram:1:u:${i}`,
          transport: i % 2 ? "telegram" : "discord",
          account_id: "1",
          conversation_id: String(1000 + (i % 50)),
          thread_id: null,
          reply_to: null,
          mode: "dry-run",
          purpose: "reply",
          status: "sent",
          reason: i % 5 === 0 ? "delivery_rate_limited" : "delivery_dry_run",
          chunk_count: 1,
          attempts: 1,
          rich: null,
        },
        2000 + i,
      );
    }
  });
}

describe("metric counts off the main thread", () => {
  it("gives the same totals as the scans on the store's own connection, and sees later commits", async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-metric-counts-"));
    store = openStore(dir);
    fill(store, 0, 3000);
    const expected = {
      deniedByReason: store.inspect.deniedByReason(),
      deliveriesByReason: store.inspect.deliveriesByReason(),
      deliveriesByTransport: store.inspect.deliveriesByTransportAndReason(),
    };
    expect(expected.deniedByReason).toEqual({ deny_actor_not_allowlisted: 1000 });
    expect(await store.metricCounts()).toEqual(expected);
    // A later commit is in the next read (each read is its own snapshot of the WAL).
    fill(store, 3000, 300);
    expect((await store.metricCounts()).deniedByReason).toEqual({ deny_actor_not_allowlisted: 1100 });
    expect((await store.metricCounts()).deliveriesByTransport).toEqual(store.inspect.deliveriesByTransportAndReason());
  });

  it("leaves the main thread free while it reads: other work runs before the totals arrive", async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-metric-counts-"));
    store = openStore(dir);
    fill(store, 0, 500);
    // Read on this thread, the totals would be ready before anything else ran (a resolved promise); read on the
    // worker, they arrive as a message, after work queued meanwhile on this thread's event loop.
    let ticks = 0;
    let done = false;
    const tick = () =>
      setImmediate(() => {
        if (done) return;
        ticks += 1;
        tick();
      });
    tick();
    const counts = await store.metricCounts();
    done = true;
    expect(counts.deniedByReason).toEqual({ deny_actor_not_allowlisted: 167 });
    expect(ticks).toBeGreaterThan(0);
  });

  it("stops its worker with the store: a read after close is refused", async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-metric-counts-"));
    store = openStore(dir);
    fill(store, 0, 10);
    await store.metricCounts();
    const s = store;
    store = null;
    s.close();
    await expect(s.metricCounts()).rejects.toThrow(/store is closed/);
  });
});

describe("/metrics when the worker cannot read", () => {
  it("reads the same totals on the main thread instead of failing the scrape", async () => {
    const home = makeTauHome();
    const app = home.open();
    try {
      fill(app.store, 0, 30);
      const expected = app.store.inspect.deniedByReason();
      // The worker opens the state file by name: gone from the folder (this connection keeps its open file), it cannot.
      fs.renameSync(path.join(home.stateDir, "tau.db"), path.join(home.stateDir, "moved.db"));
      await expect(app.store.metricCounts()).rejects.toThrow();
      const snapshot = await metricsSnapshotSource(app, null)();
      expect(snapshot.deniedByReason).toEqual(expected);
      expect(snapshot.deniedByReason).toEqual({ deny_actor_not_allowlisted: 10 });
    } finally {
      app.close();
      home.cleanup();
    }
  });
});
