/**
 * The build is one bundled CommonJS file compiled with a recorded V8 code cache (scripts/build.ts; issue 13: `tau
 * health` within 3× of `node -e 0`, whose start-up went to loading and compiling ~200 ES modules). What the bundle must
 * keep: every lazy `import()` lazy (a command runs the modules it ran from the sources), the files found beside the code
 * at run time (the PostgreSQL worker, the migrations), and a real `bin/tau.js` running it when dist/ is fresh.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres } from "../helpers/postgres.ts";
import { ensureBuilt, REPO } from "../helpers/ship.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";
import { loadedModules } from "./loaded-modules.ts";

const homes: TauHome[] = [];
const lib = path.join(REPO, "dist", "lib");

beforeAll(() => ensureBuilt(), 600_000);
afterAll(() => homes.forEach((h) => h.cleanup()));

describe("the bundled CLI", () => {
  it("runs when dist/ is fresh, and tau health runs the health command's modules, none of another command or the runtime", () => {
    const h = makeTauHome();
    homes.push(h);
    h.open().close();
    const r = loadedModules(["--state-dir", h.stateDir, "--config", h.configPath, "health", "--json"]);
    expect(r.bundled).toBe(true);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: expect.any(String) });
    expect(r.modules).toContain("src/cli/observe.ts");
    expect(r.modules).toContain("src/app/health-verdict.ts");
    for (const other of ["src/cli/ingest.ts", "src/cli/process.ts", "src/cli/run.ts", "src/cli/status-sections.ts"])
      expect(r.modules).not.toContain(other);
    // The composition root, the runtime and the connectors stay out, as from the sources (test/ship/health-lean.test.ts).
    expect(
      r.modules.filter((m) => /^src\/(router|outbound|runner)\/|^src\/app\/(index|registry|services)\.ts$|^connectors\//.test(m)),
    ).toEqual([]);
  });

  it("tau --version runs the CLI's table and no command module", () => {
    const r = loadedModules(["--version"]);
    expect(r.bundled).toBe(true);
    expect(r.modules).toContain("src/cli/main.ts");
    expect(r.modules.filter((m) => /^src\/(app|store|capabilities)\//.test(m) && m !== "src/app/package-info.ts")).toEqual([]);
    expect(r.modules).not.toContain("src/config/schema.ts");
  });

  it("ships a code cache V8 takes under the flag tau runs with", () => {
    const file = path.join(lib, "main.cjs");
    // What bin/tau.js does, in a child started as the shebang starts it: V8 says whether it took the cache.
    const probe = `const fs=require("fs"),vm=require("vm"),M=require("module");const s=new vm.Script(M.wrap(fs.readFileSync(${JSON.stringify(file)},"utf8")),{filename:${JSON.stringify(file)},cachedData:fs.readFileSync(${JSON.stringify(`${file}.cache`)})});process.stdout.write(String(s.cachedDataRejected))`;
    const r = spawnSync(process.execPath, ["--max-semi-space-size=4", "-e", probe], { encoding: "utf8" });
    expect(r.stdout).toBe("false");
  });

  it("on PostgreSQL the bundled CLI starts the bridge's worker from beside it and applies the shipped migrations", async () => {
    const pg = await startPostgres();
    try {
      const h = makeTauHome();
      homes.push(h);
      const url = await pg.createDatabase();
      const run = (args: string[]) =>
        spawnSync(
          process.execPath,
          ["--max-semi-space-size=4", path.join(REPO, "bin", "tau.js"), "--state-dir", h.stateDir, "--config", h.configPath, ...args],
          {
            encoding: "utf8",
            env: { ...process.env, TAU_LOG_LEVEL: "silent", TAU_STORE_DRIVER: "postgres", TAU_DATABASE_URL: url },
            timeout: 60_000,
          },
        );
      const processed = run(["process", "--once", "--json"]);
      expect(processed.stderr).toBe("");
      expect(JSON.parse(processed.stdout)).toMatchObject({ processed: 0, failed: 0 });
      const health = run(["health", "--json"]);
      expect(JSON.parse(health.stdout)).toMatchObject({ state: expect.any(String) });
    } finally {
      await pg.stop();
    }
  }, 120_000);

  it("is ASCII (one other character and V8 keeps the whole source at two bytes a character in every process)", () => {
    const text = fs.readFileSync(path.join(lib, "main.cjs"), "latin1");
    expect(text.match(/[^\x00-\x7f]+.{0,20}/)?.[0] ?? null).toBeNull();
  });

  it("the shipped metrics worker answers the /metrics scans over a state database", async () => {
    const h = makeTauHome();
    homes.push(h);
    h.open().close();
    const w = new Worker(path.join(lib, "metric-counts-worker.js"), { workerData: { dbFile: path.join(h.stateDir, "tau.db") } });
    try {
      const reply = await new Promise<{ id: number; counts?: unknown; error?: string }>((resolve, reject) => {
        w.once("message", resolve);
        w.once("error", reject);
        w.postMessage({ id: 7 });
      });
      expect(reply).toEqual({ id: 7, counts: { deniedByReason: {}, deliveriesByReason: {}, deliveriesByTransport: [] } });
    } finally {
      await w.terminate();
    }
  });

  it("the store's workers (PostgreSQL, metrics) are beside the CLI that starts them, and the migrations where the store looks", () => {
    // bridge.ts starts `new URL("./worker.js", import.meta.url)`, and import.meta.url is main.cjs's in the bundle.
    expect(fs.existsSync(path.join(lib, "worker.js"))).toBe(true);
    expect(fs.readFileSync(path.join(lib, "worker.js"), "utf8")).toContain('"src/store/pg/worker.ts"');
    // metric-counts.ts starts `new URL("./metric-counts-worker.js", import.meta.url)` the same way (the /metrics scans).
    expect(fs.readFileSync(path.join(lib, "metric-counts-worker.js"), "utf8")).toContain('"src/store/metric-counts-worker.ts"');
    // db.ts and pg/migrate.ts look one folder above the bundle.
    for (const sub of ["", "pg"]) {
      const shipped = fs.readdirSync(path.join(REPO, "dist", "migrations", sub)).filter((f) => f.endsWith(".sql"));
      const sources = fs.readdirSync(path.join(REPO, "src/store/migrations", sub)).filter((f) => f.endsWith(".sql"));
      expect(shipped.sort()).toEqual(sources.sort());
    }
  });
});
