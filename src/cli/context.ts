/** @module Open the app for a CLI command from the global options. */
import type { Command } from "commander";
import { readProcessEnv } from "../config/index.ts";
import { openApp, type App } from "../app/index.ts";
import type { GlobalOptions } from "./output.ts";

/** Global options merged from the root program (`--state-dir`, `--config`) and the command (`--json`). */
export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

export function appFor(cmd: Command): App {
  const g = globals(cmd);
  return openApp({ stateDir: g.stateDir, configPath: g.config, env: readProcessEnv() });
}

import { createServices } from "../app/index.ts";
import type { Services } from "../capabilities/services.ts";

/** Open the app and its services (registry, policies, audit) for a command. Close with `app.close()`. */
export function servicesFor(cmd: Command): { app: App; services: Services } {
  const app = appFor(cmd);
  try {
    return { app, services: createServices(app) };
  } catch (err) {
    app.close();
    throw err;
  }
}
