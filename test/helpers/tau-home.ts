/** @module Test helper: a temporary tau home (tau.yaml + state dir) and an in-process app over it. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openApp, type App } from "../../src/app/index.ts";

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

/** A channel policy that admits everyone everywhere: for runner mechanics tests, not policy tests. */
export const OPEN_CHANNEL_POLICY = `schema_version: 1
defaultPolicy: { dmPolicy: allow, allowFrom: any, groupPolicy: allow, requireMention: false }
`;

/** Create a temp dir with a tau.yaml (`extraYaml` appended) and policies/ files (name → YAML). */
export function makeTauHome(
  extraYaml = "runner:\n  coalesce_window_ms: 0\n",
  policies: Record<string, string> = { "channel-policy.yaml": OPEN_CHANNEL_POLICY },
): TauHome {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-test-"));
  fs.mkdirSync(path.join(dir, "policies"));
  for (const [name, text] of Object.entries(policies)) fs.writeFileSync(path.join(dir, "policies", name), text);
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
