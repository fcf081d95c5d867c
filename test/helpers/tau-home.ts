/** @module Test helper: a temporary tau home (tau.yaml + state dir) and an in-process app over it. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openApp, type App } from "../../src/main.ts";

export interface TauHome {
  dir: string;
  stateDir: string;
  configPath: string;
  open(clock?: () => number): App;
  cleanup(): void;
}

/** Identity used by every fixture (same as test/helpers/identity.ts). */
export const HOME_IDENTITY_YAML = `identity:
  telegram: { bot_id: "6112", username: "tau_ops_bot" }
  discord: { user_id: "1100000000000000001", application_id: "1100000000000000001" }
  whatsapp: { phone_number_id: "106540352242922" }
  email: { account_id: ops }
`;

/** Create a temp dir with a tau.yaml; `extraYaml` is appended (top-level keys). */
export function makeTauHome(extraYaml = "runner:\n  coalesce_window_ms: 0\n"): TauHome {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-test-"));
  const configPath = path.join(dir, "tau.yaml");
  fs.writeFileSync(configPath, `schema_version: 1\nlog:\n  level: error\n${HOME_IDENTITY_YAML}${extraYaml}`);
  const stateDir = path.join(dir, "state");
  return {
    dir,
    stateDir,
    configPath,
    open: (clock) => openApp({ stateDir, configPath, env: {}, clock }),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
