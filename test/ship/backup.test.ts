/**
 * `tau backup` and `tau restore` over real state folders. A backup taken while `tau process` commits batches is a
 * consistent snapshot (the runner writes an event's dedupe row, its reply and the cursor advance in one transaction,
 * so in every backup the three agree); restore is refused while a runner holds the state, keeps the database it
 * replaces, checks what it is given, migrates an older backup, and the runner resumes exactly where the backup was.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { openIngressWriter } from "../../src/app/index.ts";
import { openStore } from "../../src/store/index.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

const MIGRATIONS = fs
  .readdirSync("src/store/migrations")
  .filter((f) => /^\d{3}-.*\.sql$/.test(f))
  .sort();
const LATEST = Number(MIGRATIONS.at(-1)!.slice(0, 3));

const homes: TauHome[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const h of homes.splice(0)) h.cleanup();
});

function home(extra?: string): TauHome {
  const h = makeTauHome(extra);
  homes.push(h);
  return h;
}

function tau(h: TauHome, args: string[]) {
  const r = spawnSync(process.execPath, ["bin/tau.js", "--state-dir", h.stateDir, "--config", h.configPath, ...args], {
    encoding: "utf8",
    env: { ...process.env, TAU_LOG_LEVEL: "silent" },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: <T = Record<string, unknown>>() => JSON.parse(r.stdout) as T };
}

/** What a database file holds: integrity, schema level, processed events, replies and the Telegram cursor line. */
function facts(file: string) {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return {
      check: db.pragma("quick_check", { simple: true }),
      schema: db.pragma("user_version", { simple: true }) as number,
      events: db.prepare("SELECT COUNT(*) FROM events").pluck().get() as number,
      replies: db.prepare("SELECT COUNT(*) FROM outbox").pluck().get() as number,
      cursorLine: (db.prepare("SELECT line_no FROM ingress_cursors WHERE transport = 'telegram'").pluck().get() as number | undefined) ?? 0,
    };
  } finally {
    db.close();
  }
}

const liveDb = (h: TauHome) => path.join(h.stateDir, "tau.db");

async function queueDms(h: TauHome, n: number): Promise<void> {
  const app = h.open();
  const w = openIngressWriter(app, true);
  for (let start = 0; start < n; start += 1000)
    await w.append(
      "telegram",
      Array.from({ length: Math.min(1000, n - start) }, (_, i) =>
        makeDm(String(100_000 + start + i), { event_id: `telegram:6112:u:${start + i}` }),
      ),
    );
  await w.close();
  app.close();
}

function exited(c: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve({ code: c.exitCode, signal: c.signalCode });
  return new Promise((resolve) => c.once("exit", (code, signal) => resolve({ code, signal })));
}

describe("tau backup while the runner writes, then tau restore", () => {
  it("every backup is consistent; restore is refused while the runner runs, then puts the state back and the runner resumes", async () => {
    const N = 6000;
    // No rotation: the ingress file stays whole, so the restored cursor can be replayed from (see the last step).
    const h = home("runner:\n  coalesce_window_ms: 0\n  batch_size: 25\n  rotate_min_bytes: 1000000000\n");
    await queueDms(h, N);
    const runner = spawn(process.execPath, ["bin/tau.js", "process", "--state-dir", h.stateDir, "--config", h.configPath], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, TAU_LOG_LEVEL: "silent" },
    });
    children.push(runner);
    let stderr = "";
    runner.stderr!.on("data", (d) => (stderr += d));

    // Back up in a loop while the runner works through the queue (in-process and through the CLI, alternately).
    const backups: { file: string; events: number }[] = [];
    const deadline = performance.now() + 120_000;
    for (let i = 0; performance.now() < deadline; i++) {
      const done = fs.existsSync(liveDb(h)) ? facts(liveDb(h)).events : 0;
      if (done >= N || runner.exitCode !== null) break;
      if (done === 0) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const file = path.join(h.dir, `backup-${i}.sqlite`);
      if (i % 2 === 0) {
        const store = openStore(h.stateDir, { readonly: true });
        try {
          await store.backup(file);
        } finally {
          store.close();
        }
      } else expect(tau(h, ["backup", file, "--json"]).json()).toMatchObject({ file, schema_version: LATEST });
      backups.push({ file, events: facts(file).events });
    }
    expect(stderr).toBe("");
    // At least one backup was taken mid-run, or this test proves nothing about writes during the copy.
    const mid = backups.filter((b) => b.events > 0 && b.events < N);
    expect(mid.length).toBeGreaterThan(0);
    for (const b of backups) {
      const f = facts(b.file);
      expect(f).toMatchObject({ check: "ok", schema: LATEST });
      // One transaction per batch: the dedupe rows, their replies and the cursor advance are all in, or none.
      expect(f.replies).toBe(f.events);
      expect(f.cursorLine).toBe(f.events);
      expect((fs.statSync(b.file).mode & 0o777).toString(8)).toBe("600");
      expect(fs.existsSync(`${b.file}-wal`)).toBe(false);
    }

    const pick = mid[0]!;
    const refused = tau(h, ["restore", pick.file, "--json"]);
    expect(refused.code).toBe(1);
    expect(refused.json()).toMatchObject({ ok: false, error: { code: "RESTORE_SERVICE_RUNNING" } });
    expect(fs.readdirSync(h.stateDir).filter((f) => f.includes(".bak-"))).toEqual([]);

    // Let the runner finish the queue, then stop it.
    const until = performance.now() + 120_000;
    while (facts(liveDb(h)).events < N && performance.now() < until) await new Promise((r) => setTimeout(r, 50));
    runner.kill("SIGTERM");
    expect(await exited(runner)).toEqual({ code: 0, signal: null });
    expect(facts(liveDb(h))).toMatchObject({ events: N, replies: N });

    const restored = tau(h, ["restore", pick.file, "--json"]);
    expect(restored.code).toBe(0);
    const r = restored.json<{ previous: string; database: string; schema_from: number; schema_to: number; migrations_applied: number[] }>();
    expect(r).toMatchObject({ database: liveDb(h), schema_from: LATEST, schema_to: LATEST, migrations_applied: [] });
    expect(path.basename(r.previous)).toMatch(/^tau\.db\.bak-\d{8}T\d{6}Z$/);
    expect(facts(r.previous)).toMatchObject({ check: "ok", events: N });
    expect(facts(liveDb(h))).toMatchObject({ check: "ok", events: pick.events, cursorLine: pick.events });

    // The runner resumes at the restored cursor: exactly the events after it.
    const resumed = tau(h, ["process", "--once", "--json"]);
    expect(resumed.json()).toMatchObject({ processed: N - pick.events, failed: 0 });
    expect(facts(liveDb(h))).toMatchObject({ events: N, replies: N });
  }, 300_000);
});

