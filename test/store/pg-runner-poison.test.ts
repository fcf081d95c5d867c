/**
 * One bad event on PostgreSQL does not hold up the others. PostgreSQL aborts the whole transaction when one statement
 * fails, so an event whose writes fail (here for real: a trigger in the test database raises on the outbox row of one
 * conversation) used to fail its whole batch — on the ingress files `tau process --once` stopped there every time, on
 * JetStream the batch came back after ack_wait forever. Now the batch is run again one event per savepoint: the bad
 * event is recorded as `event_processing_failed`, the good ones are processed and answered once, the runner moves on.
 * And a unit of work whose failed statement was caught inside never looks committed (COMMIT of an aborted transaction
 * is a quiet ROLLBACK on PostgreSQL).
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createAppRunner, openApp, openIngressWriter, type App } from "../../src/app/index.ts";
import { PgDb } from "../../src/store/pg/pg-db.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { deleteAllStreams, inspectStream, startNats, type TestNats } from "../helpers/nats.ts";
import { startPostgres, type TestPostgres } from "../helpers/postgres.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

const STREAM = "TAU_INGRESS";
let server: TestPostgres;
let nats: TestNats;
beforeAll(async () => {
  [server, nats] = await Promise.all([startPostgres(), startNats()]);
}, 120_000);
afterAll(async () => {
  await Promise.all([server?.stop(), nats?.stop()]);
});
const homes: TauHome[] = [];
const apps: App[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) a.close();
  for (const h of homes.splice(0)) h.cleanup();
  await deleteAllStreams(nats.url);
});

const BAD_ACTOR = "6660";

/** Rows of one statement on a fresh connection. */
function rows<T>(url: string, sql: string): T[] {
  const db = new PgDb(url);
  try {
    return db.prepare<[], T>(sql).all();
  } finally {
    db.close();
  }
}

/** A home on a fresh PostgreSQL database (migrated) whose outbox refuses any row to `BAD_ACTOR`'s conversation. */
async function poisonedHome(extraYaml = ""): Promise<{ h: TauHome; app: App; url: string }> {
  const url = await server.createDatabase();
  const h = makeTauHome(`runner:\n  coalesce_window_ms: 0\nstore:\n  driver: postgres\n${extraYaml}`);
  homes.push(h);
  const app = openApp({ stateDir: h.stateDir, configPath: h.configPath, env: { TAU_DATABASE_URL: url } });
  apps.push(app);
  const db = new PgDb(url);
  try {
    db.exec(
      `CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
         IF NEW.conversation_id = '${BAD_ACTOR}' THEN RAISE EXCEPTION 'poisoned conversation %', NEW.conversation_id; END IF;
         RETURN NEW; END $$;
       CREATE TRIGGER poison BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION poison();`,
    );
  } finally {
    db.close();
  }
  return { h, app, url };
}

/** Five DMs, the third from the bad actor, each asking for a reply. */
const dms = () =>
  ["5001", "5002", BAD_ACTOR, "5003", "5004"].map((actor, i) =>
    makeDm(actor, { event_id: `telegram:6112:u:${700 + i}`, received_at_ms: 1763712000500 + i, text: `hello ${i}` }),
  );
const GOOD = ["telegram:6112:u:700", "telegram:6112:u:701", "telegram:6112:u:703", "telegram:6112:u:704"];
const BAD = "telegram:6112:u:702";

/** The dry-run receipts written, as event ids (one per chunk; every reply here is one chunk). */
function receiptEvents(h: TauHome): string[] {
  const file = path.join(h.stateDir, "outbox", "dry-run.ndjson");
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { event_id: string }).event_id)
    .sort();
}

