/** @module Open the app: config, state behind the Store port, the clock, the logger and randomness. Every CLI command starts here. */
import type { Clock } from "../contracts/clock.ts";
import path from "node:path";
import { loadConfig, type Env, type LoadedConfig, type TauConfig } from "../config/index.ts";
import { openConfiguredIngressWriter, type IngressWriter } from "../ingress/index.ts";
import { createLogger, type Logger } from "../log.ts";
import { randomBytes as cryptoRandomBytes } from "node:crypto";
import { openStore, type DurabilityMode, type Store } from "../store/index.ts";

interface AppOptions {
  stateDir: string;
  configPath?: string;
  env: Env;
  clock?: Clock;
  logger?: Logger;
  /** Randomness for pairing codes and ids; replays inject a seeded source. */
  randomBytes?: (n: number) => Uint8Array;
  /** SQLite: `before-effects` for the service processes (`tau run`, `tau process`), see src/store/durability.ts. */
  durability?: DurabilityMode;
}

export interface App {
  loaded: LoadedConfig;
  config: TauConfig;
  env: Env;
  stateDir: string;
  store: Store;
  clock: Clock;
  logger: Logger;
  randomBytes: (n: number) => Uint8Array;
  close(): void;
}

/** Load config and open state. Every CLI command starts here. */
export function openApp(opts: AppOptions): App {
  const loaded = loadConfig({ configPath: opts.configPath, env: opts.env });
  const config = loaded.config;
  const stateDir = path.resolve(opts.stateDir);
  const store = openStore(stateDir, {
    secretsKey: opts.env.TAU_SECRETS_KEY,
    driver: config.store.driver,
    databaseUrl: opts.env.TAU_DATABASE_URL,
    urlSecret: config.store.url_secret,
    durability: opts.durability,
  });
  const logger =
    opts.logger ??
    createLogger({ level: config.log.level, format: config.log.format, includeIdentifiers: config.telemetry.include_identifiers });
  return {
    loaded,
    config,
    env: opts.env,
    stateDir,
    store,
    clock: opts.clock ?? Date.now,
    logger,
    randomBytes: opts.randomBytes ?? ((n) => cryptoRandomBytes(n)),
    close: () => store.close(),
  };
}

/** An ingress writer for this state dir: NDJSON files, or JetStream when `ingress.driver: nats`. */
export function openIngressWriter(app: App, trustEnvelopes = false): IngressWriter {
  return openConfiguredIngressWriter(app.config, app.stateDir, trustEnvelopes);
}
