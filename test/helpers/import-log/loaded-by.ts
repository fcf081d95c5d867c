/** @module Test helper: run the real `bin/tau.js` in a child with the import-log hook and list the modules it loaded. */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const TAU = path.resolve("bin/tau.js");
const REGISTER = path.resolve("test/helpers/import-log/register.mjs");

/**
 * Run bin/tau.js with `args`: its exit code, output and the modules it loaded — ours only, once each, repo-relative and
 * named as their sources (`dist/x.js` → `x.ts`), so compiled and source runs compare alike.
 */
export function loadedBy(args: string[], cwd = os.tmpdir()): { code: number | null; stdout: string; stderr: string; modules: string[] } {
  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tau-imports-")), "imports.txt");
  const r = spawnSync(process.execPath, ["--import", REGISTER, TAU, ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, TAU_LOG_LEVEL: "silent", TAU_TEST_IMPORT_LOG: log },
    timeout: 60_000,
  });
  const repo = `file://${path.resolve(".")}/`;
  const modules = (fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "")
    .split("\n")
    .filter((u) => u.startsWith(repo) && !u.includes("/node_modules/"))
    .map((u) =>
      u
        .slice(repo.length)
        .replace(/^dist\//, "")
        .replace(/\.js$/, ".ts"),
    );
  fs.rmSync(path.dirname(log), { recursive: true, force: true });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, modules: [...new Set(modules)] };
}
