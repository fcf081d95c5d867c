/**
 * @module The PostgreSQL side of the synchronous bridge (bridge.ts): a worker thread owning one node-postgres client.
 * Each request arrives on a MessagePort; the answer is posted back and the main thread, blocked in `Atomics.wait` on
 * a shared word, is woken with `Atomics.notify`. Statements run as named prepared statements (parsed once per
 * connection). Connection-level failures (refused, reset, timed out) come back as `unavailable`, PostgreSQL errors
 * with their SQLSTATE. A connection lost inside a transaction is never silently replaced mid-transaction.
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import pg from "pg";
import type { BridgeAnswer, BridgeRequest, BridgeWorkerData } from "./protocol.ts";

const data = workerData as BridgeWorkerData;
const flag = new Int32Array(data.flag);
const port: MessagePort = data.port;

// BIGINT (int8) columns hold ms timestamps and counters: numbers, as better-sqlite3 returns them. NUMERIC (SUM over
// BIGINT) likewise; booleans (EXISTS, comparisons) as 1/0 because SQLite has no boolean type.
pg.types.setTypeParser(20, (v: string) => Number(v));
pg.types.setTypeParser(1700, (v: string) => Number(v));
pg.types.setTypeParser(16, (v: string) => (v === "t" ? 1 : 0));

let client: pg.Client | null = null;
/** Generation of the current connection; a transaction started on one generation cannot continue on another. */
let generation = 0;
let txGeneration = -1;

function answer(a: BridgeAnswer): void {
  port.postMessage(a);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
]);

/** Whether an error from pg means the server cannot be reached (rather than a statement failing). */
function isConnectionError(err: unknown, c: pg.Client | null): boolean {
  const e = err as { code?: string; message?: string };
  if (e.code && CONNECTION_CODES.has(e.code)) return true;
  // SQLSTATE class 08 (connection exception), 57P01..03 (admin shutdown, crash shutdown, cannot connect now).
  if (e.code && (/^08/.test(e.code) || /^57P0[123]$/.test(e.code))) return true;
  const m = String(e.message ?? "");
  if (/Connection terminated|Client has encountered a connection error|timeout expired|Connection terminated unexpectedly/i.test(m))
    return true;
  return c === null;
}

async function connect(): Promise<pg.Client> {
  if (client) return client;
  const c = new pg.Client({
    connectionString: data.url,
    connectionTimeoutMillis: data.connectTimeoutMs,
    query_timeout: data.queryTimeoutMs,
    application_name: data.applicationName,
  });
  c.on("error", () => {
    // The server went away between statements: the next request reconnects (or reports it unreachable).
    if (client === c) client = null;
  });
  c.on("end", () => {
    if (client === c) client = null;
  });
  await c.connect();
  client = c;
  generation += 1;
  return c;
}

function fromBinary(v: unknown): unknown {
  // Structured clone turns a Buffer into a plain Uint8Array; pg needs a Buffer to send bytea.
  return v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;
}

/** A value as an SQL literal: quoted (its type comes from the context, like an unknown-typed parameter), or NULL. */
function literal(c: pg.Client, v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  if (v instanceof Uint8Array) return c.escapeLiteral(`\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex")}`);
  return c.escapeLiteral(String(v));
}

/** String literals, quoted identifiers and line comments (copied as they are), or a `$n` parameter. */
const PARAM_OR_SKIPPED = /'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\$(\d+)/g;

/**
 * `sql` with each `$n` outside literals, quoted identifiers and comments replaced by the n-th value as a literal. One
 * native regex pass: a batch's text is large (a multi-row INSERT of a thousand events), a per-character loop was most
 * of its time.
 */
export function inline(c: pg.Client, sql: string, values: unknown[]): string {
  return sql.replace(PARAM_OR_SKIPPED, (all, n: string | undefined) => (n === undefined ? all : literal(c, values[Number(n) - 1])));
}

async function handle(req: BridgeRequest): Promise<BridgeAnswer> {
  if (req.op === "close") {
    const c = client;
    client = null;
    if (c) await c.end().catch(() => undefined);
    return { ok: true, rows: [], rowCount: 0 };
  }
  let c: pg.Client;
  try {
    c = await connect();
  } catch (err) {
    return { ok: false, kind: "unavailable", message: (err as Error).message, code: (err as { code?: string }).code };
  }
  if (req.inTransaction && req.op !== "begin" && !req.begins && txGeneration !== generation) {
    return {
      ok: false,
      kind: "unavailable",
      message: "the connection to PostgreSQL was lost inside a transaction (rolled back by the server)",
    };
  }
  try {
    if (req.op === "begin" || req.begins) txGeneration = generation;
    if (req.op === "batch") {
      // Many writes in one simple-protocol query, values inlined as quoted literals (typed by context, as unknown-typed
      // parameters are): one round trip instead of one per statement — measured ~12x faster per INSERT here. The
      // first failure stops the rest and is reported with its SQLSTATE.
      const items = req.items ?? [];
      const text = items.map((it) => inline(c, it.sql, it.params)).join(";\n");
      const r = (await c.query(text)) as unknown as pg.QueryResult | pg.QueryResult[];
      const list = Array.isArray(r) ? r : [r];
      const results = list.map((x) => ({ rows: x.rows, rowCount: x.rowCount ?? 0 }));
      return { ok: true, rows: [], rowCount: 0, results };
    }
    if (req.op === "exec" || req.params === undefined) {
      const r = await c.query(req.sql);
      const last = Array.isArray(r) ? r.at(-1) : r;
      return { ok: true, rows: last?.rows ?? [], rowCount: last?.rowCount ?? 0 };
    }
    if (req.begins) await c.query("BEGIN");
    const name = req.name;
    const query: pg.QueryConfig = { text: req.sql, values: req.params.map(fromBinary) };
    if (name) query.name = name;
    const r = await c.query(query);
    return { ok: true, rows: r.rows, rowCount: r.rowCount ?? 0 };
  } catch (err) {
    const e = err as { code?: string; message?: string; detail?: string; constraint?: string };
    if (isConnectionError(err, client)) {
      if (client === c) client = null;
      c.end().catch(() => undefined);
      return { ok: false, kind: "unavailable", message: e.message ?? String(err), code: e.code };
    }
    // A transaction ended without waiting (`ends`): nobody will send its ROLLBACK, and the requests queued behind it
    // must not run inside an aborted transaction.
    if (req.ends) await c.query("ROLLBACK").catch(() => undefined);
    return { ok: false, kind: "sql", message: e.message ?? String(err), code: e.code, detail: e.detail, constraint: e.constraint };
  }
}

// One request at a time, in the order posted: a transaction ended without waiting (`ends`) is over — committed, or
// rolled back — before the next request starts.
let queue: Promise<void> = Promise.resolve();
port.on("message", (req: BridgeRequest) => {
  queue = queue.then(() =>
    handle(req).then(
      (a) => answer({ ...a, id: req.id }),
      (err: unknown) => answer({ ok: false, id: req.id, kind: "sql", message: (err as Error)?.message ?? String(err) }),
    ),
  );
});
parentPort?.postMessage("ready");
