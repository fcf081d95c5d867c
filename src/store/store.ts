/**
 * @module The Store port: every SQL statement of tau lives behind it, in intention-named methods grouped by table
 * family. Callers never see SQL, a statement or a connection; they see `store.<family>.<method>` and
 * `store.atomically(fn)` — the unit of work (the runner commits one batch per call). Ids and times come from
 * callers, so a second implementation (PostgreSQL) needs no change outside `src/store`.
 */
import { createAccessStore } from "./access-store.ts";
import { createAuditStore } from "./audit-store.ts";
import { createCommandStore } from "./command-store.ts";
import { createCommsStore } from "./comms-store.ts";
import { openDatabase, type Db } from "./db.ts";
import { createInspectStore } from "./inspect-store.ts";
import { createKillSwitchStore } from "./killswitch-store.ts";
import { createRunnerStore } from "./runner-store.ts";
import { createSecretsStore } from "./secrets-store.ts";

export function createStore(db: Db) {
  return {
    ...createRunnerStore(db),
    access: createAccessStore(db),
    commands: createCommandStore(db),
    audit: createAuditStore(db),
    killswitches: createKillSwitchStore(db),
    secrets: createSecretsStore(db),
    comms: createCommsStore(db),
    inspect: createInspectStore(db),
    /** Run `fn` as one unit of work: everything it writes commits together or not at all; nested calls join it. */
    atomically<T>(fn: () => T): T {
      return db.transaction(fn)();
    },
    /** Transitional: the raw handle, until every caller uses a family method. Removed when the port is complete. */
    db,
    close(): void {
      db.close();
    },
  };
}

export type Store = ReturnType<typeof createStore>;

/** Open (creating and migrating if needed) `<stateDir>/tau.db` behind the Store port. */
export function openStore(stateDir: string, opts: { readonly?: boolean } = {}): Store {
  return createStore(openDatabase(stateDir, opts));
}
