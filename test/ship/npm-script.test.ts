/**
 * `npm --prefix <checkout> run tau -- …` (the README's way from another folder) runs tau in the folder npm was started
 * from, so `./tau.yaml` and `./state` there are the ones read — not the checkout's (issue 13: the init'd tau.yaml was
 * never read).
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

let home: TauHome | null = null;
afterEach(() => home?.cleanup());

it("npm --prefix <checkout> run tau reads ./tau.yaml and ./state of the folder it was started in", () => {
  home = makeTauHome();
  home.open().close();
  const r = spawnSync("npm", ["--prefix", path.resolve("."), "run", "--silent", "tau", "--", "health", "--json"], {
    cwd: home.dir,
    encoding: "utf8",
    env: { ...process.env, TAU_LOG_LEVEL: "silent" },
    timeout: 120_000,
  });
  const health = JSON.parse(r.stdout) as { state: string; reason_codes: string[] };
  // The state made above exists; the checkout has no state database (that would be state_missing).
  expect(health.reason_codes).not.toContain("state_missing");
  expect(health.state).not.toBe("failing");
}, 180_000);
