/**
 * @module Open the app for a read-only command (`tau health`, `tau status`, `tau events`, `tau traces`, `tau export`,
 * `tau incident list|show`): config as usual, state opened for reading only — a missing state folder is the error
 * `state_missing` (exit 2), never a fresh `./state/tau.db`, and nothing is created or chmodded, so a monitoring user
 * who may only read the state gets the same answer as the service.
 */
import path from "node:path";
import { randomBytes as cryptoRandomBytes } from "node:crypto";
import type { Clock } from "../contracts/clock.ts";
import { loadConfig, type Env } from "../config/index.ts";
import { createLogger } from "../log.ts";
import { openStore } from "../store/index.ts";
import type { App } from "./open-app.ts";

export function openAppReadOnly(opts: { stateDir: string; configPath?: string; env: Env; clock?: Clock }): App {
  const loaded = loadConfig({ configPath: opts.configPath, env: opts.env });
  const config = loaded.config;
  const stateDir = path.resolve(opts.stateDir);
  const store = openStore(stateDir, {
    readonly: true,
    secretsKey: opts.env.TAU_SECRETS_KEY,
    driver: config.store.driver,
    databaseUrl: opts.env.TAU_DATABASE_URL,
    urlSecret: config.store.url_secret,
  });
  return {
    loaded,
    config,
    env: opts.env,
    stateDir,
    store,
    clock: opts.clock ?? Date.now,
    logger: createLogger({
      level: config.log.level,
      format: config.log.format,
      includeIdentifiers: config.telemetry.include_identifiers,
    }),
    randomBytes: (n) => cryptoRandomBytes(n),
    close: () => store.close(),
  };
}
