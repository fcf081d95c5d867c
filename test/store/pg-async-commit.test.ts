/**
 * A unit of work whose COMMIT does not block the thread (`store.atomicallyAsync`, PgDb.transactionAsync): on the
 * synchronous bridge every round trip used to stop the event loop — a webhook waited out each commit's fsync. Real
 * PostgreSQL: while the unit's statements wait on a row lock another session holds, timers still fire; statements sent
 * after it run after its COMMIT; a failed one is rolled back by the worker, so the next statement is not refused with
 * "current transaction is aborted".
 */
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { PgBridge, PostgresError } from "../../src/store/pg/bridge.ts";
import { PgDb } from "../../src/store/pg/pg-db.ts";
import { postgresForFile } from "../helpers/postgres.ts";

const server = postgresForFile();
const dbs: PgDb[] = [];
afterEach(() => {
  for (const d of dbs.splice(0)) d.close();
});

async function openDb(): Promise<{ db: PgDb; url: string }> {
  const url = await server().createDatabase();
  const db = new PgDb(url);
  dbs.push(db);
  db.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)");
  db.prepare("INSERT INTO t (k, v) VALUES (?, ?)").run("a", 1);
  return { db, url };
}

describe("an asynchronous commit on PostgreSQL", () => {
  it("does not block the thread: timers fire while its statements wait on another session's lock", async () => {
    const { db, url } = await openDb();
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    try {
      await other.query("BEGIN");
      await other.query("UPDATE t SET v = 10 WHERE k = 'a'");
      const update = db.prepare("UPDATE t SET v = v + ? WHERE k = ?");
      const trips = PgBridge.roundTrips;
      const committed = db.transactionAsync(() => {
        update.run(5, "a");
        db.prepare("INSERT INTO t (k, v) VALUES (?, ?)").run("b", 2);
        return "done";
      });
      // Before: the thread stood in Atomics.wait until the lock was released — no timer could fire.
      let ticks = 0;
      const timer = setInterval(() => (ticks += 1), 5);
      await new Promise((r) => setTimeout(r, 200));
      expect(ticks).toBeGreaterThanOrEqual(10);
      await other.query("COMMIT");
      expect(await committed).toBe("done");
      clearInterval(timer);
      // BEGIN, the two writes and COMMIT: one round trip.
      expect(PgBridge.roundTrips - trips).toBe(1);
      expect(db.prepare("SELECT k, v FROM t ORDER BY k").all()).toEqual([
        { k: "a", v: 15 },
        { k: "b", v: 2 },
      ]);
    } finally {
      await other.end();
    }
  });

  it("statements sent while it is under way run after its COMMIT and see its writes", async () => {
    const { db } = await openDb();
    const committed = db.transactionAsync(() => void db.prepare("UPDATE t SET v = ? WHERE k = ?").run(7, "a"));
    // Not awaited: the worker takes requests in order, so this read runs after the COMMIT.
    expect(db.prepare("SELECT v FROM t WHERE k = ?").pluck().get("a")).toBe(7);
    await committed;
    expect(db.inTransaction).toBe(false);
  });

  it("a failed one rejects, is rolled back whole, and the connection goes on (no 'current transaction is aborted')", async () => {
    const { db } = await openDb();
    const failed = db.transactionAsync(() => {
      db.prepare("UPDATE t SET v = ? WHERE k = ?").run(99, "a");
      db.prepare("INSERT INTO t (k, v) VALUES (?, ?)").run("a", 3); // duplicate key
    });
    // Sent before the failure is known: it must not run inside the aborted transaction.
    expect(db.prepare("SELECT v FROM t WHERE k = ?").pluck().get("a")).toBe(1);
    await expect(failed).rejects.toMatchObject({ name: "PostgresError", code: "23505" });
    await failed.catch((e: unknown) => expect(e).toBeInstanceOf(PostgresError));
    expect(db.prepare("SELECT COUNT(*) FROM t").pluck().get()).toBe(1);
    // A synchronous unit of work after it commits as usual.
    db.transaction(() => db.prepare("INSERT INTO t (k, v) VALUES (?, ?)").run("c", 4))();
    expect(db.prepare("SELECT COUNT(*) FROM t").pluck().get()).toBe(2);
  });

  it("a unit that wrote nothing sends nothing; inside an open unit of work it joins it", async () => {
    const { db } = await openDb();
    const trips = PgBridge.roundTrips;
    expect(await db.transactionAsync(() => 42)).toBe(42);
    expect(PgBridge.roundTrips - trips).toBe(0);
    let inner: Promise<void> | undefined;
    db.transaction(() => {
      inner = db.transactionAsync(() => void db.prepare("UPDATE t SET v = ? WHERE k = ?").run(8, "a"));
    })();
    await inner;
    expect(db.prepare("SELECT v FROM t WHERE k = ?").pluck().get("a")).toBe(8);
  });

  it("a queued read goes out with the unit's COMMIT, sees the unit's writes before it, and has its rows once that answered", async () => {
    const { db } = await openDb();
    const bump = db.prepare("UPDATE t SET v = v + ? WHERE k = ? RETURNING k, v");
    const read = db.prepare<[string], { k: string; v: number }>("SELECT k, v FROM t WHERE k >= ? ORDER BY k");
    const count = db.prepare<[], number>("SELECT COUNT(*) FROM t").pluck();
    // Outside a unit of work there is nothing to queue it in.
    expect(() => read.allQueued!("a")).toThrow(/unit of work/);
    const trips = PgBridge.roundTrips;
    let bumped: () => unknown[] = () => [];
    let rows: () => { k: string; v: number }[] = () => [];
    let n: () => number[] = () => [];
    const done = db.transactionAsync(() => {
      db.prepare("INSERT INTO t (k, v) VALUES (?, ?)").run("b", 2);
      bumped = bump.allQueued!(10, "a");
      rows = read.allQueued!("a");
      n = count.allQueued!();
    });
    // Not answered yet: asking now is an error, not an empty answer.
    expect(() => rows()).toThrow(/before its round trip answered/);
    await done;
    expect(PgBridge.roundTrips - trips).toBe(1);
    expect(bumped()).toEqual([{ k: "a", v: 11 }]);
    expect(rows()).toEqual([
      { k: "a", v: 11 },
      { k: "b", v: 2 },
    ]);
    expect(n()).toEqual([2]);
    // A unit that fails: its queued read gives the failure, not rows.
    let lost: () => unknown[] = () => [];
    const failed = db.transactionAsync(() => {
      db.prepare("INSERT INTO t (k, v) VALUES (?, ?)").run("a", 3); // duplicate key
      lost = read.allQueued!("a");
    });
    await expect(failed).rejects.toMatchObject({ code: "23505" });
    expect(() => lost()).toThrow(/duplicate key/);
  });
});
