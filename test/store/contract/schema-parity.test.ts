/**
 * Schema parity: every numbered SQLite migration (src/store/migrations/NNN-name.sql) has a PostgreSQL twin of the same
 * name (src/store/migrations/pg/NNN-name.sql), and after each step N both engines hold the same schema — tables,
 * columns in order (type class, NOT NULL, default, SQLite rowid key = PostgreSQL identity, TEXT bytewise = COLLATE
 * "C"), primary keys, unique constraints, named indexes (columns, uniqueness, partial or not), CHECK value lists and
 * triggers; rows written before a data-carrying migration come out the same; and openStore's PostgreSQL migrator
 * ends at that schema. A SQLite migration added without its PostgreSQL twin, or a twin that drifts, fails here.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../../src/store/index.ts";
import { startPostgres, type TestPostgres } from "../../helpers/postgres.ts";

const SQLITE_DIR = path.resolve("src/store/migrations");
const PG_DIR = path.join(SQLITE_DIR, "pg");
const MIGRATION = /^\d{3}-[a-z0-9-]+\.sql$/;
const migrationFiles = (dir: string) =>
  fs
    .readdirSync(dir)
    .filter((f) => MIGRATION.test(f))
    .sort();

/** A column as both engines can describe it. */
interface Column {
  type: "integer" | "real" | "text" | "blob";
  notnull: boolean;
  default: string | null;
  /** SQLite rowid alias (`INTEGER PRIMARY KEY`) / PostgreSQL identity column: filled in when an insert leaves it out. */
  generated: boolean;
}

interface Index {
  columns: string[];
  unique: boolean;
  partial: boolean;
}

interface Table {
  columns: Record<string, Column>;
  primaryKey: string[];
  /** Column lists of UNIQUE constraints (not named indexes), sorted. */
  uniques: string[];
  indexes: Record<string, Index>;
  /** Each CHECK as `column: 'v1','v2',…` (the constrained column and its value list, sorted), sorted. */
  checks: string[];
}

type Schema = Record<string, Table>;

