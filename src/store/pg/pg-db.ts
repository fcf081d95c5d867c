/**
 * @module The `Db` handle (db.ts) on PostgreSQL: the subset of better-sqlite3's API the store files use, over the
 * synchronous bridge. `prepare` translates the SQLite statement once (translate.ts) and runs it as a named prepared
 * statement; `transaction(fn)` is BEGIN/COMMIT (nested: SAVEPOINT), rolled back when `fn` throws, as better-sqlite3
 * does; `.changes` is the row count; `.lastInsertRowid` comes from `RETURNING <identity column>` on tables that have
 * one. Inside a transaction, writes are queued and sent together with the next read (or savepoint, or commit) in one
 * round trip — their `.changes` is computed on demand. SQLite-only pragmas are no-ops here (`secure_delete`,
 * `wal_checkpoint`) or answered (`data_version`: the cluster's transaction snapshot, which moves whenever any node
 * writes).
 */
import type { Db, DbRunResult, DbStatement, DbTransaction } from "../db.ts";
import { PgBridge, PostgresError, type BridgeOptions } from "./bridge.ts";
import { appendBeforeReturning, translate, type ParamSource, type Translated } from "./translate.ts";

interface Prepared {
  t: Translated;
  name: string;
  /** Resolved on first run of an INSERT/REPLACE (needs the schema): the final text. */
  final: string | null;
  returningId: string | null;
  /** For a plain one-row `INSERT … VALUES (…)` (no ON CONFLICT): its parts, to send many as one statement; null: not one. */
  rows?: MultiRow | null;
}

/** A one-row INSERT split around its VALUES tuple: `head` + tuple(s) + `tail`. */
interface MultiRow {
  table: string;
  head: string;
  tuple: string;
  tail: string;
}

/**
 * The parts of `sql` when it is a plain one-row `INSERT INTO t (…) VALUES (…)` optionally followed by
 * `RETURNING <column>` — rows of such statements can go out as one multi-row INSERT — else null.
 */
export function multiRowParts(sql: string): MultiRow | null {
  const m = sql.match(/^INSERT INTO (\w+) \([^()]*\) VALUES \(/i);
  if (!m) return null;
  let depth = 1;
  let i = m[0].length;
  for (; i < sql.length && depth > 0; i++) {
    const c = sql[i]!;
    if (c === "'") {
      const j = sql.indexOf("'", i + 1);
      if (j < 0) return null;
      i = j;
    } else if (c === "(") depth++;
    else if (c === ")") depth--;
  }
  if (depth !== 0) return null;
  const tail = sql.slice(i);
  if (!/^(\s+RETURNING\s+\w+)?\s*$/i.test(tail)) return null;
  return { table: m[1]!.toLowerCase(), head: m[0].slice(0, -1), tuple: sql.slice(m[0].length - 1, i), tail };
}

/** `tuple` with each `$n` outside string literals moved up by `by`. */
function shiftParams(tuple: string, by: number): string {
  if (by === 0) return tuple;
  return tuple.replace(/'(?:[^']|'')*'|\$(\d+)/g, (all, n: string | undefined) => (n === undefined ? all : `$${Number(n) + by}`));
}

function bind(params: ParamSource[], args: unknown[]): unknown[] {
  const flat = args.length === 1 && Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
  const named =
    flat.length === 1 && flat[0] !== null && typeof flat[0] === "object" && !Buffer.isBuffer(flat[0]) && !(flat[0] instanceof Uint8Array);
  return params.map((p) => {
    if (p.kind === "named") {
      if (!named) throw new RangeError(`Missing named parameter "${p.name}"`);
      const obj = flat[0] as Record<string, unknown>;
      if (!(p.name in obj)) throw new RangeError(`Missing named parameter "${p.name}"`);
      return value(obj[p.name]);
    }
    if (p.index >= flat.length) throw new RangeError("Too few parameter values were provided");
    return value(flat[p.index]);
  });
}

function value(v: unknown): unknown {
  if (v === undefined) return null;
  if (typeof v === "boolean") throw new TypeError("SQLite3 can only bind numbers, strings, bigints, buffers, and null");
  // PostgreSQL text cannot hold U+0000 (SQLite can): a provider's text quoting one is stored with U+FFFD in its place.
  if (typeof v === "string" && v.includes("\u0000")) return v.replaceAll("\u0000", "\ufffd");
  return v;
}

