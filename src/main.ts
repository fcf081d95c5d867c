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
import { createChannelPolicyStage } from "./router/stages/channel-policy.ts";
import { createAccessStage } from "./router/stages/access.ts";
import { createRouteStage } from "./router/stages/route.ts";
import { createCommandStage } from "./router/stages/command.ts";
import { compose } from "./router/compose.ts";
import type { EventContext } from "./router/context.ts";
import { randomBytes as cryptoRandomBytes, createHash } from "node:crypto";
import { appendAudit, type AuditEntry } from "./audit/audit-log.ts";
import { createPolicyManager, type PolicyManager } from "./config/policy-manager.ts";
import { CapabilityRegistry } from "./commands/registry.ts";
import type { Services } from "./commands/services.ts";
import { CORE_CAPABILITIES } from "./commands/core/index.ts";
import { createJobRunner } from "./commands/job-runner.ts";
import { parseTauCommand } from "./commands/parse-command.ts";
import { queueReplies } from "./outbound/outbox.ts";
import { SECRET_ENV, type SecretId } from "./config/index.ts";
import { healthOf } from "./observability/health-of.ts";
import type { HealthReport } from "./observability/health.ts";
import { commsReplayPending } from "./capabilities/communications/replay-pending.ts";
import { createProviderDelivery } from "./outbound/provider.ts";
import { createProviderSenders } from "./outbound/senders.ts";
import { createReceiptRecorder } from "./outbound/receipts.ts";
import { createTransportGateStage } from "./router/stages/transport-gate.ts";
import { createRespondersGateStage } from "./router/stages/responders-gate.ts";
import { KILLSWITCH_CAPABILITIES, createOperationalGate, type OperationalGate } from "./killswitch/index.ts";
import { COMMS_SEND_CAPABILITIES } from "./capabilities/communications/index.ts";
import { MAIL_CAPABILITIES } from "./capabilities/mail/index.ts";
import { createResponderStage } from "./router/stages/responder.ts";
import { builtinResponders } from "./responders/index.ts";
import { createRunner } from "./runner/runner.ts";
import { replyTargetOf } from "./runner/reply-target.ts";
import { acquireLifetimeLock, createAccessStore, createCommandStore, createRunnerStore, openDatabase, type Db, type RunnerStore } from "./store/index.ts";
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
  /** Randomness for pairing codes and ids; replays inject a seeded source. */
  randomBytes?: (n: number) => Uint8Array;
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
  env: Env;
  stateDir: string;
  db: Db;
  store: RunnerStore;
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
  const db = openDatabase(stateDir);
  const store = createRunnerStore(db);
  const logger = opts.logger ?? createLogger({ level: config.log.level, includeIdentifiers: config.telemetry.include_identifiers });
  return {
    loaded,
    config,
    env: opts.env,
    stateDir,
    db,
    store,
    clock: opts.clock ?? Date.now,
    logger,
    randomBytes: opts.randomBytes ?? ((n) => cryptoRandomBytes(n)),
    close: () => db.close(),
  };
}

/** An ingress writer for this state dir. */
export function openIngressWriter(app: App, trustEnvelopes = false): IngressWriter {
  return createIngressWriter({ ingressDir: path.join(app.stateDir, "ingress"), maxLineBytes: app.config.ingress.max_line_bytes, trustEnvelopes });
}

/** Health of this app: what the core tables say, plus live email/SMS sends waiting for a dead-letter replay. */
export function healthFor(app: App): HealthReport {
  return healthOf(app, { commsReplayPending: commsReplayPending(app.db, app.loaded.policiesDir) });
}

/** Every capability tau ships, in one registry (CLI and chat). */
export function createRegistry(): CapabilityRegistry {
  return new CapabilityRegistry().register(...CORE_CAPABILITIES, ...KILLSWITCH_CAPABILITIES, ...COMMS_SEND_CAPABILITIES, ...MAIL_CAPABILITIES);
}

/** A secret by integration id: the environment first (PRODUCT.md §8 names), then the integration store. */
export function lookupSecret(app: App, id: string): string | null {
  const envName = SECRET_ENV[id as SecretId];
  const fromEnv = envName ? app.env[envName] : undefined;
  if (fromEnv) return fromEnv;
  const row = app.db.prepare("SELECT value FROM secrets WHERE id = ?").pluck().get(id) as string | undefined;
  return row ?? null;
}

