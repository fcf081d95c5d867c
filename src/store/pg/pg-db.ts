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

  constructor(url: string | null, opts: BridgeOptions = {}, missing: Error | null = null) {
    this.bridge = new PgBridge(url, opts, missing);
  }

  get inTransaction(): boolean {
    return this.depth > 0;
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
    try {
      const items = batch.map((d) => ({ sql: d.p.final!, params: d.values, name: d.p.name }));
      if (then) items.push({ sql: then.sql, params: then.params, name: "" });
      const results = this.guard(() => this.bridge.batch(items, true));
      batch.forEach((d, i) => (d.result = runResult(d.p, results[i] ?? { rows: [], rowCount: 0 })));
      return then ? (results[batch.length] ?? { rows: [], rowCount: 0 }) : null;
    } catch (err) {
      for (const d of batch) d.error = err;
      throw err;
    }
  }

  /** Queued writes of a scope being rolled back: never sent. */
  private discard(): void {
    for (const d of this.pending) d.error = new Error("rolled back before it was sent");
    this.pending = [];
  }

  /** Run a prepared statement (resolving INSERT details against the schema on its first run). */
  runPrepared(p: Prepared, values: unknown[]) {
    if (p.final === null) this.finishInsert(p);
    // Writes waiting in this transaction go out in the same round trip, this statement last.
    const joined = this.flush({ sql: p.final!, params: values });
    if (joined) return joined;
    return this.guard(() => this.bridge.query(p.final!, values, p.name, this.depth > 0));
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
        this.depth > 0,
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
        this.depth > 0,
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
      this.flush();
      if (outer) {
        this.bridge.exec("BEGIN", false, "begin");
        this.aborted = null;
      } else this.bridge.exec(`SAVEPOINT ${savepoint}`, true);
      this.depth++;
      let result: unknown;
      try {
        result = fn(...args);
        if (result && typeof (result as { then?: unknown }).then === "function")
          throw new TypeError("Transaction function cannot return a promise");
        this.flush();
        // A statement failed inside and was caught there: PostgreSQL rolled the work back, so this scope fails too.
        if (this.aborted !== null) throw abortedBy(this.aborted);
      } catch (err) {
        this.discard();
        this.depth--;
        try {
          if (outer) this.bridge.exec("ROLLBACK", false);
          else this.bridge.exec(`ROLLBACK TO SAVEPOINT ${savepoint}; RELEASE SAVEPOINT ${savepoint}`, true);
          // Back at the savepoint, taken before the failure: the enclosing transaction goes on.
          this.aborted = null;
        } catch {
          /* the original error matters; a lost connection has rolled back already */
        }
        throw err;
      }
      this.depth--;
      try {
        if (outer) this.bridge.exec("COMMIT", false);
        else this.bridge.exec(`RELEASE SAVEPOINT ${savepoint}`, true);
      } catch (err) {
        if (outer) {
          try {
            this.bridge.exec("ROLLBACK", false);
          } catch {
            /* already gone */
          }
        }
        throw err;
      }
      return result;
    };
    const tx = run as unknown as DbTransaction<F>;
    tx.deferred = run as DbTransaction<F>["deferred"];
    tx.immediate = run as DbTransaction<F>["immediate"];
    tx.exclusive = run as DbTransaction<F>["exclusive"];
    return tx;
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
