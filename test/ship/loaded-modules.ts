/**
 * @module Test helper for test/ship: run the real `bin/tau.js` in a child and list which of our modules it ran, whether
 * it ran the build or the sources. From the sources (tsx) each module is a file the module loader loads, logged by a
 * loader hook (test/helpers/import-log); the build is one bundled file (scripts/build.ts) whose modules announce
 * themselves to a probe (test/ship/module-probe.mjs) as they start. Either way the list names the sources
 * (`src/cli/main.ts`), so the same checks apply to both.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const TAU = path.resolve("bin/tau.js");
const REGISTER = path.resolve("test/helpers/import-log/register.mjs");
const PROBE = path.resolve("test/ship/module-probe.mjs");

const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean) : []);

/** Run bin/tau.js with `args`: exit code, output, our modules it ran (repo-relative sources) and whether it ran the build. */
export function loadedModules(
  args: string[],
  cwd = os.tmpdir(),
): { code: number | null; stdout: string; stderr: string; modules: string[]; bundled: boolean } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-modules-"));
  const importLog = path.join(dir, "imports.txt");
  const probeLog = path.join(dir, "probe.txt");
  try {
    const r = spawnSync(process.execPath, ["--import", REGISTER, "--import", PROBE, TAU, ...args], {
      cwd,
      encoding: "utf8",
      env: { ...process.env, TAU_LOG_LEVEL: "silent", TAU_TEST_IMPORT_LOG: importLog, TAUTEST_MODULE_PROBE: probeLog },
      timeout: 60_000,
    });
    const repo = `file://${path.resolve(".")}/`;
    const loaded = lines(importLog)
      .filter((u) => u.startsWith(repo) && !u.includes("/node_modules/"))
      .map((u) => u.slice(repo.length))
      .filter((m) => /^(src|connectors)\//.test(m));
    const probed = lines(probeLog);
    return {
      code: r.status,
      stdout: r.stdout,
      stderr: r.stderr,
      modules: [...new Set([...loaded, ...probed])],
      bundled: probed.length > 0,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