describe("tau backup", () => {
  it("never overwrites unasked (exit 2), replaces with --force, and says so when there is no state (exit 2)", async () => {
    const h = home();
    h.open().close();
    const file = path.join(h.dir, "b.sqlite");
    fs.writeFileSync(file, "keep me");
    const refused = tau(h, ["backup", file, "--json"]);
    expect(refused.code).toBe(2);
    expect(refused.json()).toMatchObject({ error: { code: "USAGE_BACKUP_TARGET_EXISTS" } });
    expect(fs.readFileSync(file, "utf8")).toBe("keep me");
    const forced = tau(h, ["backup", file, "--force"]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`to ${file}`);
    expect(facts(file)).toMatchObject({ check: "ok", schema: LATEST, events: 0 });

    const empty = home();
    const missing = tau(empty, ["backup", path.join(empty.dir, "x.sqlite"), "--json"]);
    expect(missing.code).toBe(2);
    expect(missing.json()).toMatchObject({ error: { code: "STATE_MISSING" } });
    expect(fs.existsSync(empty.stateDir)).toBe(false);
  }, 120_000);
});

describe("tau restore checks what it is given", () => {
  it("refuses a missing file (exit 2), a text file, another SQLite database and a newer schema, touching nothing", async () => {
    const h = home();
    h.open().close();
    const before = fs.readFileSync(liveDb(h));
    const code = (file: string) => tau(h, ["restore", file, "--json"]);

    const missing = code(path.join(h.dir, "nope.sqlite"));
    expect(missing.code).toBe(2);
    expect(missing.json()).toMatchObject({ error: { code: "USAGE_RESTORE_FILE_MISSING" } });

    const text = path.join(h.dir, "notes.txt");
    fs.writeFileSync(text, "not a database at all, just some text that is long enough to look like a header".repeat(20));
    expect(code(text).json()).toMatchObject({ error: { code: "RESTORE_NOT_TAU_DATABASE" } });

    const foreign = path.join(h.dir, "other.sqlite");
    const db = new Database(foreign);
    db.exec("CREATE TABLE notes (x TEXT); PRAGMA user_version = 3;");
    db.close();
    const other = code(foreign);
    expect(other.code).toBe(1);
    expect(other.json()).toMatchObject({ error: { code: "RESTORE_NOT_TAU_DATABASE" } });

    const newer = path.join(h.dir, "newer.sqlite");
    expect(tau(h, ["backup", newer]).code).toBe(0);
    const n = new Database(newer);
    n.pragma(`user_version = ${LATEST + 1}`);
    n.close();
    expect(code(newer).json()).toMatchObject({
      error: { code: "RESTORE_SCHEMA_TOO_NEW", details: { schema_version: LATEST + 1, known: LATEST } },
    });

    expect(fs.readFileSync(liveDb(h)).equals(before)).toBe(true);
    expect(fs.readdirSync(h.stateDir).filter((f) => f.includes(".bak-") || f.startsWith(".restore-"))).toEqual([]);
  }, 120_000);

  it("restores an older tau database into an empty state folder and migrates it to this version", () => {
    const h = home();
    const old = path.join(h.dir, "old.sqlite");
    const db = new Database(old);
    db.exec(fs.readFileSync(path.join("src/store/migrations", MIGRATIONS[0]!), "utf8"));
    db.pragma("user_version = 1");
    db.close();

    const r = tau(h, ["restore", old, "--json"]);
    expect(r.code).toBe(0);
    expect(r.json()).toMatchObject({
      previous: null,
      schema_from: 1,
      schema_to: LATEST,
      migrations_applied: MIGRATIONS.slice(1).map((f) => Number(f.slice(0, 3))),
    });
    expect(facts(liveDb(h))).toMatchObject({ check: "ok", schema: LATEST });
    expect((fs.statSync(liveDb(h)).mode & 0o777).toString(8)).toBe("600");
    expect(tau(h, ["health", "--json"]).json()).toMatchObject({ state: expect.any(String) });
  }, 120_000);
});
