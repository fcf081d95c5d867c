/**
 * @module The Store port: every SQL statement of tau lives behind it, in intention-named methods grouped by table
 * family. Callers never see SQL, a statement or a connection; they see `store.<family>.<method>` and
 * `store.atomically(fn)` — the unit of work (the runner commits one batch per call). Ids and times come from
 * callers and no caller knows the engine. The port is synchronous (better-sqlite3): a PostgreSQL implementation
 * either bridges synchronously (a worker thread + Atomics.wait behind these methods) or makes the port async.
 */
import { createAccessStore } from "./access-store.ts";
import { createBatchLookups } from "./batch-lookups.ts";
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
import { openPostgresStore } from "./pg/pg-store.ts";
import { TauError } from "../contracts/errors.ts";
import { createClusterStore } from "./cluster-store.ts";
import { createControlStore } from "./control-store.ts";
import { createMetricCountsReader, readMetricCounts, type MetricCounts } from "./metric-counts.ts";
import { createWalSync, type DurabilityMode } from "./durability.ts";

/** The table families over one database handle (SQLite or the PostgreSQL adapter). */
function createFamilies(db: Db, secretsKeys: SecretsKeyOptions) {
  // One transaction function for every unit of work, made once: building better-sqlite3's wrapper (four variants and
  // their properties) on each call was measurable on the runner's path (a job's audit record is a nested unit).
  const unitOfWork = db.transaction((fn: () => unknown) => fn());
  const access = createAccessStore(db);
  const actorAliases = createActorAliasStore(db);
  return {
    ...createRunnerStore(db),
    outbox: createOutboxStore(db),
    access,
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
    actorAliases,
    /** A runner batch's lookups in one read on PostgreSQL (batch-lookups.ts). */
    batchLookups: createBatchLookups(db, access, actorAliases),
    replyCounts: createReplyCountStore(db),
    ui: createUiSessionStore(db),
    cluster: createClusterStore(db),
    control: createControlStore(db),
    inspect: withReadableTraces(createInspectStore(db)),
    /** Write a consistent copy of the database to `file` with SQLite's online backup API, safe while others write (backup.ts). */
    backup: (file: string, opts: { overwrite?: boolean } = {}) => backupDatabase(db, file, opts),
    /**
     * The `/metrics` totals that need a scan (denied events, replies by reason): on SQLite from a worker thread over a
     * read-only connection (`openStore` sets it), so a scrape never stalls this thread; elsewhere read here.
     */
    metricCounts: (): Promise<MetricCounts> => Promise.resolve(readMetricCounts(db)),
    /**
     * Call right before an effect outside tau that depends on what was committed (a send to a provider, a webhook's
     * acknowledgement, a JetStream ack, the answer to a POST): everything committed so far is on disk when it returns.
     * A no-op unless the store was opened with `durability: "before-effects"` (durability.ts).
     */
    syncBeforeEffect: (): void => {},
    /** Run `fn` as one unit of work: everything it writes commits together or not at all; nested calls join it. */
    atomically<T>(fn: () => T): T {
      // IMMEDIATE: the write lock is taken at BEGIN (waiting up to busy_timeout). A deferred unit of work that reads,
      // then writes after another process committed (the service's runner, watchdog and connectors write all the time)
      // fails at once with SQLITE_BUSY_SNAPSHOT instead of waiting its turn.
      return unitOfWork.immediate(fn) as T;
    },
    /**
     * `atomically`, resolved once committed. On PostgreSQL the commit's round trip does not block this thread (other work
     * — a webhook, a send — runs meanwhile; what it sends runs after the COMMIT); on SQLite it commits before returning.
     * Read nothing `fn` wrote through a write's result (`changes`): await the promise.
     */
    atomicallyAsync<T>(fn: () => T): Promise<T> {
      if (db.transactionAsync) return db.transactionAsync(fn);
      try {
        return Promise.resolve(unitOfWork.immediate(fn) as T);
      } catch (err) {
        return Promise.reject(err);
      }
    },
    /**
     * Run `fn` inside the unit of work in progress as part of it — no savepoint of its own, so a failure in it fails
     * that unit — or as its own unit of work when none is open. For writes that belong to the caller's unit (an audit
     * row with the command it records): on PostgreSQL a savepoint's end is a round trip carrying every queued write.
     */
    joined<T>(fn: () => T): T {
      return db.inTransaction ? fn() : (unitOfWork.immediate(fn) as T);
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

/** The Store port. */
export interface Store extends ReturnType<typeof createFamilies> {
  /**
   * The store an integration secret lives in: this one, except the shared PostgreSQL store's own URL
   * (`store.url_secret`), which lives in the node's local SQLite store — it is what lets the node reach the shared one.
   */
  secretHome(id: string): Store;
}

export function createStore(
  db: Db,
  secretsKeys: SecretsKeyOptions = { keyFile: null },
  homes: ReadonlyMap<string, Store> = new Map(),
): Store {
  const store = createFamilies(db, secretsKeys) as Store;
  store.secretHome = (id) => homes.get(id) ?? store;
  if (homes.size > 0) store.secrets = routedSecrets(store.secrets, homes);
  return store;
}

/** The secrets family with the ids in `homes` read and written in their home store (listing: both, by id). */
function routedSecrets(shared: Store["secrets"], homes: ReadonlyMap<string, Store>): Store["secrets"] {
  const home = (id: string) => homes.get(id)?.secrets ?? shared;
  // No URL yet: the listing shows what this node holds (the URL secret once set), not an error, so `tau secrets set`
  // can confirm the URL it just stored. Any other failure of the shared store is reported.
  const sharedList = () => {
    try {
      return shared.list();
    } catch (err) {
      if (err instanceof TauError && err.code === "STORE_URL_MISSING") return [];
      throw err;
    }
  };
  return {
    ...shared,
    get: (id) => home(id).get(id),
    put: (id, value, now) => home(id).put(id, value, now),
    delete: (id) => home(id).delete(id),
    list: () => {
      const own = [...homes].flatMap(([id, s]) => s.secrets.list().filter((r) => r.id === id));
      return [...sharedList().filter((r) => !homes.has(r.id)), ...own].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    },
  };
}

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

export interface OpenStoreOptions {
  readonly?: boolean;
  /** TAU_SECRETS_KEY. */
  secretsKey?: string;
  /** `sqlite` (default): `<stateDir>/tau.db`. `postgres`: the shared database at `databaseUrl`. */
  driver?: "sqlite" | "postgres";
  /** PostgreSQL: the URL (TAU_DATABASE_URL); when absent it is read from the local store's secret `urlSecret`. */
  databaseUrl?: string;
  /** PostgreSQL: the integration secret id holding the URL in the node's local store (config `store.url_secret`). */
  urlSecret?: string;
  /** Internal: the local SQLite store of a node whose state is on PostgreSQL. */
  localOfShared?: boolean;
  /** PostgreSQL: bounds on connecting and on one statement (ms). */
  connectTimeoutMs?: number;
  queryTimeoutMs?: number;
  /**
   * SQLite: `every-commit` (default) fsyncs inside every commit; `before-effects` (the service: `tau run`, `tau
   * process`) fsyncs right before each effect that depends on a commit (durability.ts). PostgreSQL: durable at commit.
   */
  durability?: DurabilityMode;
}

/** Open (creating and migrating if needed) `<stateDir>/tau.db`, or the shared PostgreSQL store, behind the Store port. */
export function openStore(stateDir: string, opts: OpenStoreOptions = {}): Store {
  if (opts.driver === "postgres") return openPostgresStore(stateDir, opts);
  // The integration store's key: TAU_SECRETS_KEY when the app passes it, else `<state>/secrets.key` (secrets-key.ts).
  const db = openDatabase(stateDir, opts);
  const store = createStore(db, { keyFile: path.join(stateDir, "secrets.key"), envKey: opts.secretsKey });
  const counts = createMetricCountsReader(path.join(stateDir, "tau.db"));
  const close = store.close.bind(store);
  store.metricCounts = () => counts.read();
  const walSync =
    opts.durability === "before-effects" && !opts.readonly
      ? createWalSync({ changes: totalChanges(db), walFile: path.join(stateDir, "tau.db-wal") })
      : null;
  if (walSync) {
    db.pragma("synchronous = NORMAL");
    store.syncBeforeEffect = () => walSync.syncBeforeEffect();
  }
  store.close = () => {
    counts.close();
    // A process may exit right after: what it committed is on disk first.
    walSync?.syncBeforeEffect();
    walSync?.close();
    close();
  };
  if (!opts.readonly) sealLegacySecrets(store);
  // A node on the shared PostgreSQL store keeps only its own secrets here: its state is backed up with pg_dump.
  const shared = store.kv.get(SHARED_STORE_KEY);
  if (shared && !opts.localOfShared) {
    if (!opts.readonly && opts.driver === "sqlite") store.kv.put(SHARED_STORE_KEY, "");
    else
      store.backup = async () => {
        throw sharedBackupError(shared);
      };
  }
  return store;
}

/** Rows this connection has changed since it opened (the WAL sync skips its fsync when nothing moved). */
function totalChanges(db: Db): () => number {
  const stmt = db.prepare("SELECT total_changes()").pluck();
  return () => stmt.get() as number;
}

/** Local kv key: the PostgreSQL store (`host:port/db`) this node's state lives in; empty or absent when on SQLite. */
export const SHARED_STORE_KEY = "store.shared";

export function sharedBackupError(target: string): TauError {
  return new TauError("STORE_BACKUP_SHARED", `this node's state is on PostgreSQL (${target}): tau backup copies only SQLite state`, {
    details: { store: target },
    hint: 'back up the shared database with pg_dump, e.g. pg_dump --format=custom --file=tau.dump "$TAU_DATABASE_URL"; restore with pg_restore',
  });
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
