/**
 * @module Open the app for a read-only command: state opened for reading only (src/app/open-read-only.ts). A missing
 * state folder is reported as `state_missing` with exit 2 — never a fresh `./state/tau.db`.
 */
import type { Command } from "commander";
import { readProcessEnv } from "../config/index.ts";
import { openAppReadOnly } from "../app/open-read-only.ts";
import type { App } from "../app/open-app.ts";
import { TauError } from "../contracts/errors.ts";
import { globals } from "./context.ts";
import { reportError } from "./output.ts";

export function readOnlyAppFor(cmd: Command): App {
  const g = globals(cmd);
  return openAppReadOnly({ stateDir: g.stateDir, configPath: g.config, env: readProcessEnv() });
}

/** True for the error a missing state folder or database raises. */
export function isStateMissing(err: unknown): err is TauError {
  return err instanceof TauError && err.code === "STATE_MISSING";
}

/** Run `fn` over a read-only app, closing it after; a missing state is printed as such with exit 2. */
export async function withReadOnlyApp(cmd: Command, fn: (app: App) => void | Promise<void>): Promise<void> {
  let app: App;
  try {
    app = readOnlyAppFor(cmd);
  } catch (err) {
    if (!isStateMissing(err)) throw err;
    reportError(err, globals(cmd).json);
    process.exitCode = 2;
    return;
  }
  try {
    await fn(app);
  } finally {
    app.close();
  }
}
