/**
 * The package as npm ships it: `npm pack` carries the compiled CLI and nothing of the sources or tests, and the
 * unpacked package runs — init, ingest, process, health, backup — with only its runtime dependencies installed and
 * without tsx (issue 13: "no tsx at runtime", "npm pack ships only what runs").
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, packList, REPO, unpackPackage } from "../helpers/ship.ts";
import { HOME_IDENTITY_YAML } from "../helpers/tau-home.ts";

let tmp: string;
let pkg: string;

beforeAll(() => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tau-pack-"));
  // tsx left out on purpose: the shipped CLI must not need it.
  pkg = unpackPackage(tmp, ["tsx"]);
}, 600_000);
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function tau(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [path.join(pkg, "bin", "tau.js"), ...args], {
    cwd,
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", HOME: cwd, TAU_LOG_LEVEL: "silent" },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("npm pack", () => {
  it("lists the compiled CLI, its migrations, bin, README, LICENSE and CHANGELOG, and no sources, tests or scripts", () => {
    const files = packList();
    for (const f of [
      "bin/tau.js",
      "dist/lib/main.cjs",
      "dist/lib/main.cjs.cache",
      "dist/lib/worker.js",
      "dist/migrations/001-core.sql",
      "dist/build-stamp.json",
      "package.json",
    ])
      expect(files).toContain(f);
    for (const f of ["README.md", "LICENSE", "CHANGELOG.md"]) expect(files).toContain(f);
    expect(files.filter((f) => f.endsWith(".ts"))).toEqual([]);
    expect(files.filter((f) => /^(src|test|scripts|fixtures|policies|deploy|docs|state)\//.test(f))).toEqual([]);
    // dist/ holds the bundle, its code cache, the store's two workers, the migrations and the stamp: nothing else.
    const runs = /^dist\/(lib\/(main\.cjs|main\.cjs\.cache|worker\.js|metric-counts-worker\.js)|migrations\/.+\.sql|build-stamp\.json)$/;
    expect(files.filter((f) => f.startsWith("dist/") && !runs.test(f))).toEqual([]);
    // Every migration of the sources (SQLite, and their PostgreSQL twins in pg/) is in the package (read from disk at start).
    for (const sub of ["", "pg/"]) {
      const migrations = fs.readdirSync(path.join(REPO, "src/store/migrations", sub)).filter((f) => f.endsWith(".sql"));
      const shipped = files.filter(
        (f) => f.startsWith(`dist/migrations/${sub}`) && !f.slice(`dist/migrations/${sub}`.length).includes("/"),
      );
      expect(shipped.map((f) => path.basename(f))).toEqual(migrations.sort());
    }
  });

  it("the unpacked package runs from dist/ with its runtime dependencies only, no tsx", () => {
    expect(fs.existsSync(path.join(pkg, "src"))).toBe(false);
    expect(fs.existsSync(path.join(pkg, "node_modules", "tsx"))).toBe(false);
    const version = (JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string }).version;
    const home = path.join(tmp, "home");
    fs.mkdirSync(home);

    expect(tau(["--version"], home)).toMatchObject({ code: 0, stdout: `${version}\n` });
    expect(tau(["init", "--dir", home], home).code).toBe(0);
    expect(fs.existsSync(path.join(home, "policies", "channel-policy.yaml"))).toBe(true);
    // The fixtures' bot identity (tau init leaves it empty for the operator to fill in), with init's policies/.
    fs.writeFileSync(path.join(home, "tau.yaml"), `schema_version: 1\n${HOME_IDENTITY_YAML}`);
    const fixture = path.join(REPO, "fixtures/raw/telegram/private-text.json");
    const ingest = tau(["ingest", fixture, "--transport", "telegram"], home);
    expect(ingest).toMatchObject({ code: 0, stderr: "" });
    const processed = tau(["process", "--once", "--json"], home);
    expect(processed.code).toBe(0);
    expect(JSON.parse(processed.stdout)).toMatchObject({ processed: 1, failed: 0 });
    const health = tau(["health", "--json"], home);
    expect(JSON.parse(health.stdout)).toMatchObject({ state: expect.any(String) });
    const backup = tau(["backup", path.join(tmp, "b.sqlite"), "--json"], home);
    expect(backup.code).toBe(0);
    expect(JSON.parse(backup.stdout)).toMatchObject({ file: path.join(tmp, "b.sqlite") });
  });
});
