/**
 * @module The Store port: every SQL statement of tau lives behind it, in intention-named methods grouped by table
 * family. Callers never see SQL, a statement or a connection; they see `store.<family>.<method>` and
 * `store.atomically(fn)` — the unit of work (the runner commits one batch per call). Ids and times come from
 * callers and no caller knows the engine. The port is synchronous (better-sqlite3): a PostgreSQL implementation
 * either bridges synchronously (a worker thread + Atomics.wait behind these methods) or makes the port async.
 */
import { createAccessStore } from "./access-store.ts";
import { createAuditStore } from "./audit-store.ts";
import { createCommandStore } from "./command-store.ts";
import { createCommsStore } from "./comms-store.ts";
import { openDatabase, type Db } from "./db.ts";
import { createInspectStore } from "./inspect-store.ts";
import { createKillSwitchStore } from "./killswitch-store.ts";
import { createOutboxStore } from "./outbox-store.ts";
import { createRunnerStore, readableTrace } from "./runner-store.ts";
import { createSecretsStore } from "./secrets-store.ts";
import type { SecretsKeyOptions } from "./secrets-key.ts";
import path from "node:path";
import { createResponderStore } from "./responder-store.ts";
import { createAlertStore } from "./alert-store.ts";
import { createIncidentStore } from "./incident-store.ts";
import { createMediaStore } from "./media-store.ts";
import { createCalendarStore } from "./calendar-store.ts";
import { backupDatabase } from "./backup.ts";
import { createButtonStore } from "./button-store.ts";
import { createActorAliasStore, createReplyCountStore } from "./tolerance-store.ts";
import { createUiSessionStore } from "./ui-session-store.ts";

export function createStore(db: Db, secretsKeys: SecretsKeyOptions = { keyFile: null }) {
  return {
    ...createRunnerStore(db),
    outbox: createOutboxStore(db),
    access: createAccessStore(db),
    commands: createCommandStore(db),
    audit: createAuditStore(db),
    killswitches: createKillSwitchStore(db),
    secrets: createSecretsStore(db, secretsKeys),
    comms: createCommsStore(db),
    responders: createResponderStore(db),
    alerts: createAlertStore(db),
    incidents: createIncidentStore(db),
    media: createMediaStore(db),
    calendar: createCalendarStore(db),
    buttons: createButtonStore(db),
    actorAliases: createActorAliasStore(db),
    replyCounts: createReplyCountStore(db),
    ui: createUiSessionStore(db),
    inspect: withReadableTraces(createInspectStore(db)),
    /** Write a consistent copy of the database to `file` with SQLite's online backup API, safe while others write (backup.ts). */
    backup: (file: string, opts: { overwrite?: boolean } = {}) => backupDatabase(db, file, opts),
    /** Run `fn` as one unit of work: everything it writes commits together or not at all; nested calls join it. */
    atomically<T>(fn: () => T): T {
      // IMMEDIATE: the write lock is taken at BEGIN (waiting up to busy_timeout). A deferred unit of work that reads,
      // then writes after another process committed (the service's runner, watchdog and connectors write all the time)
      // fails at once with SQLITE_BUSY_SNAPSHOT instead of waiting its turn.
      return db.transaction(fn).immediate();
    },
    /** Run `fn` as a unit of work that is always rolled back (a dry rehearsal, e.g. `tau route inspect`); returns its result. */
    rehearse<T>(fn: () => T): T {
      const rollback = Symbol("rollback");
      let result = undefined as { value: T } | undefined;
      try {
        db.transaction(() => {
          result = { value: fn() };
          throw rollback;
        })();
      } catch (err) {
        if (err !== rollback) throw err;
      }
      return result!.value;
    },
    close(): void {
      db.close();
    },
  };
}

export type Store = ReturnType<typeof createStore>;

/** Traces are stored compactly by the runner family (`encodeTrace`); their readers get the JSON text back. */
function withReadableTraces<I extends ReturnType<typeof createInspectStore>>(inspect: I): I {
  return {
    ...inspect,
    trace: (eventId: string) => inspect.trace(eventId).map(readableTrace),
    recentTraces: (limit: number) => inspect.recentTraces(limit).map(readableTrace),
    tracesAfter: (seq: number) => inspect.tracesAfter(seq).map(readableTrace),
    tracesBetween: (fromMs: number, toMs: number) => inspect.tracesBetween(fromMs, toMs).map(readableTrace),
  };
}

/** Open (creating and migrating if needed) `<stateDir>/tau.db` behind the Store port. */
export function openStore(stateDir: string, opts: { readonly?: boolean; secretsKey?: string } = {}): Store {
  // The integration store's key: TAU_SECRETS_KEY when the app passes it, else `<state>/secrets.key` (secrets-key.ts).
  const store = createStore(openDatabase(stateDir, opts), { keyFile: path.join(stateDir, "secrets.key"), envKey: opts.secretsKey });
  if (!opts.readonly) sealLegacySecrets(store);
  return store;
}

/**
 * Seal integration secrets stored in plain text before migration 011, on the first writable open. A failure (no key
 * file can be written, a wrong TAU_SECRETS_KEY) leaves them for the next open; reading them reports the key problem.
 */
function sealLegacySecrets(store: Store): void {
  try {
    store.secrets.sealPlaintext();
  } catch (err) {
    if (!(err instanceof Error)) throw err;
    // Not fatal here: commands that never touch secrets still run; those that do get the error when they read.
  }
}