/** Rows come from the worker by structured clone: bytea arrives as Uint8Array; better-sqlite3 gives Buffers. */
function fixRow(row: Record<string, unknown>): Record<string, unknown> {
  for (const k in row) {
    const v = row[k];
    if (v instanceof Uint8Array && !Buffer.isBuffer(v)) row[k] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
  return row;
}

class PgStatement implements DbStatement<unknown[], unknown> {
  private plucked = false;
  constructor(
    private readonly db: PgDb,
    private readonly p: Prepared,
  ) {}

  pluck(toggle = true): this {
    this.plucked = toggle;
    return this;
  }

  private exec(args: unknown[]) {
    return this.db.runPrepared(this.p, bind(this.p.t.params, args));
  }

  private shape(row: Record<string, unknown>): unknown {
    fixRow(row);
    if (!this.plucked) return row;
    for (const k in row) return row[k];
    return undefined;
  }

  run(...args: unknown[]): DbRunResult {
    const values = bind(this.p.t.params, args);
    if (this.db.inTransaction) return this.db.defer(this.p, values);
    return runResult(this.p, this.db.runPrepared(this.p, values));
  }

  get(...args: unknown[]): unknown {
    const r = this.exec(args);
    return r.rows.length > 0 ? this.shape(r.rows[0]!) : undefined;
  }

  all(...args: unknown[]): unknown[] {
    return this.exec(args).rows.map((row) => this.shape(row));
  }

  iterate(...args: unknown[]): IterableIterator<unknown> {
    return this.all(...args)[Symbol.iterator]();
  }

  allQueued(...args: unknown[]): () => unknown[] {
    const d = this.db.queueRead(this.p, bind(this.p.t.params, args));
    return () => {
      if (d.error !== null) throw d.error;
      if (!d.rows) throw new Error("a queued read was asked for its rows before its round trip answered");
      return d.rows.map((row) => this.shape(row));
    };
  }
}

/** Each queued write's result from its statement's: one statement may have sent several (a multi-row INSERT). */
function settle(covers: Deferred[][], results: { rows: Record<string, unknown>[]; rowCount: number }[]): void {
  covers.forEach((ds, i) => {
    const r = results[i] ?? { rows: [], rowCount: 0 };
    if (ds.length === 1) {
      ds[0]!.result = runResult(ds[0]!.p, r);
      if (ds[0]!.rows === null) ds[0]!.rows = r.rows;
    } else
      ds.forEach((d, k) => {
        // One row each (a plain INSERT either inserts its row or fails the statement), RETURNING rows in order.
        const id = d.p.returningId ? Number(r.rows[k]?.[d.p.returningId] ?? 0) : 0;
        d.result = { changes: 1, lastInsertRowid: id };
      });
  });
}

function runResult(p: Prepared, r: { rows: Record<string, unknown>[]; rowCount: number }): DbRunResult {
  let lastInsertRowid = 0;
  if (p.returningId && r.rows.length > 0) lastInsertRowid = Number(r.rows.at(-1)![p.returningId] ?? 0);
  return { changes: r.rowCount, lastInsertRowid };
}

/** A write queued inside a transaction; its result is read (forcing the queue out) only if someone asks. */
interface Deferred {
  p: Prepared;
  values: unknown[];
  result: DbRunResult | null;
  error: unknown;
  /** A queued read (`allQueued`): null until its round trip answers, then its rows; absent on writes. */
  rows?: Record<string, unknown>[] | null;
}

export class PgDb implements Db {
  readonly dialect = "postgres" as const;
  readonly bridge: PgBridge;
  private depth = 0;
  private isOpen = true;
  private readonly cache = new Map<string, Prepared>();
  private identity: Map<string, string> | null = null;
  private keys = new Map<string, string[]>();
  private seq = 0;
  /**
   * Writes inside a transaction (`run`) wait here and go out together, in order, in one round trip before the next
   * read, savepoint, commit — or when their `.changes`/`.lastInsertRowid` is read. A failure surfaces there, inside the
   * same transaction (or savepoint), which PostgreSQL has aborted anyway; the transaction then rolls back as usual.
   */
  private pending: Deferred[] = [];
  /**
   * The first statement error inside the open transaction that no savepoint has rolled back yet. PostgreSQL has then
   * aborted the transaction (every later statement fails, and COMMIT quietly rolls back), so the unit of work must not
   * look committed: its end throws this instead (SQLite would have gone on; here the caller learns it did not).
   */
  private aborted: unknown = null;
  /**
   * The outer transaction's BEGIN while it waits in `pending` (not yet sent): it goes out with the unit of work's first
   * statement, and its COMMIT with the last writes — a unit of work of writes is one round trip, not three; one that
   * did nothing sends nothing.
   */
  private begin: Deferred | null = null;
  private epoch = 0;

  constructor(url: string | null, opts: BridgeOptions = {}, missing: Error | null = null) {
    this.bridge = new PgBridge(url, opts, missing);
  }

  get inTransaction(): boolean {
    return this.depth > 0;
  }

  /** Changes at every BEGIN and every rollback, whole or to a savepoint (see `Db.unitEpoch`). */
  get unitEpoch(): number {
    return this.epoch;
  }

  get open(): boolean {
    return this.isOpen;
  }

  /** Where the store lives, for messages (`host:port/db`, never the password). */
  get target(): string {
    return this.bridge.target;
  }

  prepare<P extends unknown[] | {} = unknown[], R = unknown>(
    source: string,
  ): P extends unknown[] ? DbStatement<P, R> : DbStatement<[P], R> {
    type Out = P extends unknown[] ? DbStatement<P, R> : DbStatement<[P], R>;
    // SQLite's data_version changes when another connection commits. Here: the cluster's transaction snapshot
    // (xmin:xmax:in-progress ids), which changes whenever any session anywhere starts or ends a writing transaction.
    if (/^\s*PRAGMA\s+data_version\s*;?\s*$/i.test(source)) source = "SELECT pg_current_snapshot()::text AS data_version";
    let p = this.cache.get(source);
    if (!p) {
      const t = translate(source);
      p = { t, name: `tau_${++this.seq}`, final: t.insertInto ? null : t.text, returningId: null };
      this.cache.set(source, p);
    }
    return new PgStatement(this, p) as unknown as Out;
  }

  /**
   * Queue a read inside a unit of work, as a write is queued: it goes out, in order, with the unit's next round trip —
   * its COMMIT's, for `transactionAsync` — and its rows are kept for the caller (`allQueued`). Outside one: an error.
   */
  queueRead(p: Prepared, values: unknown[]): Deferred {
    if (this.depth === 0) throw new Error("a queued read belongs in a unit of work (transaction or transactionAsync)");
    const d: Deferred = { p, values, result: null, error: null, rows: null };
    this.pending.push(d);
    return d;
  }

  /** Queue a write inside a transaction; the result's fields send the queue when read. */
  defer(p: Prepared, values: unknown[]): DbRunResult {
    if (p.final === null) this.finishInsert(p);
    const d: Deferred = { p, values, result: null, error: null };
    this.pending.push(d);
    const settle = (): DbRunResult => {
      if (!d.result && d.error === null) this.flush();
      if (d.error !== null) throw d.error;
      return d.result!;
    };
    return {
      get changes() {
        return settle().changes;
      },
      get lastInsertRowid() {
        return settle().lastInsertRowid;
      },
    };
  }

  /**
   * Send the queued writes (one round trip); throws the first failure. `then`: a statement to run right after them in
   * the same round trip (the read that forced them out); its result is returned — null when nothing was queued.
   */
  flush(then?: { sql: string; params: unknown[] }): { rows: Record<string, unknown>[]; rowCount: number } | null {
    if (this.pending.length === 0) return null;
    const batch = this.pending;
    this.pending = [];
    const begins = batch[0] !== undefined && batch[0] === this.begin;
    if (begins) this.begin = null;
    try {
      const { items, covers } = this.statementsOf(batch);
      if (then) items.push({ sql: then.sql, params: then.params, name: "" });
      const results = this.guard(() => this.bridge.batch(items, true, begins));
      settle(covers, results);
      return then ? (results[covers.length] ?? { rows: [], rowCount: 0 }) : null;
    } catch (err) {
      for (const d of batch) d.error = err;
      throw err;
    }
  }

  /**
   * The statements that send `batch`: plain one-row INSERTs queued between two other statements go out as one
   * multi-row INSERT per table (a batch of events is three statements, not three per event: PostgreSQL parses and plans
   * each statement of the round trip). Rows of a table keep their order; anything else — UPDATE, upsert, savepoint, a
   * second INSERT statement into the same table — stays where it was, the INSERTs before it sent first. tau's tables
   * have no foreign keys or insert triggers, so INSERTs into different tables between two such points may go in any order.
   */
  private statementsOf(batch: Deferred[]): { items: { sql: string; params: unknown[]; name: string }[]; covers: Deferred[][] } {
    const items: { sql: string; params: unknown[]; name: string }[] = [];
    const covers: Deferred[][] = [];
    let groups = new Map<string, { p: Prepared; ds: Deferred[] }>();
    const close = (): void => {
      for (const g of groups.values()) {
        if (g.ds.length === 1) {
          const d = g.ds[0]!;
          items.push({ sql: d.p.final!, params: d.values, name: d.p.name });
        } else {
          const parts = g.p.rows!;
          const params: unknown[] = [];
          const tuples: string[] = [];
          for (const d of g.ds) {
            tuples.push(shiftParams(parts.tuple, params.length));
            params.push(...d.values);
          }
          items.push({ sql: `${parts.head}${tuples.join(", ")}${parts.tail}`, params, name: "" });
        }
        covers.push(g.ds);
      }
      groups = new Map();
    };
    for (const d of batch) {
      if (d.p.rows === undefined) d.p.rows = d.p.t ? multiRowParts(d.p.final!) : null;
      const parts = d.p.rows;
      const g = parts ? groups.get(parts.table) : undefined;
      if (!parts || (g && g.p !== d.p)) {
        close();
        if (!parts) {
          items.push({ sql: d.p.final!, params: d.values, name: d.p.name });
          covers.push([d]);
          continue;
        }
      }
      const same = groups.get(parts.table);
      if (same) same.ds.push(d);
      else groups.set(parts.table, { p: d.p, ds: [d] });
    }
    close();
    return { items, covers };
  }

  /** Queued writes of a scope being rolled back: never sent. */
  private discard(): void {
    for (const d of this.pending) d.error = new Error("rolled back before it was sent");
    this.pending = [];
  }

  /** Run a prepared statement (resolving INSERT details against the schema on its first run). */
  runPrepared(p: Prepared, values: unknown[]) {
    if (p.final === null) this.finishInsert(p);
    // The unit of work's first statement, nothing else queued: its BEGIN goes with it, and it stays a prepared statement
    // (planned once per connection) rather than joining a batch's text (parsed and planned each time).
    if (this.pending.length === 1 && this.pending[0] === this.begin) {
      this.pending = [];
      this.begin = null;
      return this.guard(() => this.bridge.query(p.final!, values, p.name, true, true));
    }
    // Writes waiting in this transaction go out in the same round trip, this statement last.
    const joined = this.flush({ sql: p.final!, params: values });
    if (joined) return joined;
    return this.guard(() => this.bridge.query(p.final!, values, p.name, this.serverTransaction));
  }

  /** A transaction is open on the server (its BEGIN has gone out). */
  private get serverTransaction(): boolean {
    return this.depth > 0 && this.begin === null;
  }

  /** Run a request; inside a transaction, a failure marks it aborted (see `aborted`). */
  private guard<T>(f: () => T): T {
    try {
      return f();
    } catch (err) {
      if (this.depth > 0 && this.aborted === null) this.aborted = err;
      throw err;
    }
  }

  private finishInsert(p: Prepared): void {
    const t = p.t;
    let text = t.text;
    const table = t.insertInto!;
    if (t.replace) {
      const key = this.primaryKey(table);
      const set = t.replace.columns.filter((c) => !key.includes(c)).map((c) => `${c} = EXCLUDED.${c}`);
      text = appendBeforeReturning(
        text,
        `ON CONFLICT (${key.join(", ")}) ${set.length ? `DO UPDATE SET ${set.join(", ")}` : "DO NOTHING"}`,
      );
    }
    const id = this.identityColumn(table);
    if (id && !t.hasReturning) {
      text = `${text} RETURNING ${id}`;
      p.returningId = id;
    }
    p.final = text;
  }

  private identityColumn(table: string): string | null {
    if (!this.identity) {
      const r = this.bridge.query(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')",
        [],
        undefined,
        this.serverTransaction,
      );
      this.identity = new Map(r.rows.map((row) => [String(row.table_name), String(row.column_name)]));
    }
    return this.identity.get(table.toLowerCase()) ?? null;
  }

  private primaryKey(table: string): string[] {
    let key = this.keys.get(table);
    if (!key) {
      const r = this.bridge.query(
        "SELECT a.attname AS col FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) " +
          "WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)",
        [table],
        undefined,
        this.serverTransaction,
      );
      key = r.rows.map((row) => String(row.col));
      if (key.length === 0) throw new Error(`INSERT OR REPLACE INTO ${table}: the table has no primary key on PostgreSQL`);
      this.keys.set(table, key);
    }
    return key;
  }

  transaction<F extends (...params: any[]) => unknown>(fn: F): DbTransaction<F> {
    const run = (...args: unknown[]): unknown => {
      const outer = this.depth === 0;
      const savepoint = `tau_sp_${this.depth}`;
      // Nested: the SAVEPOINT is queued like a write — it goes out with the scope's first statement, no round trip of
      // its own — and RELEASE goes with the scope's last writes.
      let mark: Deferred | null = null;
      if (outer) {
        this.flush();
        // Queued, like a savepoint: it goes out with the first statement of the unit of work (see `begin`).
        this.begin = control("BEGIN");
        this.pending.push(this.begin);
        this.epoch++;
        this.aborted = null;
      } else {
        mark = control(`SAVEPOINT ${savepoint}`);
        this.pending.push(mark);
      }
      this.depth++;
      let result: unknown;
      try {
        result = fn(...args);
        if (result && typeof (result as { then?: unknown }).then === "function")
          throw new TypeError("Transaction function cannot return a promise");
        // A statement failed inside and was caught there: PostgreSQL rolled the work back, so this scope fails too.
        if (this.aborted !== null) throw abortedBy(this.aborted);
        if (outer) {
          // Nothing went out and nothing waits: no transaction was ever opened on the server, none to commit.
          if (this.pending.length === 1 && this.pending[0] === this.begin) {
            this.pending = [];
            this.begin = null;
          } else {
            // The last writes and COMMIT in one round trip; a failure among them skips the COMMIT (caught below).
            this.pending.push(control("COMMIT"));
            this.flush();
          }
        }
        // Nothing was done inside: no savepoint is needed at all.
        else if (this.pending.at(-1) === mark) this.pending.pop();
        else {
          this.pending.push(control(`RELEASE SAVEPOINT ${savepoint}`));
          this.flush();
        }
        if (this.aborted !== null) throw abortedBy(this.aborted);
      } catch (err) {
        this.depth--;
        this.epoch++;
        const at = mark ? this.pending.indexOf(mark) : -1;
        if (at >= 0) {
          // The savepoint never went out, nor anything after it; what was queued before it stays queued.
          for (const d of this.pending.slice(at)) d.error = new Error("rolled back before it was sent");
          this.pending.length = at;
          throw err;
        }
        // Still queued: the BEGIN never went out, so there is nothing to roll back on the server.
        const opened = !(outer && this.begin !== null);
        this.discard();
        this.begin = null;
        try {
          if (outer && !opened) {
            /* nothing was sent */
          } else if (outer) this.bridge.exec("ROLLBACK", false);
          else this.bridge.exec(`ROLLBACK TO SAVEPOINT ${savepoint}; RELEASE SAVEPOINT ${savepoint}`, true);
          // Back at the savepoint, taken before the failure: the enclosing transaction goes on.
          this.aborted = null;
        } catch {
          /* the original error matters; a lost connection has rolled back already (and an unset savepoint stays failed) */
        }
        throw err;
      }
      this.depth--;
      return result;
    };
    const tx = run as unknown as DbTransaction<F>;
    tx.deferred = run as DbTransaction<F>["deferred"];
    tx.immediate = run as DbTransaction<F>["immediate"];
    tx.exclusive = run as DbTransaction<F>["exclusive"];
    return tx;
  }

  /**
   * An outer unit of work whose end does not block this thread: `fn` runs now (its writes queued, a read in it still
   * blocks as usual), then its last writes and COMMIT go out in one round trip and the promise settles when PostgreSQL
   * has answered — meanwhile this thread serves other work, and what it sends runs after the COMMIT (the worker keeps
   * the order). A failure rejects it (the worker has rolled back). Inside an open unit of work it joins that unit.
   */
  transactionAsync<T>(fn: () => T): Promise<T> {
    if (this.depth > 0) {
      try {
        return Promise.resolve(this.transaction(fn)());
      } catch (err) {
        return Promise.reject(err);
      }
    }
    try {
      this.flush();
    } catch (err) {
      return Promise.reject(err);
    }
    // As `transaction` (outer): BEGIN queued, to go out with the first statement.
    this.begin = control("BEGIN");
    this.pending.push(this.begin);
    this.epoch++;
    this.aborted = null;
    this.depth++;
    let result: T;
    try {
      result = fn();
      if (result && typeof (result as { then?: unknown }).then === "function")
        throw new TypeError("Transaction function cannot return a promise");
      if (this.aborted !== null) throw abortedBy(this.aborted);
    } catch (err) {
      this.depth--;
      this.epoch++;
      const opened = this.begin === null;
      this.discard();
      this.begin = null;
      try {
        if (opened) this.bridge.exec("ROLLBACK", false);
        this.aborted = null;
      } catch {
        /* the original error matters; a lost connection has rolled back already */
      }
      return Promise.reject(err);
    }
    this.depth--;
    const batch = this.pending;
    this.pending = [];
    // Nothing went out and nothing waits: no transaction was ever opened on the server.
    if (batch.length === 1 && batch[0] === this.begin) {
      this.begin = null;
      return Promise.resolve(result);
    }
    const begins = batch[0] !== undefined && batch[0] === this.begin;
    if (begins) this.begin = null;
    batch.push(control("COMMIT"));
    const { items, covers } = this.statementsOf(batch);
    return this.bridge.batchAsync(items, begins).then(
      (results) => {
        settle(covers, results);
        return result;
      },
      (err: unknown) => {
        this.epoch++;
        for (const d of batch) d.error = err;
        throw err;
      },
    );
  }

  exec(source: string): this {
    this.flush();
    this.guard(() => this.bridge.exec(source, this.depth > 0));
    return this;
  }

  pragma(source: string, options: { simple?: boolean } = {}): unknown {
    const m = source.trim().match(/^(\w+)/);
    const name = m?.[1]?.toLowerCase() ?? "";
    // SQLite's page hygiene has no PostgreSQL counterpart: secrets are overwritten in place by UPDATE either way.
    if (name === "secure_delete" || name === "wal_checkpoint") return options.simple ? 0 : [];
    throw new Error(`PRAGMA ${name} is SQLite-only; the PostgreSQL store does not support it`);
  }

  close(): this {
    if (!this.isOpen) return this;
    this.discard();
    this.isOpen = false;
    this.bridge.close();
    return this;
  }
}

/** A statement without values queued among the writes (SAVEPOINT, RELEASE): no result anyone reads. */
function control(sql: string): Deferred {
  return { p: { t: null as unknown as Translated, name: "", final: sql, returningId: null }, values: [], result: null, error: null };
}

/** The error ending a unit of work that PostgreSQL aborted on an earlier, caught failure (SQLSTATE 25P02). */
function abortedBy(cause: unknown): Error {
  if (cause instanceof PostgresError && cause.code === "25P02") return cause;
  const why = cause instanceof Error ? cause.message : String(cause);
  const code = cause instanceof PostgresError ? cause.code : null;
  return new PostgresError(
    `current transaction is aborted: an earlier statement failed${code ? ` (SQLSTATE ${code})` : ""}: ${why}`,
    "25P02",
  );
}
