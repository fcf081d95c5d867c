/**
 * @module The engines the store contract suite runs on: `sqlite` (openStore on a temp state folder) and `postgres`
 * (openStore with `{ driver: "postgres", databaseUrl }` on a fresh database of a real PostgreSQL server from
 * test/helpers/postgres.ts, one server per test file, started on first use). Each `open()` is a fresh, migrated,
 * empty database; `reopen()` is a second Store on the same database (another process or node); `query()` reads or
 * writes the database around the Store port (at-rest checks, refused edits). `closeAll()` after each test.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { openStore, type Store } from "../../../src/store/index.ts";
import { startPostgres, type TestPostgres } from "../../helpers/postgres.ts";

/** One opened database: the Store on it, its state folder (secrets.key lives there), and raw SQL access. */
export interface Opened {
  store: Store;
  stateDir: string;
  /** Run one statement outside the Store (`?` placeholders); rows as plain objects with numbers for integers. */
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
}

export interface ContractEngine {
  name: "sqlite" | "postgres";
  open(): Promise<Opened>;
  /** A second Store on the same database (as another process or node would open it); `readonly` as inspect commands do. */
  reopen(o: Opened, opts?: { readonly?: boolean }): Store;
  /** Close every store opened since the last call and remove their folders (afterEach). */
  closeAll(): Promise<void>;
  /** Stop servers (afterAll). */
  stop(): Promise<void>;
}

/**
 * Whether the PostgreSQL driver behind openStore (src/store/pg/pg-store.ts) is in this build. The contract suite runs on
 * both engines unconditionally; test/cluster reads this to pick its engines.
 */
export const postgresDriverPresent = fs.existsSync(path.resolve("src/store/pg/pg-store.ts"));

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "tau-store-contract-"));
}

function sqliteEngine(): ContractEngine {
  const open: Store[] = [];
  const dirs: string[] = [];
  return {
    name: "sqlite",
    async open() {
      const stateDir = tempDir();
      dirs.push(stateDir);
      const store = openStore(stateDir);
      open.push(store);
      return {
        store,
        stateDir,
        async query(sql, params = []) {
          const db = new Database(path.join(stateDir, "tau.db"));
          try {
            db.pragma("busy_timeout = 5000");
            const stmt = db.prepare(sql);
            return stmt.reader ? (stmt.all(...params) as Record<string, unknown>[]) : (stmt.run(...params), []);
          } finally {
            db.close();
          }
        },
      };
    },
    reopen(o, opts = {}) {
      const store = openStore(o.stateDir, opts);
      open.push(store);
      return store;
    },
    async closeAll() {
      for (const s of open.splice(0)) s.close();
      for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
    },
    async stop() {},
  };
}

/** `?` placeholders → `$1…` (the statements given to `query` hold no `?` inside string literals). */
const numbered = (sql: string) => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

function postgresEngine(): ContractEngine {
  const secretsKey = crypto.randomBytes(32).toString("base64");
  let server: Promise<TestPostgres> | null = null;
  const open: Store[] = [];
  const dirs: string[] = [];
  const urls = new Map<string, string>();
  const openOn = (stateDir: string, databaseUrl: string, readonly = false) => {
    // Shared-store secrets are sealed with TAU_SECRETS_KEY (the same on every node), never a local key file.
    const store = openStore(stateDir, { driver: "postgres", databaseUrl, secretsKey, readonly });
    open.push(store);
    return store;
  };
  return {
    name: "postgres",
    async open() {
      server ??= startPostgres();
      const databaseUrl = await (await server).createDatabase();
      const stateDir = tempDir();
      dirs.push(stateDir);
      urls.set(stateDir, databaseUrl);
      const store = openOn(stateDir, databaseUrl);
      const query = async (sql: string, params: unknown[] = []) => {
        const client = new pg.Client({ connectionString: databaseUrl });
        // int8 (COUNT, BIGINT columns) as numbers, as the Store returns them.
        client.setTypeParser(20, (v: string) => Number(v));
        await client.connect();
        try {
          return (await client.query(numbered(sql), params)).rows as Record<string, unknown>[];
        } finally {
          await client.end();
        }
      };
      // The suite must not pass on SQLite under the name postgres: the store migrated this database.
      const [migrated] = await query("SELECT to_regclass('events') IS NOT NULL AS ok");
      if (migrated?.ok !== true)
        throw new Error(`openStore({ driver: "postgres" }) did not migrate the PostgreSQL database ${new URL(databaseUrl).pathname}`);
      return { store, stateDir, query };
    },
    reopen(o, opts = {}) {
      return openOn(o.stateDir, urls.get(o.stateDir)!, opts.readonly);
    },
    async closeAll() {
      for (const s of open.splice(0)) s.close();
      for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
    },
    async stop() {
      const s = server;
      server = null;
      if (s) await (await s).stop();
    },
  };
}

/** The engines for `describe.each`: every store contract holds on both. */
export function contractEngines(): ContractEngine[] {
  return [sqliteEngine(), postgresEngine()];
}

/** Hook timeouts: the first `open()` on PostgreSQL starts a server (initdb + pg_ctl). */
export const ENGINE_HOOK_TIMEOUT_MS = 120_000;