function expectOnlyTheBadOneFailed(url: string, h: TauHome): void {
  const events = rows<{ event_id: string; reason: string }>(url, "SELECT event_id, reason FROM events ORDER BY event_id");
  expect(events.map((e) => e.event_id)).toEqual([...GOOD, BAD].sort());
  expect(events.find((e) => e.event_id === BAD)!.reason).toBe("event_processing_failed");
  expect(events.filter((e) => e.reason === "event_processing_failed")).toHaveLength(1);
  // Each good event answered once (one outbox row, one receipt); nothing for the bad one.
  expect(rows<{ event_id: string }>(url, "SELECT event_id FROM outbox ORDER BY event_id").map((r) => r.event_id)).toEqual(GOOD);
  expect(receiptEvents(h)).toEqual(GOOD);
}

describe("a poison event on PostgreSQL", () => {
  it("ingress files: the good events commit and are answered once, the bad one is recorded failed, the cursor moves on", async () => {
    const { h, app, url } = await poisonedHome();
    const w = openIngressWriter(app);
    await w.append("telegram", dms());
    await w.close();

    const r = createAppRunner(app);
    try {
      const reports = await r.runner.drain();
      expect(reports.reduce((n, x) => n + x.processed, 0)).toBe(5);
      expect(reports.reduce((n, x) => n + x.failed, 0)).toBe(1);
      expect(reports.reduce((n, x) => n + x.replies, 0)).toBe(4);
      expect(reports.at(-1)!.queue_depth).toBe(0);
      // A second pass finds nothing left: the batch is not retried, nothing answered twice.
      const again = await r.runner.drain();
      expect(again.reduce((n, x) => n + x.processed + x.failed + x.duplicates, 0)).toBe(0);
    } finally {
      r.close();
    }
    expectOnlyTheBadOneFailed(url, h);
    const trace = rows<{ decisions: string }>(url, `SELECT decisions FROM events WHERE event_id = '${BAD}'`)[0]!.decisions;
    expect(trace).toContain("poisoned conversation");
  });

  it("JetStream: the batch is acknowledged (not redelivered forever); the good events answered once, the bad one failed", async () => {
    const { h, app, url } = await poisonedHome(
      `ingress:\n  driver: nats\n  nats_url: "${nats.url}"\n  stream: ${STREAM}\n  nats_ack_wait_ms: 1000\n`,
    );
    const w = openIngressWriter(app, true);
    await w.append("telegram", dms());
    await w.close();

    const r = createAppRunner(app);
    try {
      const reports = await r.runner.drain();
      expect(reports.reduce((n, x) => n + x.processed, 0)).toBe(5);
      expect(reports.reduce((n, x) => n + x.failed, 0)).toBe(1);
    } finally {
      r.close();
    }
    expectOnlyTheBadOneFailed(url, h);
    expect(await inspectStream(nats.url, STREAM)).toMatchObject({ messages: 0, consumer: { pending: 0, ackPending: 0, redelivered: 0 } });
  });
});

describe("PgDb transactions", () => {
  it("a statement failure caught inside a unit of work fails the unit (SQLSTATE 25P02) instead of a quiet rollback", async () => {
    const url = await server.createDatabase();
    const db = new PgDb(url);
    try {
      db.exec("CREATE TABLE t (v INTEGER)");
      const insert = db.prepare("INSERT INTO t (v) VALUES (?)");
      const divide = db.prepare("SELECT 1 / ? AS x");
      expect(() =>
        db.transaction(() => {
          insert.run(1);
          try {
            divide.get(0);
          } catch {
            /* swallowed by the caller, as a pipeline stage might */
          }
        })(),
      ).toThrow(expect.objectContaining({ code: "25P02", message: expect.stringMatching(/division by zero/) }));
      expect(db.prepare("SELECT COUNT(*) AS n FROM t").pluck().get()).toBe(0);

      // A savepoint rolled back past the failure leaves the enclosing unit of work whole: it commits.
      db.transaction(() => {
        insert.run(2);
        expect(() =>
          db.transaction(() => {
            insert.run(3);
            divide.get(0);
          })(),
        ).toThrow(/division by zero/);
        insert.run(4);
      })();
      expect(db.prepare("SELECT v FROM t ORDER BY v").pluck().all()).toEqual([2, 4]);
    } finally {
      db.close();
    }
  });
});
