/**
 * @module A synchronous PostgreSQL connection for tau's synchronous Store port: a worker thread (worker.ts) owns one
 * node-postgres client; `query()` posts the request on a MessagePort and blocks the calling thread in `Atomics.wait`
 * on a shared word until the worker has posted the answer and notified, then takes it with `receiveMessageOnPort`.
 * Every wait is bounded: a dead or unreachable server gives STORE_UNAVAILABLE naming host:port (never the password),
 * a statement over the bound STORE_QUERY_TIMEOUT; nothing hangs. PostgreSQL's own errors come back as PostgresError
 * with their SQLSTATE in `code`.
 *
 * The worker starts the same way under the three ways tau runs: from the compiled dist/ (worker.js beside this file)
 * and from the TypeScript sources — tsx or vitest — (worker.ts through tsx's CommonJS transform registered inside the
 * worker, since a worker thread inherits neither vitest's transform nor, on Node 20, the parent's loader hooks).
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import { TauError } from "../../contracts/errors.ts";
import type { BridgeAnswer, BridgeRequest, BridgeWorkerData } from "./protocol.ts";

/** An error reported by PostgreSQL for one statement; `code` is its SQLSTATE (e.g. 23505 unique_violation). */
export class PostgresError extends Error {
  override readonly name = "PostgresError";
  constructor(
    message: string,
    readonly code: string,
    readonly detail?: string,
    readonly constraint?: string,
  ) {
    super(message);
  }
}

export interface BridgeOptions {
  /** Bound on establishing a connection (ms). */
  connectTimeoutMs?: number;
  /** Bound on one statement (ms): PostgreSQL's statement_timeout; the bridge waits a little longer before giving up. */
  queryTimeoutMs?: number;
  applicationName?: string;
  /** Session settings sent with every connection (`-c name=value`), kept across reconnects. */
  sessionSettings?: Record<string, string>;
}

export interface BridgeResult {
  rows: Record<string, unknown>[];
  rowCount: number;
  results?: { rows: Record<string, unknown>[]; rowCount: number }[];
}

/** `host:port/database` of a connection URL, for messages; never the user's password. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    const host = u.hostname || u.searchParams.get("host") || "localhost";
    return `${host}:${u.port || "5432"}${u.pathname && u.pathname !== "/" ? u.pathname : ""}`;
  } catch {
    return "(an unparsable database URL)";
  }
}

/**
 * The worker's bootstrap (a CommonJS script, run with `eval`): loads worker.ts/worker.js and, if that fails, answers
 * the first request with the reason instead of leaving the main thread waiting out its bound.
 */
function workerBootstrap(): string {
  const here = import.meta.url;
  // Sources (tsx, vitest): the worker is TypeScript. Node 20 does not run a worker's own ESM loader hooks, so
  // tsx's CommonJS transform is registered in the worker and worker.ts required through it (absolute paths: any cwd).
  const load = here.endsWith(".ts")
    ? `require(${JSON.stringify(createRequire(here).resolve("tsx/cjs/api"))}).register(); require(${JSON.stringify(fileURLToPath(new URL("./worker.ts", here)))});`
    : `await import(${JSON.stringify(new URL("./worker.js", here).href)});`;
  return `const { workerData } = require("node:worker_threads");
(async () => { ${load} })().catch((err) => {
  workerData.port.postMessage({ id: 0, ok: false, kind: "unavailable", message: "the PostgreSQL worker did not start: " + (err && err.message) });
  const flag = new Int32Array(workerData.flag);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});`;
}

export class PgBridge {
  readonly target: string;
  private worker: Worker | null = null;
  private port: MessagePort | null = null;
  private flag: Int32Array | null = null;
  private nextId = 1;
  private readonly connectTimeoutMs: number;
  private readonly queryTimeoutMs: number;
  private closed = false;
  /** Requests posted without waiting (`batchAsync`), by id: settled when their answer arrives. */
  private readonly waiting = new Map<number, { resolve: (r: BridgeResult) => void; reject: (e: unknown) => void; timer: NodeJS.Timeout }>();
  /** Requests sent to the server by every bridge of this process (one round trip each): what the runner's tests count. */
  static roundTrips = 0;

