/**
 * @module Open the app for a CLI command from the global options. Light on purpose (`tau health`, `tau ingest` load
 * it): the app and its store only; a command that needs services (registry, policies, audit) imports
 * src/cli/services-for.ts.
 */
import type { Command } from "commander";
import { readProcessEnv } from "../config/index.ts";
import { openApp, type App } from "../app/open-app.ts";
import type { DurabilityMode } from "../store/index.ts";
import type { GlobalOptions } from "./output.ts";

/** Global options merged from the root program (`--state-dir`, `--config`) and the command (`--json`). */
export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

/** `durability: "before-effects"` for the service processes (src/store/durability.ts); other commands fsync each commit. */
export function appFor(cmd: Command, opts: { durability?: DurabilityMode } = {}): App {
  const g = globals(cmd);
  return openApp({ stateDir: g.stateDir, configPath: g.config, env: readProcessEnv(), durability: opts.durability });
}
