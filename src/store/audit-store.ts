/** @module Store family: the hash-chained audit log. */
import type { Db } from "./db.ts";

export function createAuditStore(db: Db) {
  void db;
  return {};
}

export type AuditStore = ReturnType<typeof createAuditStore>;
