/**
 * The runner on PostgreSQL reads per batch, not per event. Every statement the synchronous bridge sends is a round
 * trip to the server (~0.2 ms here, more across a network), so the batch's lookups — dedupe, the actors' admissions
 * and aliases — are read ahead in one statement each, and its writes go out together at the commit. Counted with the
 * bridge's round-trip counter: a batch four times larger costs no more round trips (before: about three per event).
 */
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createAppRunner, openApp, openIngressWriter, type App } from "../../src/app/index.ts";
import { createLogger } from "../../src/log.ts";
import { appendAudit, verifyAudit } from "../../src/audit/audit-log.ts";
import { PgBridge } from "../../src/store/pg/bridge.ts";
import { multiRowParts, PgDb } from "../../src/store/pg/pg-db.ts";
import { makeDm, makeEnvelope } from "../helpers/envelope-factory.ts";
import { deleteAllStreams, startNats, type TestNats } from "../helpers/nats.ts";
import { postgresForFile } from "../helpers/postgres.ts";
import { startTelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";
import type { Envelope } from "../../src/contracts/envelope.ts";

const server = postgresForFile();
const homes: TauHome[] = [];
const apps: App[] = [];
afterEach(() => {
  for (const a of apps.splice(0)) a.close();
  for (const h of homes.splice(0)) h.cleanup();
});

/** Admission by allowlist or pairing: every DM's actor is looked up (the realistic policy). */
const POLICY = `schema_version: 1
defaultPolicy: { dmPolicy: allow, allowFrom: allowlist_or_pairing, groupPolicy: allow, requireMention: true }
`;

/** `n` events: DMs from distinct (allowlisted) actors, group mentions, and redelivered copies. */
function stream(n: number): { events: Envelope[]; actors: string[] } {
  const events: Envelope[] = [];
  const actors: string[] = [];
  for (let i = 0; i < n; i++) {
    const actor = String(7000 + i);
    actors.push(actor);
    if (i % 5 === 4)
      events.push(makeEnvelope({ event_id: `telegram:6112:u:${i}`, actor: { id: actor }, text: `@tau_ops_bot status ${i}` }));
    else events.push(makeDm(actor, { event_id: `telegram:6112:u:${i}`, text: `hello ${i}` }));
    // A webhook delivered twice: the copy is a duplicate within the same batch.
    if (i % 10 === 3) events.push(events.at(-1)!);
  }
  return { events, actors };
}

/** An app on a fresh PostgreSQL database (closed and removed after the test). */
async function openPgApp(yaml: string, files: Record<string, string> = {}): Promise<{ app: App; url: string }> {
  const url = await server().createDatabase();
  const h = makeTauHome(`${yaml}store:\n  driver: postgres\n`, files);
  homes.push(h);
  const app = openApp({
    stateDir: h.stateDir,
    configPath: h.configPath,
    env: { TAU_DATABASE_URL: url },
    logger: createLogger({ level: "silent", includeIdentifiers: false }),
  });
  apps.push(app);
  return { app, url };
}

/** Allowlist the Telegram actors (the realistic policy admits them by allowlist). */
function allow(app: App, actors: readonly string[]): void {
  app.store.atomically(() => {
    for (const a of actors)
      app.store.access.addAllowlist({
        actor_key: `telegram:${a}`,
        transport: "telegram",
        actor_id: a,
        note: "",
        added_by: "test",
        added_at_ms: 0,
      });
  });
}

/** Queue provider replies to Telegram (`ob_1` to chat 1001, the others to 1002), each with its chunks' bodies. */
function queueProviderReplies(store: App["store"], replies: readonly (readonly [string, readonly string[]])[]): void {
  store.atomically(() => {
    for (const [id, chunks] of replies) {
      store.outbox.insert(
        {
          outbox_id: id,
          event_id: `ev:${id}`,
          transport: "telegram",
          account_id: "bot_1",
          conversation_id: id === "ob_1" ? "1001" : "1002",
          thread_id: null,
          reply_to: null,
          mode: "provider",
          purpose: "reply",
          status: "queued",
          reason: null,
          chunk_count: chunks.length,
        },
        1000,
      );
      chunks.forEach((body, idx) =>
        store.outbox.insertChunk({ outbox_id: id, idx, body, status: "queued", reason: null, receipt: null }, 1000),
      );
    }
  });
}

/** Round trips to PostgreSQL while `tau process --once`'s runner drains `n` events (one batch), and its reports. */
async function drainRoundTrips(n: number): Promise<{ roundTrips: number; processed: number; duplicates: number; replies: number }> {
  const { app, url } = await openPgApp("runner:\n  coalesce_window_ms: 0\n", { "channel-policy.yaml": POLICY });
  const { events, actors } = stream(n);
  allow(app, actors);
  const w = openIngressWriter(app);
  await w.append("telegram", events);
  await w.close();
  const r = createAppRunner(app);
  try {
    const before = PgBridge.roundTrips;
    const reports = await r.runner.drain();
    const roundTrips = PgBridge.roundTrips - before;
    const sum = (k: "processed" | "duplicates" | "replies") => reports.reduce((a, x) => a + x[k], 0);
    // What was decided is in the shared store: one trace per distinct event.
    const db = new PgDb(url);
    try {
      expect(db.prepare("SELECT COUNT(*) FROM events").pluck().get()).toBe(n);
    } finally {
      db.close();
    }
    return { roundTrips, processed: sum("processed"), duplicates: sum("duplicates"), replies: sum("replies") };
  } finally {
    r.close();
  }
}

describe("the runner's round trips to PostgreSQL", () => {
  it("a busy cycle is four: the batch's lookups with its BEGIN, its writes with its COMMIT, the claim of replies to deliver (with their chunks), its telemetry", async () => {
    const { app } = await openPgApp("runner:\n  coalesce_window_ms: 0\n", { "channel-policy.yaml": POLICY });
    const { events, actors } = stream(20);
    allow(app, actors);
    const w = openIngressWriter(app);
    const r = createAppRunner(app);
    try {
      await w.append("telegram", events.slice(0, 10));
      expect(await r.runner.cycle()).toMatchObject({ processed: 9, duplicates: 1, replies: 9 });
      await w.append("telegram", events.slice(10));
      const before = PgBridge.roundTrips;
      expect(await r.runner.cycle()).toMatchObject({ processed: 11, duplicates: 1, replies: 11, delivery: { retries: 0 } });
      // Was twelve: four more lookups, every counter read twice (the report's delivery failures), a count of the
      // retries due, and a look for queued capability jobs (now: after a batch that queued one, else once a second).
      expect(PgBridge.roundTrips - before).toBe(4);
    } finally {
      r.close();
      await w.close();
    }
  });

  it("do not grow with the events of a batch: dedupe, admissions and aliases are read once per batch", async () => {
    const small = await drainRoundTrips(50);
    const large = await drainRoundTrips(200);
    expect(small).toMatchObject({ processed: 50, duplicates: 5 });
    expect(large).toMatchObject({ processed: 200, duplicates: 20 });
    // Every event (DM or mention) is admitted and answered, in the batch's transaction.
    expect(small.replies).toBe(50);
    expect(large.replies).toBe(200);
    // Per event before: a dedupe read, an alias read and an admission read (each a round trip) — 450+ more here.
    expect(large.roundTrips - small.roundTrips).toBeLessThanOrEqual(5);
    expect(large.roundTrips).toBeLessThan(60);
  });
});

describe("a JetStream runner's busy cycle on PostgreSQL, provider mode", () => {
  let nats: TestNats;
  beforeAll(async () => {
    nats = await startNats();
  }, 30_000);
  afterAll(async () => {
    await deleteAllStreams(nats.url).catch(() => {});
    await nats?.stop();
  });

  it("claims the replies to send with its batch's COMMIT: lookups, writes + claim, sending marks, results, telemetry — five", async () => {
    const tg = await startTelegramBotApiServer();
    try {
      const url = await server().createDatabase();
      const h = makeTauHome(
        `runner:\n  coalesce_window_ms: 0\nstore:\n  driver: postgres\noutbound:\n  mode: provider\n` +
          `connectors:\n  telegram: { api_root: ${tg.url} }\n` +
          `ingress:\n  driver: nats\n  nats_url: "${nats.url}"\n  stream: TAU_RT\n`,
        { "channel-policy.yaml": POLICY },
      );
      homes.push(h);
      // A clock that stands still: the second cycle's telemetry is held for a later batch (it commits within a second).
      const app = openApp({
        stateDir: h.stateDir,
        configPath: h.configPath,
        env: { TAU_DATABASE_URL: url, TAU_TELEGRAM_BOT_TOKEN: tg.token },
        logger: createLogger({ level: "silent", includeIdentifiers: false }),
        clock: () => 1_796_000_000_000,
      });
      apps.push(app);
      const { events, actors } = stream(12);
      allow(app, actors);
      const w = openIngressWriter(app, true);
      const r = createAppRunner(app);
      try {
        await w.append("telegram", events.slice(0, 6));
        // Six webhooks, one redelivered (the stream drops the copy by its Nats-Msg-Id): five events.
        expect(await r.runner.cycle()).toMatchObject({ processed: 5, replies: 5, failed: 0 });
        expect(tg.callsTo("sendMessage")).toHaveLength(5);
        await w.append("telegram", events.slice(6));
        const before = PgBridge.roundTrips;
        expect(await r.runner.cycle()).toMatchObject({ processed: 7, replies: 7, failed: 0 });
        // The batch's lookups with its BEGIN · its writes, the pass's claim (with the claimed rows' chunks) and COMMIT ·
        // the seven rows marked sending · their results · the cycle's telemetry (its verdict moved since the first
        // cycle, so it is not held for a later batch). Was six: the pass claimed in a round trip of its own.
        expect(PgBridge.roundTrips - before).toBe(5);
        expect(tg.callsTo("sendMessage")).toHaveLength(12);
        const db = new PgDb(url);
        try {
          expect(db.prepare("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status").all()).toEqual([{ status: "sent", n: 12 }]);
        } finally {
          db.close();
        }
      } finally {
        r.close();
        await w.close();
      }
    } finally {
      await tg.close();
    }
  });
});

describe("the store's hot units of work on PostgreSQL", () => {
  it("claiming replies is three round trips; three audit appends in one unit of work are two", async () => {
    const { store } = (await openPgApp("")).app;
    queueProviderReplies(store, [
      ["ob_1", ["hi"]],
      ["ob_2", ["hi"]],
    ]);
    let before = PgBridge.roundTrips;
    const claimed = store.outbox.claimPending("node-a", 2000, 60_000, 10);
    // Anything claimable? · BEGIN, the claim lock and the claim · COMMIT (was five: BEGIN and the lock on their own).
    expect(PgBridge.roundTrips - before).toBe(3);
    expect(claimed.map((r) => r.outbox_id)).toEqual(["ob_1", "ob_2"]);

    const entry = (action: string) => ({
      actor: "telegram:42",
      surface: "chat" as const,
      action,
      target: "tau",
      args: {},
      outcome: "reported",
      reason_code: "command_whoami",
    });
    appendAudit(store, entry("first"), 3000);
    before = PgBridge.roundTrips;
    store.atomically(() => {
      for (const a of ["one", "two", "three"]) appendAudit(store, entry(a), 4000);
    });
    // BEGIN, the append lock and the tip's read · the three rows, the head and COMMIT. (Was a savepoint's round trip per
    // append, with the lock and the tip read again each time.)
    expect(PgBridge.roundTrips - before).toBe(2);
    expect(verifyAudit(store)).toMatchObject({ ok: true, rows: 4 });
  });
});

describe("a delivery pass's claim on PostgreSQL", () => {
  it("takes the rows and their chunks in one round trip that does not block the thread; an idle claim takes nothing", async () => {
    const { app, url } = await openPgApp("");
    const { store } = app;
    queueProviderReplies(store, [
      ["ob_1", ["one"]],
      ["ob_2", ["two a", "two b"]],
    ]);
    // Another node is claiming (it holds the claim lock): this claim waits for it — without stopping this thread.
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    try {
      await other.query("BEGIN");
      await other.query("SELECT pg_advisory_xact_lock(7315014)");
      const before = PgBridge.roundTrips;
      const claiming = store.outbox.claimPendingWithChunks("node-a", 2000, 60_000, 10);
      let ticks = 0;
      const timer = setInterval(() => (ticks += 1), 5);
      await new Promise((r) => setTimeout(r, 150));
      clearInterval(timer);
      // Before: an "anything claimable?" read, the claim, its COMMIT and the chunks' read — four blocking round trips.
      expect(ticks).toBeGreaterThanOrEqual(10);
      await other.query("COMMIT");
      const { rows, chunks } = await claiming;
      expect(PgBridge.roundTrips - before).toBe(1);
      expect(rows.map((r) => [r.outbox_id, r.chunk_count, r.attempts])).toEqual([
        ["ob_1", 1, 0],
        ["ob_2", 2, 0],
      ]);
      expect([...chunks].map(([id, cs]) => [id, cs.map((c) => [c.idx, c.body, c.status])])).toEqual([
        ["ob_1", [[0, "one", "queued"]]],
        [
          "ob_2",
          [
            [0, "two a", "queued"],
            [1, "two b", "queued"],
          ],
        ],
      ]);
      expect(store.outbox.claimOf("ob_2", 2000)).toEqual({ node: "node-a", until_ms: 62_000 });
      // Another node finds them taken; an idle claim is one round trip too and takes nothing.
      const b = await store.outbox.claimPendingWithChunks("node-b", 3000, 60_000, 10);
      expect(b).toEqual({ rows: [], chunks: new Map() });
    } finally {
      await other.end().catch(() => {});
    }
  });
});

describe("PgDb write batches", () => {
  it("one-row INSERTs queued in a transaction go out as one multi-row INSERT per table, in order, values intact", async () => {
    const url = await server().createDatabase();
    const db = new PgDb(url);
    try {
      db.exec("CREATE TABLE a (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v TEXT NOT NULL, n BIGINT)");
      db.exec("CREATE TABLE b (k TEXT PRIMARY KEY, v TEXT)");
      const insA = db.prepare("INSERT INTO a (v, n) VALUES (?, ?)");
      const insB = db.prepare("INSERT INTO b (k, v) VALUES (?, 'fixed ($9)')");
      const upd = db.prepare("UPDATE a SET n = n + 100 WHERE v = ?");
      const tricky = ["it's $1 -- not a comment", 'a "quoted" $2', "\u0001\u0002 codec bytes"];
      const before = PgBridge.roundTrips;
      const ids = db.transaction(() => {
        const results = tricky.map((v, i) => {
          const r = insA.run(v, i);
          insB.run(`k${i}`);
          return r;
        });
        // An UPDATE stays where it was: the rows before it are in; the row after it is not touched by it.
        upd.run(tricky[0]);
        const last = insA.run("after the update", 7);
        return [...results, last].map((r) => Number(r.lastInsertRowid));
      })();
      // The identity column's schema lookup (first INSERT into a), BEGIN with the queued writes — read back by
      // lastInsertRowid: a's three rows, b's three, the UPDATE, a again, in one round trip — and COMMIT.
      expect(PgBridge.roundTrips - before).toBe(3);
      expect(ids).toEqual([1, 2, 3, 4]);
      expect(db.prepare("SELECT id, v, n FROM a ORDER BY id").all()).toEqual([
        { id: 1, v: tricky[0], n: 100 },
        { id: 2, v: tricky[1], n: 1 },
        { id: 3, v: tricky[2], n: 2 },
        { id: 4, v: "after the update", n: 7 },
      ]);
      expect(db.prepare("SELECT k, v FROM b ORDER BY k").all()).toEqual(["k0", "k1", "k2"].map((k) => ({ k, v: "fixed ($9)" })));
    } finally {
      db.close();
    }
    // What merges: a plain one-row INSERT (literals with parentheses inside are part of its tuple); never an upsert.
    expect(multiRowParts("INSERT INTO b (k, v) VALUES ($1, 'fixed ($9)') RETURNING k")).toEqual({
      table: "b",
      head: "INSERT INTO b (k, v) VALUES ",
      tuple: "($1, 'fixed ($9)')",
      tail: " RETURNING k",
    });
    expect(multiRowParts("INSERT INTO b (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING")).toBeNull();
    expect(multiRowParts("INSERT INTO b (k, v) SELECT k, v FROM a")).toBeNull();
  });

  it("a unit of work of writes is one round trip (BEGIN, writes, COMMIT); one that did nothing sends nothing; a failed write rolls it all back", async () => {
    const url = await server().createDatabase();
    const db = new PgDb(url);
    try {
      db.exec("CREATE TABLE c (k TEXT PRIMARY KEY, n BIGINT NOT NULL)");
      const ins = db.prepare("INSERT INTO c (k, n) VALUES (?, ?)");
      const upd = db.prepare("UPDATE c SET n = n + 1 WHERE k = ?");
      const count = db.prepare<[], number>("SELECT COUNT(*) FROM c").pluck();
      // The statement's first run looks up the table's identity column (once per handle): not counted below.
      ins.run("z", 0);
      db.prepare("DELETE FROM c").run();
      let before = PgBridge.roundTrips;
      db.transaction(() => {
        ins.run("a", 1);
        ins.run("b", 2);
        upd.run("a");
      })();
      // Was three: BEGIN, the writes, COMMIT.
      expect(PgBridge.roundTrips - before).toBe(1);
      expect(db.prepare("SELECT k, n FROM c ORDER BY k").all()).toEqual([
        { k: "a", n: 2 },
        { k: "b", n: 2 },
      ]);

      before = PgBridge.roundTrips;
      expect(db.transaction(() => "nothing")()).toBe("nothing");
      expect(PgBridge.roundTrips - before).toBe(0);

      // A read inside: BEGIN goes out with it (the read sees the unit's own writes), COMMIT with the writes after it.
      before = PgBridge.roundTrips;
      const seen = db.transaction(() => {
        ins.run("c", 3);
        const n = count.get();
        upd.run("c");
        return n;
      })();
      expect(seen).toBe(3);
      expect(PgBridge.roundTrips - before).toBe(2);

      // The duplicate key fails the unit's one round trip: COMMIT never runs, nothing of it stays.
      expect(() =>
        db.transaction(() => {
          ins.run("d", 4);
          ins.run("a", 5);
        })(),
      ).toThrow(/duplicate key/);
      expect(db.inTransaction).toBe(false);
      expect(count.get()).toBe(3);
      // The connection is usable after the rollback, inside a transaction too.
      db.transaction(() => void ins.run("d", 4))();
      expect(count.get()).toBe(4);
    } finally {
      db.close();
    }
  });
});
