/** @module Store family: the integration secret store (table `secrets`, file mode 0600). Values go only to callers that use them. */
import type { Db } from "./db.ts";

export function createSecretsStore(db: Db) {
  // Prepared on first use, not at open: a damaged secrets table must not stop tau from starting (preflight reports
  // it as `credential_store_unreadable`).
  let q: ReturnType<typeof prepare> | null = null;
  const prepare = () => ({
    get: db.prepare<[string], string>("SELECT value FROM secrets WHERE id = ?").pluck(),
    put: db.prepare(
      "INSERT INTO secrets (id, value, updated_at_ms) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET value = excluded.value, updated_at_ms = excluded.updated_at_ms",
    ),
    delete: db.prepare("DELETE FROM secrets WHERE id = ?"),
    list: db.prepare<[], { id: string; updated_at_ms: number }>("SELECT id, updated_at_ms FROM secrets ORDER BY id"),
  });
  const s = () => (q ??= prepare());
  return {
    /** The stored value, or null. Throws when the store cannot be read (callers report `credential_store_unreadable`). */
    get: (id: string): string | null => s().get.get(id) ?? null,
    put: (id: string, value: string, now: number): void => void s().put.run(id, value, now),
    /** False when there was none. */
    delete: (id: string): boolean => s().delete.run(id).changes > 0,
    /** Stored ids with their update times; never values. */
    list: (): { id: string; updated_at_ms: number }[] => s().list.all(),
  };
}

export type SecretsStore = ReturnType<typeof createSecretsStore>;
