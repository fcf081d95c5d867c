/** @module Store family: the integration secret store. */
import type { Db } from "./db.ts";

export function createSecretsStore(db: Db) {
  void db;
  return {};
}

export type SecretsStore = ReturnType<typeof createSecretsStore>;