  /** `url` null: no URL was configured; every call throws `missing`. */
  constructor(
    private readonly url: string | null,
    private readonly opts: BridgeOptions = {},
    private readonly missing: Error | null = null,
  ) {
    this.target = url === null ? "(no URL)" : describeUrl(url);
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.queryTimeoutMs = opts.queryTimeoutMs ?? 60_000;
  }

  private start(): void {
    if (this.url === null) throw this.missing ?? new Error("no PostgreSQL URL");
    const sab = new SharedArrayBuffer(4);
    const { port1, port2 } = new MessageChannel();

    const data: BridgeWorkerData = {
      url: withSessionSettings(this.url, { statement_timeout: String(this.queryTimeoutMs), ...this.opts.sessionSettings }),
      flag: sab,
      port: port2,
      connectTimeoutMs: this.connectTimeoutMs,
      queryTimeoutMs: this.queryTimeoutMs + 5_000,
      applicationName: this.opts.applicationName ?? "tau",
    };
    const worker = new Worker(workerBootstrap(), { eval: true, workerData: data, transferList: [port2], stdout: false, stderr: false });
    // The store does not keep the process alive (better-sqlite3 does not either); close() ends the worker.
    worker.unref();
    worker.on("error", () => undefined);
    // Answers to requests nobody blocks on arrive as events (or are taken by a blocking call that finds them first).
    port1.on("message", (a: BridgeAnswer) => this.settle(a));
    port1.unref();
    this.worker = worker;
    this.port = port1;
    this.flag = new Int32Array(sab);
  }

  private stop(): void {
    for (const [id, w] of this.waiting) {
      clearTimeout(w.timer);
      this.waiting.delete(id);
      w.reject(this.unavailable("the connection was dropped with the request in flight"));
    }
    const w = this.worker;
    this.worker = null;
    this.port?.close();
    this.port = null;
    this.flag = null;
    if (w) void w.terminate();
  }

  /** Post one request (starting the worker on first use); returns its id. */
  private post(req: Omit<BridgeRequest, "id">): number {
    if (this.closed) throw new TypeError("The database connection is not open");
    if (this.worker === null) this.start();
    const id = this.nextId++;
    PgBridge.roundTrips++;
    this.port!.postMessage({ ...req, id } satisfies BridgeRequest);
    return id;
  }

  /** Run one request and wait (blocking this thread, bounded) for its answer. */
  private call(req: Omit<BridgeRequest, "id">, boundMs: number): BridgeResult {
    const first = this.worker === null;
    const id = this.post(req);
    const flag = this.flag!;
    const port = this.port!;
    // The worker's first answer also covers its start (loading pg, and tsx from the sources).
    const deadline = performance.now() + boundMs + (first ? 30_000 : 0);
    for (;;) {
      // Cleared before looking: an answer posted after the look sets it again, so the wait below cannot miss it.
      Atomics.store(flag, 0, 0);
      for (let got = receiveMessageOnPort(port); got; got = receiveMessageOnPort(port)) {
        const a = got.message as BridgeAnswer;
        // id 0: the worker could not start (its bootstrap reports why).
        if (a.id === id || a.id === 0) {
          if (a.id === 0) this.stop();
          return this.resultOf(a);
        }
        // The answer to a request posted earlier without waiting (the worker answers in order).
        this.settle(a);
      }
      const left = deadline - performance.now();
      if (left <= 0 || Atomics.wait(flag, 0, 0, left) === "timed-out") {
        // The worker may be stuck on a dead socket: drop it; the next call starts a fresh one.
        this.stop();
        throw this.unavailable(`no answer within ${Math.round(boundMs / 1000)} s`);
      }
    }
  }

  /** An answer as a result, or its error thrown. */
  private resultOf(a: BridgeAnswer): BridgeResult {
    if (a.ok) return { rows: a.rows, rowCount: a.rowCount, results: a.results };
    if (a.kind === "unavailable") throw this.unavailable(a.message);
    if (a.code === "57014")
      throw new TauError("STORE_QUERY_TIMEOUT", `a statement on PostgreSQL at ${this.target} ran longer than ${this.queryTimeoutMs} ms`, {
        details: { store: this.target },
        hint: "look for locks held by another session (pg_stat_activity) or an overloaded server",
      });
    throw new PostgresError(redact(a.message, this.url), a.code ?? "XX000", a.detail && redact(a.detail, this.url), a.constraint);
  }

