/**
 * @module The `/metrics` totals that need a scan — events denied by reason, replies by transport and delivery reason —
 * read off the main thread. A scan grows with history (about 85 ms at 100,000 events and 65,000 replies on the
 * development machine), and on the main thread it stalls everything else the process does meanwhile: webhook
 * acknowledgements, the runner, connectors. On SQLite a worker thread answers them over its own read-only connection
 * (WAL lets it read while the runner writes); the same statements, the same answers. On PostgreSQL the queries already
 * run on the store's worker.
 */
import { Worker } from "node:worker_threads";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { Db } from "./db.ts";

export interface MetricCounts {
  deniedByReason: Record<string, number>;
  deliveriesByReason: Record<string, number>;
  deliveriesByTransport: { transport: string; reason: string; n: number }[];
}

/** A read that takes longer than this is given up (`/metrics` then reads them on its own thread, as before). */
const READ_TIMEOUT_MS = 15_000;

const counts = (rows: { reason: string; n: number }[]) => Object.fromEntries(rows.map((r) => [r.reason, Number(r.n)]));

/** Events denied by policy, by reason code (a scan of the retained events). */
export function deniedByReason(db: Db): Record<string, number> {
  return counts(
    db
      .prepare<[], { reason: string; n: number }>("SELECT reason, COUNT(*) AS n FROM events WHERE outcome = 'denied' GROUP BY reason")
      .all(),
  );
}

/** Replies by delivery reason code (a scan of the outbox). */
export function deliveriesByReason(db: Db): Record<string, number> {
  return counts(
    db
      .prepare<[], { reason: string; n: number }>("SELECT reason, COUNT(*) AS n FROM outbox WHERE reason IS NOT NULL GROUP BY reason")
      .all(),
  );
}

/** Replies by transport and delivery reason code (a scan of the outbox). */
export function deliveriesByTransport(db: Db): { transport: string; reason: string; n: number }[] {
  return db
    .prepare<[], { transport: string; reason: string; n: number }>(
      "SELECT transport, reason, COUNT(*) AS n FROM outbox WHERE reason IS NOT NULL GROUP BY transport, reason",
    )
    .all()
    .map((r) => ({ transport: r.transport, reason: r.reason, n: Number(r.n) }));
}

/** The three scans, over `db` (the worker's connection, or the store's own on PostgreSQL). */
export function readMetricCounts(db: Db): MetricCounts {
  return {
    deniedByReason: deniedByReason(db),
    deliveriesByReason: deliveriesByReason(db),
    deliveriesByTransport: deliveriesByTransport(db),
  };
}

/**
 * The worker's bootstrap (CommonJS, run with `eval`): from the sources (tsx, vitest) tsx's CommonJS transform is
 * registered and the TypeScript worker required; from dist/ the compiled one is imported.
 */
function bootstrap(): string {
  const here = import.meta.url;
  const load = here.endsWith(".ts")
    ? `require(${JSON.stringify(createRequire(here).resolve("tsx/cjs/api"))}).register(); require(${JSON.stringify(fileURLToPath(new URL("./metric-counts-worker.ts", here)))});`
    : `await import(${JSON.stringify(new URL("./metric-counts-worker.js", here).href)});`;
  return `(async () => { ${load} })().catch((err) => { require("node:worker_threads").parentPort.postMessage({ id: 0, error: "the metrics worker did not start: " + (err && err.message) }); });`;
}

interface Reply {
  id: number;
  counts?: MetricCounts;
  error?: string;
}

/**
 * Reads `MetricCounts` from the SQLite file `dbFile` on a worker thread, started on first use and kept (unref'd: it
 * never keeps the process alive). A failed or stuck worker is dropped and the read rejects; the next read starts a
 * new one.
 */
export function createMetricCountsReader(dbFile: string) {
  let worker: Worker | null = null;
  let closed = false;
  let nextId = 1;
  const pending = new Map<number, { resolve: (c: MetricCounts) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  const failAll = (err: Error) => {
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    pending.clear();
  };
  const drop = (w: Worker, err: Error) => {
    if (worker === w) worker = null;
    failAll(err);
    void w.terminate();
  };
  const start = (): Worker => {
    const w = new Worker(bootstrap(), { eval: true, workerData: { dbFile }, stdout: false, stderr: false });
    w.unref();
    w.on("message", (m: Reply) => {
      if (m.id === 0) return drop(w, new Error(m.error ?? "the metrics worker failed"));
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.counts) p.resolve(m.counts);
      else p.reject(new Error(m.error ?? "the metrics worker failed"));
    });
    w.on("error", (err) => drop(w, err));
    w.on("exit", (code) => drop(w, new Error(`the metrics worker exited (${code})`)));
    return w;
  };
  return {
    read(): Promise<MetricCounts> {
      if (closed) return Promise.reject(new Error("the store is closed"));
      const w = (worker ??= start());
      const id = nextId++;
      return new Promise<MetricCounts>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`the metrics worker did not answer within ${READ_TIMEOUT_MS} ms`));
        }, READ_TIMEOUT_MS);
        timer.unref();
        pending.set(id, { resolve, reject, timer });
        w.postMessage({ id });
      });
    },
    close(): void {
      closed = true;
      const w = worker;
      worker = null;
      failAll(new Error("the store is closed"));
      if (w) void w.terminate();
    },
  };
}
