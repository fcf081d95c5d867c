/**
 * @module Composition root: config → store → senders → pipeline → runner. The only place that picks
 * concrete implementations (normalizers, request builders, responders).
 */
import path from "node:path";
import type { Transport } from "./contracts/envelope.ts";
import type { ChannelSender } from "./contracts/outbound.ts";
import { loadConfig, type Env, type LoadedConfig, type TauConfig } from "./config/index.ts";
import { createIngressWriter, type IngressWriter, type Normalizer } from "./ingress/index.ts";
import { createLogger, type Logger } from "./log.ts";
import { createDelivery } from "./outbound/deliver.ts";
import { buildPipeline } from "./router/pipeline.ts";
import { createDedupeStage } from "./router/stages/dedupe.ts";
import { createSelfBotFilterStage } from "./router/stages/self-bot-filter.ts";
import { createEventKindStage } from "./router/stages/event-kind.ts";
import { createPlaceholderPolicyStage } from "./router/stages/placeholder-policy.ts";
import { createDefaultRouteStage } from "./router/stages/default-route.ts";
import { createResponderStage } from "./router/stages/responder.ts";
import { builtinResponders } from "./responders/index.ts";
import { createRunner } from "./runner/runner.ts";
import { acquireLifetimeLock, createRunnerStore, openDatabase, type Db, type RunnerStore } from "./store/index.ts";
import { normalizeTelegramUpdate } from "../connectors/telegram/normalize.ts";
import { normalizeDiscordPayload } from "../connectors/discord/normalize.ts";
import { normalizeWhatsAppWebhook } from "../connectors/whatsapp/normalize.ts";
import { buildTelegramSendMessage } from "../connectors/telegram/request.ts";
import { buildDiscordCreateMessage } from "../connectors/discord/request.ts";
import { buildWhatsAppTextMessage } from "../connectors/whatsapp/request.ts";
import { buildEmailReply } from "../connectors/email/request.ts";

/** A clock in ms; injected everywhere so tests and replays are deterministic. */
export type Clock = () => number;

export interface AppOptions {
  stateDir: string;
  configPath?: string;
  env: Env;
  clock?: Clock;
  logger?: Logger;
}

/** The normalizer for a transport (email envelopes come only from the IMAP connector). */
export function normalizerFor(transport: Transport): Normalizer | null {
  switch (transport) {
    case "telegram":
      return normalizeTelegramUpdate;
    case "discord":
      return normalizeDiscordPayload;
    case "whatsapp":
      return normalizeWhatsAppWebhook;
    case "email":
      return null;
  }
}

/** Request shapers per transport, pointed at the configured API roots. */
export function createSenders(config: TauConfig): Map<Transport, ChannelSender> {
  const c = config.connectors;
  return new Map<Transport, ChannelSender>([
    ["telegram", { transport: "telegram", buildRequest: (job) => buildTelegramSendMessage(c.telegram.api_root, job) }],
    ["discord", { transport: "discord", buildRequest: (job) => buildDiscordCreateMessage(c.discord.api_root, job) }],
    ["whatsapp", { transport: "whatsapp", buildRequest: (job) => buildWhatsAppTextMessage(c.whatsapp.api_root, job) }],
    ["email", { transport: "email", buildRequest: (job) => buildEmailReply(job) }],
  ]);
}

export interface App {
  loaded: LoadedConfig;
  config: TauConfig;
  stateDir: string;
  db: Db;
  store: RunnerStore;
  clock: Clock;
  logger: Logger;
  close(): void;
}

/** Load config and open state. Every CLI command starts here. */
export function openApp(opts: AppOptions): App {
  const loaded = loadConfig({ configPath: opts.configPath, env: opts.env });
  const config = loaded.config;
  const stateDir = path.resolve(opts.stateDir);
  const db = openDatabase(stateDir);
  const store = createRunnerStore(db);
  const logger = opts.logger ?? createLogger({ level: config.log.level, includeIdentifiers: config.telemetry.include_identifiers });
  return { loaded, config, stateDir, db, store, clock: opts.clock ?? Date.now, logger, close: () => db.close() };
}

/** An ingress writer for this state dir. */
export function openIngressWriter(app: App, trustEnvelopes = false): IngressWriter {
  return createIngressWriter({ ingressDir: path.join(app.stateDir, "ingress"), maxLineBytes: app.config.ingress.max_line_bytes, trustEnvelopes });
}

/** The runner with the standard pipeline, holding the one-runner-per-state lock. */
export function createAppRunner(app: App) {
  const lock = acquireLifetimeLock(path.join(app.stateDir, "runner.lock"), "tau runner");
  const { config, store } = app;
  const responders = builtinResponders();
  const delivery = createDelivery({
    store,
    senders: createSenders(config),
    dryRunFile: path.join(app.stateDir, "outbox", "dry-run.ndjson"),
    clock: app.clock,
  });
  const runner = createRunner({
    config,
    stateDir: app.stateDir,
    store,
    clock: app.clock,
    logger: app.logger,
    delivery,
    buildPipeline: (seen) =>
      buildPipeline({
        dedupe: createDedupeStage(seen),
        selfBot: createSelfBotFilterStage(config.identity, new Set()),
        kind: createEventKindStage(),
        policy: [createPlaceholderPolicyStage()],
        route: createDefaultRouteStage(),
        dispatch: createResponderStage({
          responders,
          coalesceWindowMs: config.runner.coalesce_window_ms,
          lastResponderAt: (k) => store.lastResponderAt(k),
          markResponder: (k, at) => store.putResponderAt(k, at),
        }),
      }),
  });
  return {
    runner,
    close() {
      runner.close();
      lock.release();
    },
  };
}