/** The services capabilities use, over one open app. */
export function createServices(app: App, registry: CapabilityRegistry = createRegistry(), policies?: PolicyManager): Services {
  const pm = policies ?? createPolicyManager(app.loaded.policiesDir, { get: (k) => app.store.getKv(k), put: (k, v) => app.store.putKv(k, v) }, app.clock);
  const services: Services = {
    config: app.config,
    stateDir: app.stateDir,
    policiesDir: app.loaded.policiesDir,
    db: app.db,
    store: app.store,
    access: createAccessStore(app.db),
    registry,
    policies: pm,
    clock: app.clock,
    audit: (entry: AuditEntry) => void appendAudit(app.db, entry, app.clock()),
    health: () => healthFor(app),
    randomBytes: app.randomBytes,
    secret: (id) => lookupSecret(app, id),
    queueMessage: (target, text, purpose, idempotencyKey) => {
      const id = "ob_" + createHash("sha256").update(`msg\u0000${idempotencyKey}`).digest("hex").slice(0, 24);
      app.db.transaction(() => {
        if (app.store.getOutbox(id)) return;
        queueReplies(app.store, null, target, [{ purpose, text }], { mode: app.config.outbound.mode, maxChars: app.config.outbound.max_chars, now: app.clock() }, () => id);
      })();
      return id;
    },
  };
  return services;
}

/** The full decision pipeline (PRODUCT.md §5) over the given services. */
export function createDecisionPipeline(services: Services, seen: (eventId: string) => boolean, gate?: OperationalGate): (ctx: EventContext) => void {
  const { config, store } = services;
  const opGate = gate ?? createOperationalGate(services.db, services.clock);
  const policies = () => services.policies.current();
  const prefix = config.commands.prefix;
  const botUsername = (t: string) => (t === "telegram" ? config.identity.telegram.username || null : null);
  const isCommand = (text: string) => parseTauCommand(text, { prefix, botUsername: null }).kind !== "none";
  const responder = createResponderStage({
    responders: builtinResponders(),
    coalesceWindowMs: config.runner.coalesce_window_ms,
    lastResponderAt: (k) => store.lastResponderAt(k),
    markResponder: (k, at) => store.putResponderAt(k, at),
    identity: config.identity,
  });
  const command = createCommandStage({ prefix, botUsername, registry: services.registry, policies, commands: createCommandStore(services.db), audit: services.audit, approvalTtlMs: 10 * 60_000 });
  return buildPipeline({
    dedupe: createDedupeStage(seen),
    selfBot: createSelfBotFilterStage(config.identity, new Set()),
    gate: createTransportGateStage((t) => opGate.transportBlock(t)),
    kind: createEventKindStage(createReceiptRecorder(store)),
    policy: [createChannelPolicyStage(policies), createAccessStage({ policies, access: services.access, randomBytes: services.randomBytes, audit: services.audit, commandPrefix: prefix })],
    route: createRouteStage(policies, isCommand),
    dispatch: compose<EventContext>([command, createRespondersGateStage(() => opGate.respondersSilenced()), responder]),
  });
}

/** The runner with the standard pipeline and job execution, holding the one-runner-per-state lock. */
export function createAppRunner(app: App, opts: { services?: Services } = {}) {
  const lock = acquireLifetimeLock(path.join(app.stateDir, "runner.lock"), "tau runner");
  const { config, store } = app;
  const services = opts.services ?? createServices(app);
  const commands = createCommandStore(app.db);
  const jobs = createJobRunner(services, commands);
  const gate = createOperationalGate(app.db, app.clock);
  const delivery = createDelivery({
    store,
    senders: createSenders(config),
    dryRunFile: path.join(app.stateDir, "outbox", "dry-run.ndjson"),
    provider: createProviderDelivery({ store, senders: createProviderSenders(config, (id) => lookupSecret(app, id), app.loaded.policiesDir), retry: config.outbound, clock: app.clock, logger: app.logger }),
    blocked: (t) => gate.deliveryBlock(t),
    clock: app.clock,
  });
  const runner = createRunner({
    config,
    stateDir: app.stateDir,
    store,
    clock: app.clock,
    logger: app.logger,
    delivery,
    buildPipeline: (seen) => createDecisionPipeline(services, seen, gate),
    persistExtras: (ctx) => {
      ctx.jobs.forEach((j, i) => {
        commands.insertJob(
          {
            job_id: "job_" + createHash("sha256").update(`${ctx.env.event_id}\u0000${i}`).digest("hex").slice(0, 24),
            event_id: ctx.env.event_id,
            capability_id: j.capability_id,
            command: j.command,
            args: JSON.stringify(j.args),
            principal: j.principal,
            role: j.role,
            approval_id: j.approval_id,
            reply_target: JSON.stringify(replyTargetOf(ctx.env)),
          },
          ctx.now,
        );
      });
    },
    afterCommit: async (fresh) => {
      await jobs.runQueued(fresh);
    },
    onStart: () => {
      jobs.recover();
    },
  });
  return {
    runner,
    services,
    close() {
      runner.close();
      lock.release();
    },
  };
}
