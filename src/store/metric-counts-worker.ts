/**
 * @module The metrics worker (see metric-counts.ts): one read-only connection to the state's SQLite file, answering
 * each `{ id }` with the scans' results. Each read is its own snapshot (WAL readers never block the writer).
 */
import Database from "better-sqlite3";
import { parentPort, workerData } from "node:worker_threads";
import { readMetricCounts } from "./metric-counts.ts";

const { dbFile } = workerData as { dbFile: string };
const db = new Database(dbFile, { readonly: true, fileMustExist: true });
db.pragma("busy_timeout = 5000");

parentPort!.on("message", (m: { id: number }) => {
  try {
    parentPort!.postMessage({ id: m.id, counts: readMetricCounts(db) });
  } catch (err) {
    parentPort!.postMessage({ id: m.id, error: (err as Error)?.message ?? String(err) });
  }
});