  /** Settle the request posted without waiting that `a` answers (an answer nobody waits for any more is dropped). */
  private settle(a: BridgeAnswer): void {
    const w = a.id === undefined ? undefined : this.waiting.get(a.id);
    if (!w) return;
    this.waiting.delete(a.id!);
    clearTimeout(w.timer);
    if (this.waiting.size === 0) this.port?.unref();
    try {
      w.resolve(this.resultOf(a));
    } catch (err) {
      w.reject(err);
    }
  }

  private unavailable(why: string): TauError {
    return new TauError("STORE_UNAVAILABLE", `PostgreSQL at ${this.target} is unavailable: ${redact(why, this.url)}`, {
      details: { store: this.target },
      hint: "check that the server runs and accepts connections from this node, and the store URL (TAU_DATABASE_URL or the store.url_secret secret)",
    });
  }

  /**
   * A statement with positional values ($1..$n), as a named prepared statement when `name` is given. `begins`: the
   * worker opens the transaction (BEGIN) right before it, in the same request.
   */
  query(sql: string, params: unknown[], name?: string, inTransaction = false, begins = false): BridgeResult {
    return this.call({ op: "query", sql, params, name, inTransaction, begins }, this.queryTimeoutMs + 10_000);
  }

  /** Statements run back to back in one round trip; the first failure is thrown. */
  batch(
    items: { sql: string; params: unknown[]; name?: string }[],
    inTransaction: boolean,
    begins = false,
  ): { rows: Record<string, unknown>[]; rowCount: number }[] {
    return this.call({ op: "batch", sql: "", items, inTransaction, begins }, this.queryTimeoutMs + 10_000).results ?? [];
  }

  /**
   * Statements that end a transaction (the last is COMMIT), run back to back in one round trip without blocking this
   * thread: the promise settles when PostgreSQL has answered. Requests posted after it run after it (the worker takes
   * them in order); when one of its statements fails the worker rolls the transaction back before the next request.
   */
  batchAsync(
    items: { sql: string; params: unknown[]; name?: string }[],
    begins: boolean,
  ): Promise<{ rows: Record<string, unknown>[]; rowCount: number }[]> {
    const boundMs = this.queryTimeoutMs + 10_000;
    let id: number;
    try {
      id = this.post({ op: "batch", sql: "", items, inTransaction: true, begins, ends: true });
    } catch (err) {
      return Promise.reject(err);
    }
    this.port!.ref();
    return new Promise<BridgeResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        this.stop();
        reject(this.unavailable(`no answer within ${Math.round(boundMs / 1000)} s`));
      }, boundMs);
      this.waiting.set(id, { resolve, reject, timer });
    }).then((r) => r.results ?? []);
  }

  /** One or more statements without values (simple protocol). */
  exec(sql: string, inTransaction = false, op: "exec" | "begin" = "exec"): BridgeResult {
    return this.call({ op, sql, inTransaction }, this.queryTimeoutMs + 10_000);
  }

  /** Connect now (the first statement would otherwise): surfaces an unreachable server at open. */
  ping(): void {
    this.exec("SELECT 1");
  }

  close(): void {
    if (this.closed) return;
    if (this.worker) {
      try {
        this.call({ op: "close", sql: "", inTransaction: false }, 5_000);
      } catch {
        /* ending anyway */
      }
    }
    this.closed = true;
    this.stop();
  }
}

/** The URL with `options=-c name=value …` added after any options the URL sets itself. */
function withSessionSettings(url: string, settings: Record<string, string>): string {
  try {
    const u = new URL(url);
    const mine = Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`);
    u.searchParams.set("options", [...mine, u.searchParams.get("options") ?? ""].join(" ").trim());
    return u.toString();
  } catch {
    return url;
  }
}

function redact(text: string, url: string | null): string {
  try {
    const pw = url === null ? "" : decodeURIComponent(new URL(url).password);
    return pw ? text.split(pw).join("***") : text;
  } catch {
    return text;
  }
}
