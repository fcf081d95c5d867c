/**
 * Poller leases (issue 15 §4): the store's lease upsert on every engine (take a free lease, renew one's own, never
 * steal a live one — not even from another process of the same node —, take over an expired one with the next fence,
 * release), the fenced cursor write a paused old holder cannot get through, and the lease keeper of src/app/cluster.ts
 * on one SQLite state shared by two nodes: one holds, the other stands by, a takeover calls the loser's onLost at once,
 * a failed renewal or a renewal after the expiry gives the lease up, a clean stop hands it over; and `--once` rounds.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { contractEngines, ENGINE_HOOK_TIMEOUT_MS } from "../store/contract/engines.ts";
import { createClusterNode, type ClusterNode } from "../../src/app/cluster.ts";
import { openApp, type App } from "../../src/app/index.ts";
import { startConnectors } from "../../src/app/connectors-runtime.ts";
import { startTelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

describe.each(contractEngines())("lease store on $name", (engine) => {
  afterEach(() => engine.closeAll());
  afterAll(() => engine.stop(), ENGINE_HOOK_TIMEOUT_MS);

  it(
    "a free lease is taken, renewed by its holder, refused to another node and to another process of the same node",
    async () => {
      const { store } = await engine.open();
      expect(store.cluster.acquireLease("poller:telegram:6112", "tau-a", 6000, 1000, "p1")).toEqual({
        held: true,
        fence: 1,
        holder: "tau-a",
        instance: "p1",
        expires_at_ms: 7000,
      });
      // Renewal: same fence, later expiry, acquisition time kept.
      expect(store.cluster.acquireLease("poller:telegram:6112", "tau-a", 6000, 3000, "p1")).toEqual({
        held: true,
        fence: 1,
        holder: "tau-a",
        instance: "p1",
        expires_at_ms: 9000,
      });
      // Another node while the lease is live: refused, the lease unchanged.
      expect(store.cluster.acquireLease("poller:telegram:6112", "tau-b", 6000, 8999, "p9")).toEqual({
        held: false,
        fence: 1,
        holder: "tau-a",
        instance: "p1",
        expires_at_ms: 9000,
      });
      // A second process of the same node (e.g. `tau connectors run` next to `tau run`): refused too.
      expect(store.cluster.acquireLease("poller:telegram:6112", "tau-a", 6000, 8999, "p2").held).toBe(false);
      expect(store.cluster.leases()).toEqual([
        { name: "poller:telegram:6112", holder: "tau-a", instance: "p1", acquired_at_ms: 1000, expires_at_ms: 9000, fence: 1 },
      ]);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "an expired lease is taken over with the next fence; a release frees it at once; only the holder can release",
    async () => {
      const { store } = await engine.open();
      store.cluster.acquireLease("poller:discord:1100", "tau-a", 6000, 1000, "p1");
      // At the expiry instant the lease is free.
      expect(store.cluster.acquireLease("poller:discord:1100", "tau-b", 6000, 7000, "p7")).toEqual({
        held: true,
        fence: 2,
        holder: "tau-b",
        instance: "p7",
        expires_at_ms: 13000,
      });
      // The old holder's renewal now finds another holder.
      expect(store.cluster.acquireLease("poller:discord:1100", "tau-a", 6000, 7001, "p1")).toMatchObject({ held: false, holder: "tau-b" });
      expect(store.cluster.releaseLease("poller:discord:1100", "tau-a", "p1")).toBe(false);
      expect(store.cluster.releaseLease("poller:discord:1100", "tau-b", "p7")).toBe(true);
      expect(store.cluster.acquireLease("poller:discord:1100", "tau-a", 6000, 8000, "p1")).toEqual({
        held: true,
        fence: 3,
        holder: "tau-a",
        instance: "p1",
        expires_at_ms: 14000,
      });
      // Leases are independent of each other.
      expect(store.cluster.acquireLease("poller:email:ops@mail", "tau-b", 6000, 8000, "p7").held).toBe(true);
      expect(store.cluster.leases().map((l) => [l.name, l.holder, l.fence])).toEqual([
        ["poller:discord:1100", "tau-a", 3],
        ["poller:email:ops@mail", "tau-b", 1],
      ]);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "a cursor write is fenced: a paused old holder cannot move the new holder's Telegram offset back",
    async () => {
      const { store } = await engine.open();
      const key = "connector:telegram:offset";
      const a = store.cluster.acquireLease("poller:telegram:6112", "tau-a", 6000, 1000, "p1");
      expect(store.cluster.putFencedCursor(key, "101", { name: "poller:telegram:6112", holder: "tau-a", fence: a.fence }, 2000)).toBe(true);
      const b = store.cluster.acquireLease("poller:telegram:6112", "tau-b", 6000, 8000, "p7");
      expect(store.cluster.putFencedCursor(key, "140", { name: "poller:telegram:6112", holder: "tau-b", fence: b.fence }, 8100)).toBe(true);
      // tau-a wakes up from a pause with updates 101..120 fetched before it: its commit is refused.
      expect(store.cluster.putFencedCursor(key, "121", { name: "poller:telegram:6112", holder: "tau-a", fence: a.fence }, 8200)).toBe(
        false,
      );
      // Even with the new holder's fence, an expired lease writes nothing.
      expect(store.cluster.putFencedCursor(key, "150", { name: "poller:telegram:6112", holder: "tau-b", fence: b.fence }, 14000)).toBe(
        false,
      );
      expect(store.kv.get(key)).toBe("140");
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "heartbeats: one row per node, the latest info wins, nodes listed by id",
    async () => {
      const { store } = await engine.open();
      store.cluster.heartbeat({ node_id: "tau-b", started_at_ms: 500, version: "1.2.0" }, 1000, { health: "healthy", leases: [] });
      store.cluster.heartbeat({ node_id: "tau-a", started_at_ms: 400, version: "1.2.0" }, 1500, { health: "degraded", leases: ["x"] });
      store.cluster.heartbeat({ node_id: "tau-b", started_at_ms: 500, version: "1.2.0" }, 3000, { health: "healthy", leases: ["y"] });
      expect(store.cluster.nodes()).toEqual([
        { node_id: "tau-a", started_at_ms: 400, heartbeat_at_ms: 1500, version: "1.2.0", info: '{"health":"degraded","leases":["x"]}' },
        { node_id: "tau-b", started_at_ms: 500, heartbeat_at_ms: 3000, version: "1.2.0", info: '{"health":"healthy","leases":["y"]}' },
      ]);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );
});

/** A node's lease callbacks, recorded in order. */
function recorder() {
  const events: string[] = [];
  const waiters: { pred: () => boolean; resolve: () => void }[] = [];
  const notify = () => {
    for (const w of waiters.splice(0))
      if (w.pred()) w.resolve();
      else waiters.push(w);
  };
  return {
    events,
    opts: {
      onAcquired: (fence: number) => {
        events.push(`acquired:${fence}`);
        notify();
      },
      onLost: (reason: string) => {
        events.push(`lost:${reason}`);
        notify();
      },
    },
    /** Resolves once `event` was recorded `times` times; fails after 5 s. */
    waitFor(event: string, times = 1): Promise<void> {
      const seen = () => events.filter((e) => e === event).length >= times;
      if (seen()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${event} within 5 s; saw ${events.join(", ")}`)), 5000);
        waiters.push({
          pred: seen,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}

describe("lease keeper (src/app/cluster.ts) on one shared SQLite state", () => {
  let home: TauHome;
  const apps: App[] = [];
  const nodes: ClusterNode[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop().catch(() => undefined);
    for (const a of apps.splice(0)) a.close();
    home?.cleanup();
  });

  /** A node on the shared state with its own clock offset (ms added to the real time). */
  function nodeOn(id: string, offset: { ms: number }): { app: App; node: ClusterNode } {
    const app = openApp({
      stateDir: home.stateDir,
      configPath: home.configPath,
      env: { TAU_CLUSTER_NODE_ID: id },
      clock: () => Date.now() + offset.ms,
    });
    apps.push(app);
    const node = createClusterNode(app);
    nodes.push(node);
    return { app, node };
  }

  const FAST = { ttlMs: 600, retryMs: 50 };

  it("one node holds, the other stands by; a takeover stops the old holder at once and fences its cursor writes", async () => {
    home = makeTauHome();
    const clockA = { ms: 0 };
    const clockB = { ms: 0 };
    const a = nodeOn("tau-a", clockA);
    const b = nodeOn("tau-b", clockB);
    const ra = recorder();
    const rb = recorder();
    const ha = a.node.holdLease("poller:telegram:6112", { ...FAST, ...ra.opts });
    // The first attempt is made inside holdLease: a lone node holds at once.
    expect(ha.held()).toBe(true);
    await ra.waitFor("acquired:1");
    const hb = b.node.holdLease("poller:telegram:6112", { ...FAST, ...rb.opts });
    expect(hb.held()).toBe(false);
    expect(a.app.store.cluster.leases()[0]).toMatchObject({ holder: "tau-a", fence: 1 });

    // tau-b's clock runs 5 s ahead: by its clock tau-a's lease (renewed every 200 ms for 600 ms) has expired.
    clockB.ms = 5000;
    await rb.waitFor("acquired:2");
    await ra.waitFor("lost:lease_taken");
    expect(ha.held()).toBe(false);
    expect(hb.fence()).toBe(2);
    expect(rb.events).toEqual(["acquired:2"]);
    // tau-a's old tenure can no longer move a cursor.
    const key = "connector:telegram:offset";
    expect(a.app.store.cluster.putFencedCursor(key, "77", { name: "poller:telegram:6112", holder: "tau-a", fence: 1 }, a.app.clock())).toBe(
      false,
    );
    expect(b.app.store.cluster.putFencedCursor(key, "78", { name: "poller:telegram:6112", holder: "tau-b", fence: 2 }, b.app.clock())).toBe(
      true,
    );

    // A clean stop releases the lease: tau-a (still standing by) takes it with the next fence.
    clockB.ms = 0;
    await b.node.stop();
    await ra.waitFor("acquired:3");
    expect(a.app.store.cluster.leases()[0]).toMatchObject({ holder: "tau-a", fence: 3 });
  });

  it("a renewal that comes after the expiry (the process was paused) gives the lease up before anything else", async () => {
    home = makeTauHome();
    const clockA = { ms: 0 };
    const a = nodeOn("tau-a", clockA);
    const ra = recorder();
    const ha = a.node.holdLease("poller:discord:1100", { ...FAST, ...ra.opts });
    await ra.waitFor("acquired:1");
    // The clock jumps past the expiry, as after a SIGSTOP or a long GC pause: the job is stopped, then taken again.
    clockA.ms = 60_000;
    await ra.waitFor("lost:lease_expired");
    // Nobody else took it: the same process takes it again (same holder, same fence) and restarts the job.
    await ra.waitFor("acquired:1", 2);
    expect(ra.events.slice(0, 3)).toEqual(["acquired:1", "lost:lease_expired", "acquired:1"]);
    expect(ha.held()).toBe(true);
  });

  it("a renewal that fails (the store is gone) calls onLost at once", async () => {
    home = makeTauHome();
    const a = nodeOn("tau-a", { ms: 0 });
    const ra = recorder();
    a.node.holdLease("poller:email:ops@example.org", { ...FAST, ...ra.opts });
    await ra.waitFor("acquired:1");
    a.app.store.close();
    await ra.waitFor("lost:lease_renew_failed");
  });
});

describe("a one-shot poll round (`tau connectors run --once`) respects the poller lease", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f();
  });

  it("refuses with lease_held_elsewhere while a node polls the account, polls once the lease is free, and leaves it free", async () => {
    const token = "6112:ONCE-token_abcdefghijklmnopqrstuvwxyz";
    const tg = await startTelegramBotApiServer({ token });
    cleanups.push(() => tg.close());
    const home = makeTauHome();
    cleanups.push(() => home.cleanup());
    const app = openApp({
      stateDir: home.stateDir,
      configPath: home.configPath,
      env: {
        TAU_CLUSTER_NODE_ID: "tau-a",
        TAU_CONNECTORS_TELEGRAM_MODE: "polling",
        TAU_TELEGRAM_BOT_TOKEN: token,
        TAU_TELEGRAM_API_ROOT: tg.url,
      },
    });
    cleanups.push(() => app.close());
    tg.pushUpdate({
      update_id: 5,
      message: {
        message_id: 5,
        date: 1_765_000_000,
        chat: { id: 42, type: "private" },
        from: { id: 42, is_bot: false, first_name: "A" },
        text: "hi",
      },
    });
    // Another node polls this bot.
    app.store.cluster.acquireLease("poller:telegram:6112", "tau-b", 60_000, app.clock(), "b1");

    const running = await startConnectors(app, { start: false });
    cleanups.push(() => running.stop());
    expect(await running.pollOnce()).toEqual({ telegram: { ok: false, appended: 0, code: "lease_held_elsewhere" } });
    expect(tg.callsTo("getUpdates")).toEqual([]);

    app.store.cluster.releaseLease("poller:telegram:6112", "tau-b", "b1");
    expect(await running.pollOnce()).toEqual({ telegram: { ok: true, appended: 1, code: null } });
    // The round's offset went through the fence; the lease is free again for the service.
    expect(app.store.kv.get("connector:telegram:offset")).toBe("6");
    expect(app.store.cluster.leases()).toEqual([
      expect.objectContaining({ name: "poller:telegram:6112", holder: "tau-a", expires_at_ms: 0, fence: 2 }),
    ]);
  });
});
