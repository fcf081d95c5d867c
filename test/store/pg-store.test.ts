/**
 * openStore with `driver: "postgres"` on a real PostgreSQL server: numbered migrations applied once (also when several
 * nodes start at once), a newer database refused, read-only opens, the URL kept in the node's local SQLite store,
 * secrets in the shared store sealed with TAU_SECRETS_KEY only, and `tau backup` pointing to pg_dump.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TauError } from "../../src/contracts/errors.ts";
import { loadConfig } from "../../src/config/index.ts";
import { createCredentialReader, transportChecks } from "../../src/lifecycle/index.ts";
import { openStore, type Store } from "../../src/store/index.ts";
import { listPgMigrations } from "../../src/store/pg/migrate.ts";
import { PgDb } from "../../src/store/pg/pg-db.ts";
import { postgresForFile } from "../helpers/postgres.ts";

const KEY_A = Buffer.alloc(32, 1).toString("base64");
const KEY_B = Buffer.alloc(32, 2).toString("base64");
const LATEST = listPgMigrations().at(-1)!.version;

const server = postgresForFile();

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function stateDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "tau-pg-store-"));
  dirs.push(d);
  return d;
}
function keep(s: Store): Store {
  stores.push(s);
  return s;
}
function versions(url: string): number[] {
  const db = new PgDb(url);
  try {
    return db.prepare<[], number>("SELECT version FROM tau_schema_version ORDER BY version").pluck().all();
  } finally {
    db.close();
  }
}
function thrown(fn: () => unknown): TauError {
  try {
    fn();
  } catch (err) {
    return err as TauError;
  }
  throw new Error("expected a throw");
}

describe("openStore on PostgreSQL", () => {
  it("migrates a fresh database to this build's schema, once; the store works", async () => {
    const url = await server().createDatabase();
    const store = keep(openStore(stateDir(), { driver: "postgres", databaseUrl: url }));
    expect(versions(url)).toEqual(listPgMigrations().map((m) => m.version));
    store.kv.put("k", "v");
    store.atomically(() => store.counters.bump("a", 2));
    store.close();
    stores.length = 0;
    const again = keep(openStore(stateDir(), { driver: "postgres", databaseUrl: url }));
    expect(again.kv.get("k")).toBe("v");
    expect(again.counters.all()).toEqual({ a: 2 });
    expect(versions(url)).toHaveLength(listPgMigrations().length);
  });

  it("several nodes starting at once apply each migration exactly once", async () => {
    const url = await server().createDatabase();
    const child = path.resolve("test/helpers/pg-migrate-child.ts");
    const run = () =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const c = spawn(process.execPath, ["--import", "tsx", child, url], { stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        c.stdout.on("data", (d) => (out += d));
        c.stderr.on("data", (d) => (err += d));
        c.on("exit", (code) => resolve({ code, out, err }));
      });
    const results = await Promise.all([run(), run(), run()]);
    for (const r of results) expect(r.code, r.err).toBe(0);
    const applied = results.flatMap((r) => (JSON.parse(r.out) as { applied: number[] }).applied).sort((a, b) => a - b);
    expect(applied).toEqual(listPgMigrations().map((m) => m.version));
    expect(versions(url)).toEqual(applied);
  }, 120_000);

  it("a database migrated by a newer tau is refused (STATE_TOO_NEW); read-only opens refuse one behind", async () => {
    const url = await server().createDatabase();
    keep(openStore(stateDir(), { driver: "postgres", databaseUrl: url }));
    const db = new PgDb(url);
    db.prepare("INSERT INTO tau_schema_version (version, name) VALUES (?, ?)").run(LATEST + 1, "999-future.sql");
    const err = thrown(() => openStore(stateDir(), { driver: "postgres", databaseUrl: url }));
    expect(err.code).toBe("STATE_TOO_NEW");
    expect(err.message).toContain(`${LATEST + 1}`);
    db.prepare("DELETE FROM tau_schema_version WHERE version >= ?").run(LATEST);
    db.close();
    const behind = thrown(() => openStore(stateDir(), { driver: "postgres", databaseUrl: url, readonly: true }));
    expect(behind.code).toBe("STATE_SCHEMA_BEHIND");
  });

  it("a read-only open migrates nothing and writes nothing", async () => {
    const url = await server().createDatabase();
    keep(openStore(stateDir(), { driver: "postgres", databaseUrl: url }));
    const ro = keep(openStore(stateDir(), { driver: "postgres", databaseUrl: url, readonly: true }));
    expect(ro.kv.get("nothing")).toBeUndefined();
    expect(thrown(() => ro.kv.put("k", "v"))).toMatchObject({ code: "25006" });
  });

  it("the URL lives in the node's local store: without it the store says how to set it; `secretHome` puts it there", async () => {
    const url = await server().createDatabase();
    const dir = stateDir();
    const noUrl = keep(openStore(dir, { driver: "postgres", urlSecret: "database-url" }));
    const missing = thrown(() => noUrl.kv.get("k"));
    expect(missing.code).toBe("STORE_URL_MISSING");
    expect(missing.hint).toContain("tau secrets set database-url");
    const home = noUrl.secretHome("database-url");
    expect(home).not.toBe(noUrl);
    home.secrets.put("database-url", url, 1);
    expect(noUrl.secretHome("telegram-bot-token")).toBe(noUrl);
    noUrl.close();
    stores.length = 0;
    // The next open reads the URL from the local store and reaches the shared one.
    const node = keep(openStore(dir, { driver: "postgres", secretsKey: KEY_A }));
    node.kv.put("shared", "yes");
    expect(node.secrets.get("database-url")).toBe(url);
    expect(node.secrets.list().map((s) => s.id)).toEqual(["database-url"]);
    // …and the URL is not in the shared database.
    const db = new PgDb(url);
    expect(db.prepare<[], number>("SELECT COUNT(*) FROM secrets").pluck().get()).toBe(0);
    expect(db.prepare<[], string>("SELECT value FROM kv WHERE key = 'shared'").pluck().get()).toBe("yes");
    db.close();
  });

  it("shared secrets are sealed with TAU_SECRETS_KEY only; a node with another key is told every node needs the same", async () => {
    const url = await server().createDatabase();
    const noKey = keep(openStore(stateDir(), { driver: "postgres", databaseUrl: url }));
    expect(thrown(() => noKey.secrets.put("telegram-bot-token", "t0k", 1)).code).toBe("SECRETS_KEY_REQUIRED");
    const a = keep(openStore(stateDir(), { driver: "postgres", databaseUrl: url, secretsKey: KEY_A }));
    a.secrets.put("telegram-bot-token", "t0k", 1);
    const again = keep(openStore(stateDir(), { driver: "postgres", databaseUrl: url, secretsKey: KEY_A }));
    expect(again.secrets.get("telegram-bot-token")).toBe("t0k");
    const b = keep(openStore(stateDir(), { driver: "postgres", databaseUrl: url, secretsKey: KEY_B }));
    const err = thrown(() => b.secrets.get("telegram-bot-token"));
    expect(err.code).toBe("SECRETS_KEY_MISMATCH");
    expect(err.hint).toContain("every node");
    expect(err.hint).toContain("TAU_SECRETS_KEY");
  });

  it("a node without TAU_SECRETS_KEY fails preflight on Discord: it could not seal interaction tokens (it would refuse them)", async () => {
    const url = await server().createDatabase();
    const discordChecks = (store: Store) =>
      transportChecks("discord", {
        config: loadConfig({ env: {}, cwd: stateDir() }).config,
        stateDir: stateDir(),
        credentials: createCredentialReader({}, store.secrets),
        kv: store.kv,
      }).filter((c) => c.key === "discord.interaction_tokens");
    const noKey = keep(openStore(stateDir(), { driver: "postgres", databaseUrl: url }));
    expect(noKey.secrets.sealingProblem()).toContain("TAU_SECRETS_KEY");
    expect(thrown(() => noKey.secrets.sealToken("an-interaction-token")).code).toBe("SECRETS_KEY_REQUIRED");
    expect(discordChecks(noKey)).toMatchObject([{ code: "credential_store_unreadable", ok: false }]);
    const a = keep(openStore(stateDir(), { driver: "postgres", databaseUrl: url, secretsKey: KEY_A }));
    expect(a.secrets.sealingProblem()).toBeNull();
    expect(discordChecks(a)).toMatchObject([{ code: "ready", ok: true }]);
    // Sealed by one node, opened by another with the same key (the connector's node and the answering node).
    const b = keep(openStore(stateDir(), { driver: "postgres", databaseUrl: url, secretsKey: KEY_A }));
    expect(b.secrets.openToken(a.secrets.sealToken("an-interaction-token"))).toBe("an-interaction-token");
    // A local store seals with its key file, made on first use: no problem, and no file made by asking.
    const dir = stateDir();
    const local = keep(openStore(dir));
    expect(local.secrets.sealingProblem()).toBeNull();
    expect(fs.existsSync(path.join(dir, "secrets.key"))).toBe(false);
    // …but a key file that is there must read.
    fs.writeFileSync(path.join(dir, "secrets.key"), "not a key\n", { mode: 0o600 });
    expect(local.secrets.sealingProblem()).toContain("secrets.key");
  });

  it("tau backup on a PostgreSQL node points to pg_dump, from the store and from the local state alone", async () => {
    const url = await server().createDatabase();
    const dir = stateDir();
    const store = keep(openStore(dir, { driver: "postgres", databaseUrl: url }));
    await expect(store.backup(path.join(dir, "b.db"))).rejects.toMatchObject({ code: "STORE_BACKUP_SHARED" });
    // `tau backup` reads no config: it opens the local state read-only, which remembers the shared store.
    const local = keep(openStore(dir, { readonly: true }));
    const err = await local.backup(path.join(dir, "b.db")).then(
      () => null,
      (e: TauError) => e,
    );
    expect(err?.code).toBe("STORE_BACKUP_SHARED");
    expect(err?.hint).toContain("pg_dump");
    expect(err?.message).toContain(`127.0.0.1:${server().port}`);
    expect(JSON.stringify(err)).not.toContain(server().password);
    expect(fs.existsSync(path.join(dir, "b.db"))).toBe(false);
    // Back on SQLite (driver named), the local state is the node's state again and backs up.
    store.close();
    local.close();
    stores.length = 0;
    const sqlite = keep(openStore(dir, { driver: "sqlite" }));
    await expect(sqlite.backup(path.join(dir, "b.db"))).resolves.toMatchObject({ file: path.join(dir, "b.db") });
  });
});
