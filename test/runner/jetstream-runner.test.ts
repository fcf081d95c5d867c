/**
 * The runner on JetStream (`ingress.driver: nats`) against a real nats-server: it consumes the durable consumer, each
 * event once; a batch's messages are acknowledged only after its transaction committed (a failed transaction
 * acknowledges nothing and the batch comes back after ack_wait); bad messages are quarantined and never redelivered;
 * the stream's duplicate window and, beyond it, the dedupe table absorb a redelivered webhook; `run()` picks up what any
 * node publishes without a wake-up; `tau events` / `tau traces` show it all. The store is SQLite here.
 */
import Database from "better-sqlite3";
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createAppRunner, openApp, openIngressWriter, type App } from "../../src/app/index.ts";
import { jetStreamSettings, lazyJetStream } from "../../src/ingress/index.ts";
import { jetStreamSourceFor } from "../../src/runner/jetstream-source.ts";
import { makeDm, makeEnvelope } from "../helpers/envelope-factory.ts";
import { deleteAllStreams, inspectStream, publishRaw, startNats, type TestNats } from "../helpers/nats.ts";
import { freePort } from "../helpers/free-port.ts";
import { startTelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";
import { runTau } from "../helpers/run-tau.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

const STREAM = "TAU_INGRESS";
let nats: TestNats;
beforeAll(async () => {
  nats = await startNats();
}, 30_000);
afterAll(async () => {
  await nats?.stop();
});

const homes: TauHome[] = [];
const apps: App[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) a.close();
  for (const h of homes.splice(0)) h.cleanup();
  await deleteAllStreams(nats.url);
});

function natsHome(ingressExtra = ""): TauHome {
  const h = makeTauHome(
    `runner:\n  coalesce_window_ms: 0\n  batch_size: 10\ningress:\n  driver: nats\n  nats_url: "${nats.url}"\n  stream: ${STREAM}\n  nats_ack_wait_ms: 1000\n${ingressExtra}`,
  );
  homes.push(h);
  return h;
}

function open(h: TauHome): App {
  const a = h.open();
  apps.push(a);
  return a;
}

/** Read the state database without holding it (read-only connection). */
function db<T>(h: TauHome, fn: (d: Database.Database) => T): T {
  const d = new Database(path.join(h.stateDir, "tau.db"), { readonly: true, fileMustExist: true });
  try {
    return fn(d);
  } finally {
    d.close();
  }
}

/** Create the stream as tau does (before anything else publishes to it). */
async function ensureStream(a: App): Promise<void> {
  const js = lazyJetStream(jetStreamSettings(a.config), "publisher");
  await js.get();
  await js.close();
}

const eventIds = (h: TauHome) => db(h, (d) => d.prepare("SELECT event_id FROM events ORDER BY event_id").pluck().all() as string[]);
const dm = (i: number) => makeDm(String(5000 + i), { event_id: `telegram:6112:u:${1000 + i}`, text: `hello ${i}` });

async function publish(a: App, n: number, from = 0): Promise<void> {
  const w = openIngressWriter(a, true);
  await w.append(
    "telegram",
    Array.from({ length: n }, (_, i) => dm(from + i)),
  );
  await w.close();
}

