/** @module Store family: communications: consent, sends, deliveries, anomalies, webhooks. */
import type { Db } from "./db.ts";

export function createCommsStore(db: Db) {
  void db;
  return {};
}

export type CommsStore = ReturnType<typeof createCommsStore>;
