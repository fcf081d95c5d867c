/** @module Store family: kill switches. */
import type { Db } from "./db.ts";

export function createKillSwitchStore(db: Db) {
  void db;
  return {};
}

export type KillSwitchStore = ReturnType<typeof createKillSwitchStore>;