/** `CHECK (col IN ('a', 'b'))` in either engine's spelling → "col: a,b". */
function checkKey(text: string): string {
  const column = /CHECK\s*\(+\s*"?(\w+)/i.exec(text)?.[1] ?? "?";
  const values = [...text.matchAll(/'([^']*)'/g)].map((m) => m[1]!).sort();
  return `${column}: ${values.join(",")}`;
}

/** A default as written in SQL, without PostgreSQL's cast and quoting (`''::text` → `''`, `'-1'::integer` → `-1`). */
const normDefault = (d: string | null) =>
  d === null
    ? null
    : d
        .replace(/::[a-z ]+$/i, "")
        .replace(/^\((.*)\)$/, "$1")
        .replace(/^'(-?\d+(?:\.\d+)?)'$/, "$1");

function sqliteType(declared: string): Column["type"] {
  const t = declared.toUpperCase();
  if (t.includes("INT")) return "integer";
  if (t.includes("CHAR") || t.includes("TEXT") || t.includes("CLOB")) return "text";
  if (t.includes("REAL") || t.includes("FLOA") || t.includes("DOUB")) return "real";
  if (t === "" || t.includes("BLOB")) return "blob";
  throw new Error(`SQLite column type ${declared} has no PostgreSQL counterpart in this test: add it to sqliteType()`);
}

function sqliteSchema(db: Database.Database): Schema {
  const out: Schema = {};
  const tables = db
    .prepare<[], { name: string; sql: string }>("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    .all();
  for (const { name, sql } of tables) {
    const cols = db
      .prepare<[], { name: string; type: string; notnull: number; dflt_value: string | null; pk: number }>(`PRAGMA table_info("${name}")`)
      .all();
    const primaryKey = cols
      .filter((c) => c.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((c) => c.name);
    const rowidKey =
      primaryKey.length === 1 &&
      cols.find((c) => c.name === primaryKey[0])!.type.toUpperCase() === "INTEGER" &&
      !/WITHOUT\s+ROWID/i.test(sql);
    const columns: Record<string, Column> = {};
    for (const c of cols)
      columns[c.name] = {
        type: sqliteType(c.type),
        // A primary key column is never NULL in practice (PostgreSQL enforces it; a SQLite rowid key is never NULL).
        notnull: c.notnull === 1 || c.pk > 0,
        default: c.dflt_value,
        generated: rowidKey && c.name === primaryKey[0],
      };
    const uniques: string[] = [];
    const indexes: Record<string, Index> = {};
    const list = db.prepare<[], { name: string; unique: number; origin: string; partial: number }>(`PRAGMA index_list("${name}")`).all();
    for (const ix of list) {
      const ixCols = db
        .prepare<[], { seqno: number; name: string }>(`PRAGMA index_info("${ix.name}")`)
        .all()
        .sort((a, b) => a.seqno - b.seqno)
        .map((c) => c.name);
      if (ix.origin === "pk") continue;
      if (ix.origin === "u") uniques.push(ixCols.join(","));
      else indexes[ix.name] = { columns: ixCols, unique: ix.unique === 1, partial: ix.partial === 1 };
    }
    const checks = [...sql.matchAll(/CHECK\s*\((?:[^()]|\([^()]*\))*\)/gi)].map((m) => checkKey(m[0]));
    out[name] = { columns, primaryKey, uniques: uniques.sort(), indexes, checks: checks.sort() };
  }
  return out;
}

/** The schema of the current database; `skip` names tables left out (bookkeeping with no SQLite twin). */
async function pgSchema(client: pg.Client, skip: string[] = []): Promise<Schema> {
  const out: Schema = {};
  const cols = await client.query<{
    table_name: string;
    column_name: string;
    data_type: string;
    is_nullable: string;
    column_default: string | null;
    is_identity: string;
    collation_name: string | null;
  }>(
    "SELECT c.table_name, c.column_name, c.data_type, c.is_nullable, c.column_default, c.is_identity, c.collation_name " +
      "FROM information_schema.columns c JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name " +
      "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' ORDER BY c.table_name, c.ordinal_position",
  );
  const typeOf = (t: string, collation: string | null, where: string): Column["type"] => {
    if (t === "bigint" || t === "integer" || t === "smallint") return "integer";
    if (t === "double precision" || t === "real") return "real";
    if (t === "bytea") return "blob";
    if (t === "text") {
      // SQLite compares text bytewise (BINARY): the twin must too, or id range scans (`outbox_id >= 'oa_'`) differ.
      if (collation !== "C") throw new Error(`${where} is TEXT without COLLATE "C"`);
      return "text";
    }
    throw new Error(`${where} has PostgreSQL type ${t}: use BIGINT, DOUBLE PRECISION, TEXT COLLATE "C" or BYTEA`);
  };
  for (const c of cols.rows) {
    if (skip.includes(c.table_name)) continue;
    const t = (out[c.table_name] ??= { columns: {}, primaryKey: [], uniques: [], indexes: {}, checks: [] });
    t.columns[c.column_name] = {
      type: typeOf(c.data_type, c.collation_name, `${c.table_name}.${c.column_name}`),
      notnull: c.is_nullable === "NO",
      default: normDefault(c.column_default),
      generated: c.is_identity === "YES",
    };
  }
  const idx = await client.query<{
    table_name: string;
    index_name: string;
    unique: boolean;
    primary: boolean;
    partial: boolean;
    columns: string[];
    constraint: boolean;
  }>(
    "SELECT t.relname AS table_name, i.relname AS index_name, x.indisunique AS unique, x.indisprimary AS primary, x.indpred IS NOT NULL AS partial, " +
      "ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(attnum, n) JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n)::text[] AS columns, " +
      "EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid AND c.contype IN ('p', 'u')) AS constraint " +
      "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace " +
      "WHERE n.nspname = current_schema()",
  );
  for (const r of idx.rows) {
    if (skip.includes(r.table_name)) continue;
    const t = out[r.table_name]!;
    if (r.primary) t.primaryKey = r.columns;
    else if (r.constraint) t.uniques.push(r.columns.join(","));
    else t.indexes[r.index_name] = { columns: r.columns, unique: r.unique, partial: r.partial };
  }
  const checks = await client.query<{ table_name: string; def: string }>(
    "SELECT t.relname AS table_name, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid " +
      "JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = current_schema() AND c.contype = 'c'",
  );
  for (const r of checks.rows) if (!skip.includes(r.table_name)) out[r.table_name]!.checks.push(checkKey(r.def));
  for (const t of Object.values(out)) {
    t.uniques.sort();
    t.checks.sort();
  }
  return out;
}

const sqliteTriggers = (db: Database.Database) =>
  db
    .prepare<[], { tbl_name: string; name: string }>("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
    .all()
    .map((r) => `${r.tbl_name}.${r.name}`);

async function pgTriggers(client: pg.Client): Promise<string[]> {
  const r = await client.query<{ name: string }>(
    "SELECT c.relname || '.' || t.tgname AS name FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace " +
      "WHERE NOT t.tgisinternal AND n.nspname = current_schema() ORDER BY t.tgname",
  );
  return r.rows.map((x) => x.name);
}

describe("PostgreSQL migrations mirror the SQLite ones", () => {
  let server: TestPostgres;
  let client: pg.Client;
  let sqlite: Database.Database;
  let dir: string;

  beforeAll(async () => {
    server = await startPostgres();
    client = new pg.Client({ connectionString: await server.createDatabase() });
    await client.connect();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-schema-parity-"));
    sqlite = new Database(path.join(dir, "tau.db"));
  }, 120_000);

  afterAll(async () => {
    sqlite?.close();
    await client?.end();
    await server?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("every SQLite migration has a PostgreSQL twin with the same number and name, and none more", () => {
    const sqliteNames = migrationFiles(SQLITE_DIR);
    expect(sqliteNames.slice(0, 12)).toEqual([
      "001-core.sql",
      "002-policy.sql",
      "003-communications.sql",
      "004-responders.sql",
      "005-media.sql",
      "006-observability.sql",
      "007-calendar-caldav.sql",
      "008-responder-rate-indexes.sql",
      "009-buttons.sql",
      "010-actor-aliases.sql",
      "011-secrets-sealed.sql",
      "012-ui-sessions.sql",
    ]);
    expect(migrationFiles(PG_DIR)).toEqual(sqliteNames);
  });

  it("after each numbered step both engines hold the same tables, columns, keys, indexes, checks and triggers", async () => {
    const steps = migrationFiles(SQLITE_DIR).filter((f) => fs.existsSync(path.join(PG_DIR, f)));
    expect(steps.length).toBeGreaterThanOrEqual(12);
    for (const file of steps) {
      // One transaction per file on each side, as the stores apply them: a database at N-1 is brought to N.
      sqlite.transaction(() => sqlite.exec(fs.readFileSync(path.join(SQLITE_DIR, file), "utf8")))();
      await client.query("BEGIN");
      try {
        await client.query(fs.readFileSync(path.join(PG_DIR, file), "utf8"));
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK");
        throw new Error(`pg/${file} does not apply on top of the previous steps: ${(err as Error).message}`);
      }
      const [lite, post] = [sqliteSchema(sqlite), await pgSchema(client)];
      expect(Object.keys(post).sort(), `tables after ${file}`).toEqual(Object.keys(lite).sort());
      for (const table of Object.keys(lite)) expect(post[table], `table ${table} after ${file}`).toEqual(lite[table]);
      // Same column order too (`SELECT *` rows carry their columns in table order).
      for (const table of Object.keys(lite))
        expect(Object.keys(post[table]!.columns), `column order of ${table} after ${file}`).toEqual(Object.keys(lite[table]!.columns));
      // Every SQLite trigger exists on PostgreSQL under the same name (PostgreSQL may add TRUNCATE guards).
      expect(await pgTriggers(client), `triggers after ${file}`).toEqual(expect.arrayContaining(sqliteTriggers(sqlite)));
    }
  }, 120_000);

  it("a table, column or index missing on one side is named by the comparison (the check is not vacuous)", async () => {
    const lite = sqliteSchema(sqlite);
    const post = await pgSchema(client);
    expect(post.outbox!.columns.rich).toEqual({ type: "text", notnull: false, default: null, generated: false });
    expect(post.outbox!.columns.id).toEqual({ type: "integer", notnull: true, default: null, generated: true });
    expect(lite.outbox!.indexes.outbox_pending).toEqual({ columns: ["status", "next_attempt_at_ms"], unique: false, partial: true });
    expect(post.comms_consent!.checks).toEqual([
      "channel: email,sms",
      "source: cli,import,provider_error,twilio_webhook",
      "status: opted_in,opted_out,unknown",
    ]);
    expect(post.events!.uniques).toEqual(["event_id"]);
    expect(post.allowlist!.columns.note!.default).toBe("''");
    await client.query("ALTER TABLE kv ADD COLUMN extra BIGINT");
    try {
      expect(await pgSchema(client)).not.toEqual(lite);
    } finally {
      await client.query("ALTER TABLE kv DROP COLUMN extra");
    }
    expect(await pgSchema(client)).toEqual(sqliteSchema(sqlite));
  });

  it("rows written before a migration are carried by its twin as by the SQLite one (009 outbox.rich, 011 secrets)", async () => {
    const databaseUrl = await server.createDatabase();
    const post = new pg.Client({ connectionString: databaseUrl });
    await post.connect();
    const lite = new Database(path.join(dir, "carry.db"));
    const apply = async (file: string) => {
      lite.exec(fs.readFileSync(path.join(SQLITE_DIR, file), "utf8"));
      await post.query(fs.readFileSync(path.join(PG_DIR, file), "utf8"));
    };
    const both = async (sql: string) => {
      lite.exec(sql);
      await post.query(sql);
    };
    try {
      const files = migrationFiles(SQLITE_DIR);
      for (const f of files.filter((f) => f < "009")) await apply(f);
      await both(
        "INSERT INTO outbox (outbox_id, transport, account_id, conversation_id, mode, purpose, status, chunk_count, created_at_ms, updated_at_ms) " +
          "VALUES ('ob_old', 'telegram', 'bot', '1', 'reply', 'reply', 'queued', 1, 5, 5)",
      );
      await both("INSERT INTO secrets (id, value, updated_at_ms) VALUES ('old-token', 'plain', 7)");
      for (const f of files.filter((f) => f >= "009" && f < "012")) await apply(f);
      const sqliteRows = {
        outbox: lite.prepare("SELECT outbox_id, rich, attempts, next_attempt_at_ms FROM outbox").all(),
        secrets: lite.prepare("SELECT id, value, key_id, created_at_ms, updated_at_ms FROM secrets").all(),
      };
      const pgRows = {
        outbox: (
          await post.query("SELECT outbox_id, rich, attempts::int AS attempts, next_attempt_at_ms::int AS next_attempt_at_ms FROM outbox")
        ).rows,
        secrets: (
          await post.query(
            "SELECT id, value, key_id, created_at_ms::int AS created_at_ms, updated_at_ms::int AS updated_at_ms FROM secrets",
          )
        ).rows,
      };
      expect(sqliteRows).toEqual({
        outbox: [{ outbox_id: "ob_old", rich: null, attempts: 0, next_attempt_at_ms: 0 }],
        secrets: [{ id: "old-token", value: "plain", key_id: null, created_at_ms: 7, updated_at_ms: 7 }],
      });
      expect(pgRows).toEqual(sqliteRows);
    } finally {
      lite.close();
      await post.end();
    }
  });

  it("openStore on PostgreSQL migrates a fresh database to the same schema as SQLite", async () => {
    const databaseUrl = await server.createDatabase();
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-schema-parity-store-"));
    const store = openStore(stateDir, { driver: "postgres", databaseUrl });
    const migrated = new pg.Client({ connectionString: databaseUrl });
    await migrated.connect();
    try {
      // The migrator's own bookkeeping table is the only one SQLite has no twin of (SQLite keeps PRAGMA user_version).
      expect(await pgSchema(migrated, ["tau_schema_version"])).toEqual(sqliteSchema(sqlite));
    } finally {
      await migrated.end();
      store.close();
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