describe("runner on JetStream", () => {
  it("consumes every event once through the durable consumer, acknowledging after the commit; the stream ends empty", async () => {
    const h = natsHome();
    const a = open(h);
    await publish(a, 25);
    const { runner, close } = createAppRunner(a);
    try {
      const reports = await runner.drain();
      const sum = reports.reduce((n, r) => n + r.processed, 0);
      expect(sum).toBe(25);
      // Batches of runner.batch_size (10), then an empty cycle.
      expect(reports.map((r) => r.processed)).toEqual([25, 0]);
      expect(reports.at(-1)!.queue_depth).toBe(0);
    } finally {
      close();
    }
    expect(eventIds(h)).toEqual(Array.from({ length: 25 }, (_, i) => `telegram:6112:u:${1000 + i}`));
    expect(db(h, (d) => d.prepare("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status").all())).toEqual([{ status: "sent", n: 25 }]);
    // Work-queue stream: acknowledged messages are gone; nothing pending, nothing waiting for an ack.
    expect(await inspectStream(nats.url, STREAM)).toEqual({
      messages: 0,
      lastSeq: 25,
      consumer: { pending: 0, ackPending: 0, redelivered: 0 },
    });
    const state = JSON.parse(a.store.kv.get("runner_state")!) as { queue_depth: number; totals: { processed: number } };
    expect(state).toMatchObject({ queue_depth: 0, totals: { processed: 25 } });
  });

  it("a batch shorter than asked ends the take: its replies go out in this cycle, what arrived meanwhile in the next", async () => {
    const h = natsHome();
    const a = open(h);
    await publish(a, 1);
    // The real source; right after its first take, five more events arrive (as webhooks keep coming under load).
    const real = jetStreamSourceFor(a.config);
    let takes = 0;
    const stream = {
      ...real,
      async take(max: number) {
        const got = await real.take(max);
        if (takes++ === 0) await publish(a, 5, 1);
        return got;
      },
    };
    const { runner, close } = createAppRunner(a, { stream });
    try {
      // Was 6 in one cycle: the runner took again and again while events kept arriving, its replies waiting for a lull.
      const first = await runner.cycle();
      expect(first).toMatchObject({ processed: 1, queue_depth: 5, delivered: 1 });
      const second = await runner.cycle();
      expect(second).toMatchObject({ processed: 5, queue_depth: 0, delivered: 5 });
    } finally {
      close();
    }
    expect(eventIds(h)).toHaveLength(6);
  });

  it("a batch's replies go out while its acknowledgements are in flight; the cycle awaits them before it asks the depth", async () => {
    const tg = await startTelegramBotApiServer();
    const h = natsHome(`outbound:\n  mode: provider\nconnectors:\n  telegram: { api_root: ${tg.url} }\n`);
    const a = openApp({ stateDir: h.stateDir, configPath: h.configPath, env: { TAU_TELEGRAM_BOT_TOKEN: tg.token } });
    apps.push(a);
    await publish(a, 2);
    // The real source, its acknowledgements held back until the test lets them go.
    const real = jetStreamSourceFor(a.config);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let acking = 0;
    const stream = {
      ...real,
      async settle(batch: Parameters<typeof real.settle>[0], terminated: Parameters<typeof real.settle>[1]) {
        acking += batch.length;
        await held;
        await real.settle(batch, terminated);
      },
    };
    const { runner, close } = createAppRunner(a, { stream });
    try {
      const cycle = runner.cycle();
      // Before: the cycle waited for the acks (a round trip to NATS) before it sent anything.
      await tg.waitUntil(() => tg.callsTo("sendMessage").length === 2, 5000, "both replies sent while the acks are held");
      expect(acking).toBe(2);
      release();
      expect(await cycle).toMatchObject({ processed: 2, delivered: 2, failed: 0, queue_depth: 0 });
      expect((await inspectStream(nats.url, STREAM)).consumer).toMatchObject({ pending: 0, ackPending: 0 });
    } finally {
      release();
      close();
      await tg.close();
    }
  });

  it("the queue's depth and its oldest unacknowledged message are one request to the work-queue stream (were two)", async () => {
    const h = natsHome();
    const a = open(h);
    await publish(a, 3);
    const source = jetStreamSourceFor(a.config);
    // Watch the JetStream API requests tau makes (NATS lets any client subscribe to them).
    const nc = await connect({ servers: nats.url });
    try {
      const asked: string[] = [];
      const sub = nc.subscribe("$JS.API.>", { callback: (_e, m) => void asked.push(m.subject.split(".").slice(2, 4).join(".")) });
      await nc.flush();
      const taken = await source.take(1);
      expect(taken).toHaveLength(1);
      // The take's own requests reach this watcher on another connection: a round trip here lets them all arrive
      // before the count restarts (under load one could land after it: seen as a flaky extra CONSUMER.INFO).
      await nc.flush();
      asked.length = 0;
      // Two waiting, one delivered and not acknowledged: three queued, the oldest is the one taken.
      expect(await source.depth()).toEqual({ queued: 3, oldestMs: taken[0]!.storedAtMs });
      await nc.flush();
      // Before: the consumer's info (its lag), then the stream's (its first message).
      expect(asked).toEqual(["STREAM.INFO"]);
      await source.settle(taken, new Set());
      expect(await source.depth()).toMatchObject({ queued: 2 });
      sub.unsubscribe();
    } finally {
      await nc.close();
      await source.close();
    }
  });

  it("a batch whose transaction fails is not acknowledged: it comes back after ack_wait and is processed exactly once", async () => {
    const h = natsHome();
    const a = open(h);
    await publish(a, 4);
    // One bad message in the same batch: its quarantine file cannot be written (a file stands where the folder goes),
    // so the batch's transaction throws.
    const bad = await publishRaw(nats.url, "tau.ingress.telegram", "{not json", "bad-1");
    fs.mkdirSync(h.stateDir, { recursive: true });
    fs.writeFileSync(path.join(h.stateDir, "quarantine"), "in the way\n");
    const first = createAppRunner(a);
    try {
      await expect(first.runner.drain()).rejects.toThrow(/EEXIST|ENOTDIR|quarantine/);
    } finally {
      first.close();
    }
    expect(eventIds(h)).toEqual([]);
    // Nothing was acknowledged: all five are held by the consumer, waiting for their ack_wait.
    expect((await inspectStream(nats.url, STREAM)).consumer).toMatchObject({ pending: 0, ackPending: 5 });

    fs.rmSync(path.join(h.stateDir, "quarantine"));
    const second = createAppRunner(a);
    try {
      const reports = await second.runner.drain();
      expect(reports.reduce((n, r) => n + r.processed, 0)).toBe(4);
      expect(reports.reduce((n, r) => n + r.quarantined, 0)).toBe(1);
      expect(reports.reduce((n, r) => n + r.duplicates, 0)).toBe(0);
    } finally {
      second.close();
    }
    expect(eventIds(h)).toEqual(["telegram:6112:u:1000", "telegram:6112:u:1001", "telegram:6112:u:1002", "telegram:6112:u:1003"]);
    expect(db(h, (d) => d.prepare("SELECT transport, file, line_no, reason FROM quarantine").all())).toEqual([
      { transport: "telegram", file: STREAM, line_no: bad.seq, reason: "ingress_malformed_json" },
    ]);
    expect(await inspectStream(nats.url, STREAM)).toMatchObject({ messages: 0, consumer: { pending: 0, ackPending: 0 } });
  }, 30_000);

  it("a running runner outlives a failed batch: nothing of it is acknowledged or delivered, and it is processed once it can be", async () => {
    const h = natsHome();
    const a = open(h);
    await publish(a, 3);
    await publishRaw(nats.url, "tau.ingress.telegram", "{not json", "bad-1");
    fs.writeFileSync(path.join(h.stateDir, "quarantine"), "in the way\n");
    const { runner, close } = createAppRunner(a);
    const ac = new AbortController();
    let settled = false;
    const loop = runner.run(ac.signal).finally(() => (settled = true));
    const state = () => JSON.parse(a.store.kv.get("runner_state") ?? "null") as { totals: { failed: number; processed: number } } | null;
    try {
      const until = async (what: string, ok: () => boolean) => {
        const deadline = performance.now() + 20_000;
        while (!ok()) {
          if (settled) throw new Error(`the runner stopped while waiting for ${what}`);
          if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await new Promise((r) => setTimeout(r, 25));
        }
      };
      await until("a failed batch", () => (state()?.totals.failed ?? 0) >= 1);
      expect(eventIds(h)).toEqual([]);
      expect(state()!.totals.processed).toBe(0);
      fs.rmSync(path.join(h.stateDir, "quarantine"));
      await until("the batch to go through", () => eventIds(h).length === 3);
      expect(settled).toBe(false);
    } finally {
      ac.abort();
      await loop;
      close();
    }
    expect(eventIds(h)).toEqual(["telegram:6112:u:1000", "telegram:6112:u:1001", "telegram:6112:u:1002"]);
    expect(db(h, (d) => d.prepare("SELECT COUNT(*) FROM quarantine").pluck().get())).toBe(1);
    // Replies of the rolled-back attempts were never written: one receipt per event.
    const receipts = fs
      .readFileSync(path.join(h.stateDir, "outbox", "dry-run.ndjson"), "utf8")
      .trimEnd()
      .split("\n");
    expect(receipts).toHaveLength(3);
    expect(await inspectStream(nats.url, STREAM)).toMatchObject({ messages: 0, consumer: { pending: 0, ackPending: 0 } });
  }, 40_000);

  it("a stream and consumer deleted under a running runner are made again; events published since are processed", async () => {
    const h = natsHome();
    const a = open(h);
    await publish(a, 1);
    const { runner, close } = createAppRunner(a);
    try {
      expect((await runner.drain()).reduce((n, r) => n + r.processed, 0)).toBe(1);
      await deleteAllStreams(nats.url);
      await publish(a, 2, 1);
      expect((await runner.drain()).reduce((n, r) => n + r.processed, 0)).toBe(2);
    } finally {
      close();
    }
    expect(eventIds(h)).toEqual(["telegram:6112:u:1000", "telegram:6112:u:1001", "telegram:6112:u:1002"]);
    expect(await inspectStream(nats.url, STREAM)).toMatchObject({ messages: 0, consumer: { pending: 0, ackPending: 0 } });
  });

  it("quarantines bad messages (file + row, stream name and sequence) and terminates them; the good ones go through", async () => {
    const h = natsHome("  max_line_bytes: 4096\n");
    const a = open(h);
    await ensureStream(a);
    const good = makeDm("7001", { event_id: "telegram:6112:u:7001" });
    const seqs = {
      json: (await publishRaw(nats.url, "tau.ingress.telegram", "{not json", "q-1")).seq,
      version: (await publishRaw(nats.url, "tau.ingress.telegram", JSON.stringify({ ...good, v: 2, event_id: "x:2" }), "q-2")).seq,
      mismatch: (
        await publishRaw(
          nats.url,
          "tau.ingress.telegram",
          JSON.stringify(makeEnvelope({ event_id: "discord:c:9", transport: "discord", provider: "discord-gateway" })),
          "q-3",
        )
      ).seq,
      utf8: (await publishRaw(nats.url, "tau.ingress.telegram", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), "q-4")).seq,
      large: (await publishRaw(nats.url, "tau.ingress.telegram", JSON.stringify({ ...good, text: "x".repeat(5000) }), "q-5")).seq,
      good: (await publishRaw(nats.url, "tau.ingress.telegram", JSON.stringify(good), good.event_id)).seq,
    };
    const { runner, close } = createAppRunner(a);
    try {
      const reports = await runner.drain();
      expect(reports.reduce((n, r) => n + r.quarantined, 0)).toBe(5);
      expect(reports.reduce((n, r) => n + r.processed, 0)).toBe(1);
    } finally {
      close();
    }
    expect(eventIds(h)).toEqual(["telegram:6112:u:7001"]);
    const rows = db(h, (d) => d.prepare("SELECT file, line_no, reason FROM quarantine ORDER BY line_no").all());
    expect(rows).toEqual([
      { file: STREAM, line_no: seqs.json, reason: "ingress_malformed_json" },
      { file: STREAM, line_no: seqs.version, reason: "ingress_schema_version_unsupported" },
      { file: STREAM, line_no: seqs.mismatch, reason: "ingress_transport_mismatch" },
      { file: STREAM, line_no: seqs.utf8, reason: "ingress_invalid_utf8" },
      { file: STREAM, line_no: seqs.large, reason: "ingress_line_too_large" },
    ]);
    const qfile = fs
      .readFileSync(path.join(h.stateDir, "quarantine", "telegram.ndjson"), "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { file: string; line: number; reason: string });
    expect(qfile.map((q) => [q.file, q.line, q.reason])).toEqual(
      rows.map((r) => [(r as { file: string }).file, (r as { line_no: number }).line_no, (r as { reason: string }).reason]),
    );
    // Terminated, not redelivered: the work queue is empty and nothing waits for an ack.
    expect(await inspectStream(nats.url, STREAM)).toMatchObject({ messages: 0, consumer: { pending: 0, ackPending: 0 } });
  });

  it("a redelivered webhook is a duplicate: within the stream's window by Nats-Msg-Id, beyond it by the dedupe table", async () => {
    // An operator-made stream with a short duplicate window (tau uses an existing stream as it is).
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({
        name: STREAM,
        subjects: ["tau.ingress.>"],
        storage: StorageType.File,
        retention: RetentionPolicy.Workqueue,
        duplicate_window: 300 * 1_000_000,
      });
    } finally {
      await nc.close();
    }
    const h = natsHome();
    const a = open(h);
    const w = openIngressWriter(a, true);
    await w.append("telegram", [dm(1)]);
    await w.append("telegram", [dm(1)]); // within the window: the stream keeps one
    expect((await inspectStream(nats.url, STREAM)).lastSeq).toBe(1);
    const { runner, close } = createAppRunner(a);
    try {
      expect((await runner.drain()).reduce((n, r) => n + r.processed, 0)).toBe(1);
      // Past the window the stream takes it again; the runner's dedupe table does not.
      await new Promise((r) => setTimeout(r, 600));
      await w.append("telegram", [dm(1)]);
      expect((await inspectStream(nats.url, STREAM)).lastSeq).toBe(2);
      const again = await runner.drain();
      expect(again.reduce((n, r) => n + r.processed, 0)).toBe(0);
      expect(again.reduce((n, r) => n + r.duplicates, 0)).toBe(1);
    } finally {
      close();
      await w.close();
    }
    expect(eventIds(h)).toEqual(["telegram:6112:u:1001"]);
    expect(db(h, (d) => d.prepare("SELECT COUNT(*) FROM outbox").pluck().get())).toBe(1);
    expect(await inspectStream(nats.url, STREAM)).toMatchObject({ messages: 0, consumer: { pending: 0, ackPending: 0 } });
  });

  it("run() waits on a fetch that expires and picks up an event another node published, with no wake-up", async () => {
    const h = natsHome();
    const a = open(h);
    const { runner, close } = createAppRunner(a);
    const ac = new AbortController();
    const loop = runner.run(ac.signal);
    try {
      // Published by a separate writer (as another node's webhook would): nothing calls runner.wake().
      const other = natsHome();
      const b = open(other);
      await publish(b, 3);
      const deadline = performance.now() + 20_000;
      while (eventIds(h).length < 3 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(eventIds(h)).toEqual(["telegram:6112:u:1000", "telegram:6112:u:1001", "telegram:6112:u:1002"]);
    } finally {
      ac.abort();
      await loop;
      close();
    }
  }, 30_000);

  it("`tau process --once` with JetStream unreachable fails naming it, instead of reporting an empty queue", async () => {
    const port = await freePort(); // nothing listens there
    const h = makeTauHome(`ingress:\n  driver: nats\n  nats_url: "nats://127.0.0.1:${port}"\n`);
    homes.push(h);
    const r = await runTau(["process", "--once", "--json", "--state-dir", h.stateDir, "--config", h.configPath]);
    expect(r.code).toBe(1);
    expect(r.json()).toEqual({
      ok: false,
      error: {
        code: "INGRESS_NATS_UNAVAILABLE",
        message: `cannot connect to NATS at nats://127.0.0.1:${port}: connection refused`,
        hint: "start nats-server with JetStream on (-js), or fix ingress.nats_url",
        details: {},
      },
    });
  }, 60_000);

  it("`tau traces` and `tau events` show what the runner processed from the stream", async () => {
    const h = natsHome();
    const a = open(h);
    await publish(a, 2);
    const { runner, close } = createAppRunner(a);
    try {
      await runner.drain();
    } finally {
      close();
    }
    const traces = await runTau(["traces", "--json", "--state-dir", h.stateDir, "--config", h.configPath]);
    expect(traces.code).toBe(0);
    expect(traces.json<{ event_id: string; outcome: string }[]>().map((t) => t.event_id)).toEqual([
      "telegram:6112:u:1000",
      "telegram:6112:u:1001",
    ]);
    const events = await runTau(["events", "--json", "--state-dir", h.stateDir, "--config", h.configPath]);
    expect(events.code).toBe(0);
    const cycles = events
      .json<{ event: string; detail: { processed: number; queue_depth: number } }[]>()
      .filter((e) => e.event === "runner.cycle");
    expect(cycles.map((c) => [c.detail.processed, c.detail.queue_depth])).toEqual([[2, 0]]);
  }, 60_000);
});
