/** @module Store family: read-only views for operators: traces, runtime events, dead letters, outbox by status. */
import type { Db } from "./db.ts";

export function createInspectStore(db: Db) {
  void db;
  return {};
}

export type InspectStore = ReturnType<typeof createInspectStore>;
