/**
 * @module Test helper: a real PostgreSQL server (Debian `postgresql`, initdb + pg_ctl) in a temp dir, listening on a
 * free loopback port with its unix socket in that dir, fsync off (tests only; `{ durable: true }` runs it as shipped —
 * fsync, synchronous_commit and full_page_writes on, default shared_buffers — for benchmarks). Run as the `postgres` user through
 * `runuser` when the tests run as root (PostgreSQL refuses root). `createDatabase()` gives each test a fresh database
 * (isolation); `stop()` ends the server and removes the dir; every server still alive when the test process exits is
 * stopped (immediate shutdown) and its dir removed.
 */
import { execFileSync, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { freePort } from "./free-port.ts";

export interface TestPostgres {
  /** `postgres://tau:<password>@127.0.0.1:<port>/postgres` (a superuser; password auth on TCP). */
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  /** The data directory (`PGDATA`). */
  dataDir: string;
  /** Create a fresh database (a random name unless given) and return its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Fast shutdown, then the temp dir is removed. Idempotent. */
  stop(): Promise<void>;
  /** Stop the server but keep the data dir (`start()` brings it back on the same port). */
  pause(): Promise<void>;
  /** Start again after `pause()`. */
  start(): Promise<void>;
}

const HOST = "127.0.0.1";
const USER = "tau";

/** The directory holding initdb/pg_ctl: PATH first, then the Debian locations (newest major first). */
export function postgresBinDir(): string | null {
  const candidates = (process.env.PATH ?? "").split(":").filter(Boolean);
  try {
    const majors = fs
      .readdirSync("/usr/lib/postgresql")
      .filter((d) => /^\d+$/.test(d))
      .sort((a, b) => Number(b) - Number(a));
    for (const m of majors) candidates.push(`/usr/lib/postgresql/${m}/bin`);
  } catch {
    /* not Debian */
  }
  for (const dir of candidates) {
    try {
      fs.accessSync(path.join(dir, "pg_ctl"), fs.constants.X_OK);
      fs.accessSync(path.join(dir, "initdb"), fs.constants.X_OK);
      return dir;
    } catch {
      /* next */
    }
  }
  return null;
}

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

/** Run a PostgreSQL binary, as the `postgres` user when we are root. */
function runPg(bin: string, args: string[], opts: { cwd: string }): void {
  const [cmd, argv] = isRoot ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];
  const r = spawnSync(cmd, argv, { cwd: opts.cwd, encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) {
    throw new Error(`${path.basename(bin)} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout || r.error?.message}`);
  }
}

interface Live {
  dataDir: string;
  root: string;
}
const live = new Set<Live>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const s of live) {
      // Immediate shutdown (SIGQUIT to the postmaster): synchronous and quick, fine for a throwaway test cluster.
      try {
        const pid = Number(fs.readFileSync(path.join(s.dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
        if (pid > 0) process.kill(pid, "SIGQUIT");
      } catch {
        /* not running */
      }
      fs.rmSync(s.root, { recursive: true, force: true });
    }
  });
}

export interface StartPostgresOptions {
  /** Durability as shipped (fsync, synchronous_commit, full_page_writes on; default shared_buffers): benchmarks. Default false (tests). */
  durable?: boolean;
}

/** Start a throwaway PostgreSQL server; resolves once it accepts connections. */
export async function startPostgres(opts: StartPostgresOptions = {}): Promise<TestPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL binaries (initdb, pg_ctl) not found: install the Debian package `postgresql`");
  installExitHook();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "tau-pg-"));
  const dataDir = path.join(root, "data");
  const sockDir = path.join(root, "sock");
  fs.mkdirSync(sockDir);
  if (isRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    fs.chownSync(root, uid, gid);
    fs.chownSync(sockDir, uid, gid);
  }
  const password = crypto.randomBytes(12).toString("hex");
  const pwFile = path.join(root, "pw");
  fs.writeFileSync(pwFile, password, { mode: 0o600 });
  if (isRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    fs.chownSync(pwFile, uid, -1);
  }
  const entry: Live = { dataDir, root };
  live.add(entry);
  runPg(
    path.join(bin, "initdb"),
    [
      "-D",
      dataDir,
      "-U",
      USER,
      `--pwfile=${pwFile}`,
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
    ],
    { cwd: root },
  );
  fs.rmSync(pwFile, { force: true });
  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${sockDir}`,
    `-c listen_addresses=${HOST}`,
    ...(opts.durable ? [] : ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off", "-c shared_buffers=32MB"]),
    "-c max_connections=100",
  ].join(" ");
  const start = async () => {
    runPg(path.join(bin, "pg_ctl"), ["-D", dataDir, "-l", path.join(root, "server.log"), "-o", options, "-w", "-t", "60", "start"], {
      cwd: root,
    });
  };
  const halt = async () => {
    if (!fs.existsSync(path.join(dataDir, "postmaster.pid"))) return;
    runPg(path.join(bin, "pg_ctl"), ["-D", dataDir, "-m", "fast", "-w", "-t", "60", "stop"], { cwd: root });
  };
  await start();
  const base = `postgres://${USER}:${password}@${HOST}:${port}`;
  let stopped = false;
  return {
    url: `${base}/postgres`,
    host: HOST,
    port,
    user: USER,
    password,
    dataDir,
    async createDatabase(name?: string): Promise<string> {
      const db = name ?? `t_${crypto.randomBytes(6).toString("hex")}`;
      if (!/^[a-z_][a-z0-9_]*$/.test(db)) throw new Error(`database name ${db} must be a plain lower-case identifier`);
      const client = new pg.Client({ connectionString: `${base}/postgres` });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${db}`);
      } finally {
        await client.end();
      }
      return `${base}/${db}`;
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      try {
        await halt();
      } finally {
        live.delete(entry);
        fs.rmSync(root, { recursive: true, force: true });
      }
    },
    pause: halt,
    start,
  };
}

/**
 * One PostgreSQL for a test file: started before its tests (initdb takes a while: 120 s bound), stopped after them.
 * Returns the running server (call it inside tests and hooks).
 */
export function postgresForFile(opts: StartPostgresOptions = {}): () => TestPostgres {
  let server: TestPostgres | undefined;
  beforeAll(async () => {
    server = await startPostgres(opts);
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (!server) throw new Error("PostgreSQL is not started yet: call this inside a test or hook");
    return server;
  };
}
