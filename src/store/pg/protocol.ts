/** @module The messages between the main thread and the PostgreSQL bridge worker (bridge.ts ⇄ worker.ts). */
import type { MessagePort } from "node:worker_threads";

export interface BridgeWorkerData {
  url: string;
  /** Shared word the worker sets to 1 and notifies when an answer is posted. */
  flag: SharedArrayBuffer;
  port: MessagePort;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
  applicationName: string;
}

export interface BridgeRequest {
  id: number;
  op: "query" | "exec" | "begin" | "close" | "batch";
  sql: string;
  /** Positional values ($1..$n); absent for `exec` (simple protocol, several statements allowed). */
  params?: unknown[];
  /** Prepared statement name: parsed once per connection. */
  name?: string;
  /** `batch`: statements run back to back in one round trip (writes deferred inside a transaction, pg-db.ts). */
  items?: { sql: string; params: unknown[]; name?: string }[];
  /** The main thread holds an open transaction: a reconnected worker must refuse instead of running outside it. */
  inTransaction: boolean;
  /** `batch`: its first statement is the transaction's BEGIN (the connection it runs on is the transaction's). */
  begins?: boolean;
  /**
   * `batch`: it ends the transaction (its last statement is COMMIT) and the main thread does not wait for it: when a
   * statement fails the worker rolls the transaction back itself, before it runs the next request.
   */
  ends?: boolean;
}

export type BridgeAnswer =
  | {
      ok: true;
      id?: number;
      rows: Record<string, unknown>[];
      rowCount: number;
      results?: { rows: Record<string, unknown>[]; rowCount: number }[];
    }
  | { ok: false; id?: number; kind: "sql" | "unavailable"; message: string; code?: string; detail?: string; constraint?: string };
