/**
 * @module Composition for running connectors: builds the enabled connectors from `app.config.connectors`
 * with deps from the app (one durable ingress writer, cursors in the kv table, secrets, child loggers),
 * honours `tau channel logout` (kv `lifecycle:<transport>`, re-checked every 5 s), and persists each
 * connector's status to kv `connector_status:<transport>` so `tau connectors status` works from another
 * process. Pollers that must run on one node only (Telegram getUpdates, the Discord gateway or REST polling, IMAP)
 * run only while this node holds the lease `poller:<transport>:<account>` (cluster.ts): on loss they stop at once,
 * on acquisition they resume from the shared cursor, and their cursor writes are fenced by the lease. Webhook
 * intake runs on every node.
 */
import { tokenSealOf } from "./token-seal.ts";
import { TRANSPORTS, type Transport } from "../contracts/envelope.ts";
import { describeError, TauError } from "../contracts/errors.ts";
import type { IngressWriter } from "../ingress/index.ts";
import { lookupSecret, openIngressWriter, type App } from "./index.ts";
import { connectorStatusKey, connectorsNotLive } from "../health/connector-liveness.ts";
import { readConnectorFacts } from "../health/health-facts.ts";
import { isLoggedOut as isTransportLoggedOut } from "../lifecycle/state.ts";
import { initialStatus, type Connector, type ConnectorDeps, type ConnectorStatus, type PollRoundResult } from "../contracts/connector.ts";
import type { WebhookRoute } from "../../connectors/shared/webhook.ts";
import { commandResolverFor } from "./native-commands.ts";
import { createIntakeQuarantine } from "./intake-quarantine.ts";
import { createClusterNode, type ClusterNode, type LeaseHandle } from "./cluster.ts";
import { loadMailStack } from "../capabilities/mail/stack.ts";

/** Prefix of connector cursors in the kv table. */
export const CURSOR_PREFIX = "connector:";

interface StartConnectorsOptions {
  /** Defaults to `openIngressWriter(app, true)`, closed by `stop()`. */
  ingress?: IngressWriter;
  /** false: build the connectors without starting them (`--once`). Default true. */
  start?: boolean;
  /** How often the lifecycle key is re-checked and statuses are refreshed (default 5000 ms). */
  lifecycleCheckMs?: number;
  /** Minimum interval between status writes per connector (default 1000 ms). */
  statusPersistMs?: number;
  /** A connector whose start failed (e.g. a missing secret) is retried after this long (default 30 s). */
  restartAfterMs?: number;
  /** This node (heartbeat, leases); default a new one, stopped by `stop()`. */
  cluster?: ClusterNode;
}

/** One readiness line for `/readyz` (`<transport>:<code>`). */
interface ConnectorReadiness {
  key: string;
  code: string;
  ok: boolean;
}

export interface RunningConnectors {
  connectors: ReadonlyMap<Transport, Connector>;
  /** Webhook routes of the enabled webhook connectors, for the HTTP server. */
  routes: readonly WebhookRoute[];
  statuses(): ConnectorStatus[];
  readiness(): ConnectorReadiness[];
  /** One round of every polling connector (`tau connectors run --once`). */
  pollOnce(): Promise<Partial<Record<Transport, PollRoundResult>>>;
  /** Stop every connector (intake first, in-flight appends awaited), persist statuses, close the writer. */
  stop(): Promise<void>;
  /** This node: its id, heartbeat and the poller leases it holds. */
  cluster: ClusterNode;
}

/** True when `tau channel logout <transport>` is in force. */
export function isLoggedOut(app: App, t: Transport): boolean {
  return isTransportLoggedOut(app.store.kv, t);
}

/** The configured mode of a transport ("disabled" when off). */
function modeOf(app: App, t: Transport): string {
  return app.config.connectors[t].mode;
}

/**
 * Build one connector for an enabled transport, or the reason code why it could not be built. Each platform's
 * module (and its SDK: grammY, discord.js, imapflow) loads only when that transport is enabled, so CLI commands
 * that never run connectors start fast and small.
 */
async function createConnector(
  app: App,
  t: Transport,
  deps: ConnectorDeps,
  /** Another node holds this transport's poller lease (and this one is not logged out). */
  standby: () => boolean = () => false,
): Promise<Connector | string> {
  const c = app.config.connectors;
  const shared = { maxBodyBytes: app.config.server.max_body_bytes, keepRaw: app.config.ingress.keep_raw };
  switch (t) {
    case "telegram": {
      if (c.telegram.mode === "disabled") return "disabled";
      const { createTelegramConnector } = await import("../../connectors/telegram/inbound.ts");
      return createTelegramConnector({
        ...deps,
        ...shared,
        mode: c.telegram.mode,
        apiRoot: c.telegram.api_root,
        pollTimeoutS: c.telegram.poll_timeout_s,
      });
    }
    case "discord": {
      if (c.discord.mode === "disabled") return "disabled";
      const { createDiscordConnector } = await import("../../connectors/discord/inbound.ts");
      return createDiscordConnector({
        ...deps,
        keepRaw: shared.keepRaw,
        mode: c.discord.mode,
        apiRoot: c.discord.api_root,
        channelIds: c.discord.channel_ids,
        pollIntervalMs: c.discord.poll_interval_ms,
        maxBodyBytes: shared.maxBodyBytes,
        resolveCommand: commandResolverFor(app),
        // Webhook intake is stateless: a node standing by for the gateway lease still takes HTTP interactions.
        httpIntakeOnStandby: standby,
      });
    }
    case "whatsapp": {
      if (c.whatsapp.mode === "disabled") return "disabled";
      const { createWhatsAppConnector } = await import("../../connectors/whatsapp/inbound.ts");
      return createWhatsAppConnector({ ...deps, ...shared, mode: c.whatsapp.mode });
    }
    case "email": {
      const { createEmailConnectorFor } = await import("./email-connector.ts");
      const built = createEmailConnectorFor(app, deps);
      return built.connector ?? built.reason;
    }
  }
}

/**
 * The lease a transport's intake needs when it must run on one node only: Telegram getUpdates, the Discord gateway
 * (or REST polling) and IMAP, named after the account so two bots never share one; null for webhook intake. The
 * account is the bot id (the Telegram token starts with it), the Discord application or bot user id, the IMAP login.
 */
export function pollerLeaseName(app: App, t: Transport): string | null {
  const c = app.config.connectors;
  const id = app.config.identity;
  switch (t) {
    case "telegram": {
      if (c.telegram.mode !== "polling") return null;
      const fromToken = (secretOrNull(app, "telegram-bot-token") ?? "").match(/^(\d+):/)?.[1];
      return `poller:telegram:${fromToken ?? (id.telegram.bot_id || "default")}`;
    }
    case "discord": {
      if (c.discord.mode === "disabled") return null;
      return `poller:discord:${id.discord.application_id || id.discord.user_id || discordUserIdOf(secretOrNull(app, "discord-bot-token")) || "default"}`;
    }
    case "email": {
      if (c.email.mode !== "imap") return null;
      try {
        const imap = loadMailStack(app.loaded.policiesDir).imap;
        return `poller:email:${imap.user}@${imap.host}`;
      } catch {
        return "poller:email:default"; // the connector reports the contract error itself
      }
    }
    case "whatsapp":
      return null;
  }
}

/** A secret for naming only: an unreadable store (a wrong key) is the connector's error to report, not the name's. */
function secretOrNull(app: App, id: string): string | null {
  try {
    return lookupSecret(app, id);
  } catch {
    return null;
  }
}

/** A Discord bot token's first part is the bot's user id in base64. */
function discordUserIdOf(token: string | null): string | null {
  const first = token?.split(".")[0];
  if (!first) return null;
  const decoded = Buffer.from(first, "base64").toString("utf8");
  return /^\d{5,25}$/.test(decoded) ? decoded : null;
}

/** Every transport's status, from state (works while `tau run` or `tau connectors run` runs elsewhere). */
export function readConnectorStatuses(app: App): ConnectorStatus[] {
  return readConnectorFacts(app).map((f) => f.status);
}

/** Enabled, not logged-out transports whose connector is not live (the definition health uses). */
export function connectorsNotLiveOf(app: App): string[] {
  return connectorsNotLive(readConnectorFacts(app));
}

export async function startConnectors(app: App, opts: StartConnectorsOptions = {}): Promise<RunningConnectors> {
  const ownsWriter = opts.ingress === undefined;
  const ingress = opts.ingress ?? openIngressWriter(app, true);
  const persistEvery = opts.statusPersistMs ?? 1000;
  const restartAfterMs = opts.restartAfterMs ?? 30_000;
  const connectors = new Map<Transport, Connector>();
  const latest = new Map<Transport, ConnectorStatus>();
  const lastWrite = new Map<Transport, number>();
  const pendingWrite = new Map<Transport, NodeJS.Timeout>();
  const startFailedAt = new Map<Transport, number>();
  const loggedOut = new Set<Transport>();
  // Transports whose start() was called and not undone by a stop (logout, lease loss).
  const intakeOn = new Set<Transport>();
  const ownsCluster = opts.cluster === undefined;
  const cluster = opts.cluster ?? createClusterNode(app);
  const leaseNames = new Map<Transport, string>();
  const leases = new Map<Transport, LeaseHandle>();
  // `--once`: the fence of a lease taken for one round.
  const onceFences = new Map<Transport, number>();
  let closed = false;

  /** A leased transport another node polls: this node neither runs its intake nor writes its status. */
  const standby = (t: Transport): boolean => leaseNames.has(t) && !onceFences.has(t) && !(leases.get(t)?.held() ?? false);
  // Provider items refused at intake (one bad message of a batch) are kept with their reason code.
  const quarantine = createIntakeQuarantine({ stateDir: app.stateDir, clock: app.clock, record: app.store.runner.insertQuarantine });

  function writeStatus(t: Transport): void {
    const timer = pendingWrite.get(t);
    if (timer) clearTimeout(timer);
    pendingWrite.delete(t);
    if (standby(t) && !loggedOut.has(t)) return; // the lease holder's record is the transport's status
    const connector = connectors.get(t);
    let status = connector ? connector.status() : latest.get(t);
    if (!status) return;
    if (loggedOut.has(t)) status = { ...status, liveness: "stopped", last_error_code: "logout_requested" };
    lastWrite.set(t, app.clock());
    try {
      app.store.kv.put(connectorStatusKey(t), JSON.stringify({ status, updated_at_ms: app.clock() }));
    } catch (err) {
      app.logger.warn(
        { event: "connector.status_write_failed", transport: t, error: describeError(err) },
        "could not persist connector status",
      );
    }
  }

  /** Throttled: at most one write per `persistEvery` per connector, the last change always lands. */
  function onStatus(t: Transport, status: ConnectorStatus): void {
    latest.set(t, status);
    if (closed || pendingWrite.has(t)) return;
    const wait = (lastWrite.get(t) ?? 0) + persistEvery - app.clock();
    if (wait <= 0) writeStatus(t);
    else {
      const timer = setTimeout(() => writeStatus(t), wait);
      timer.unref();
      pendingWrite.set(t, timer);
    }
  }

  for (const t of TRANSPORTS) {
    if (modeOf(app, t) === "disabled") continue;
    const logger = app.logger.child({ connector: t });
    const leaseName = pollerLeaseName(app, t);
    if (leaseName) leaseNames.set(t, leaseName);
    const deps: ConnectorDeps = {
      ingress,
      cursors: {
        get: (k) => app.store.kv.get(CURSOR_PREFIX + k),
        put: (k, v) => {
          if (!leaseName) return app.store.kv.put(CURSOR_PREFIX + k, v);
          // Fenced: a node that lost the lease (paused past its expiry) never moves the new holder's cursor back.
          const fence = onceFences.get(t) ?? leases.get(t)?.fence() ?? null;
          const lease = { name: leaseName, holder: cluster.nodeId, fence: fence ?? -1 };
          if (fence === null || !app.store.cluster.putFencedCursor(CURSOR_PREFIX + k, v, lease, app.clock())) {
            logger.warn(
              { event: "connector.cursor_fenced", transport: t, code: "lease_not_held" },
              "cursor not moved: poller lease not held",
            );
          }
        },
      },
      identity: app.config.identity,
      logger,
      clock: app.clock,
      secret: (id) => lookupSecret(app, id),
      onStatus: (s) => onStatus(t, s),
      quarantine,
      tokens: tokenSealOf(app),
    };
    const connector = await createConnector(app, t, deps, () => standby(t) && !loggedOut.has(t));
    if (typeof connector === "string") {
      // Not buildable (e.g. no IMAP password): say why in the persisted status, and keep the others running.
      app.logger.error(
        { event: "connector.unavailable", transport: t, mode: modeOf(app, t), code: connector },
        "connector could not be built",
      );
      latest.set(t, { ...initialStatus(t, modeOf(app, t)), last_error_code: connector, last_error_unix_ms: app.clock() });
      writeStatus(t);
      continue;
    }
    connectors.set(t, connector);
  }

  async function startOne(t: Transport, c: Connector): Promise<void> {
    intakeOn.add(t);
    try {
      await c.start();
      startFailedAt.delete(t);
      // The lease went while starting (its loss stopped a connector not yet running): stop what just started.
      if (standby(t)) return await stopForLease(t, c);
    } catch (err) {
      startFailedAt.set(t, app.clock());
      const code = err instanceof TauError ? err.reason : "connector_start_failed";
      app.logger.error({ event: "connector.start_failed", transport: t, code, error: describeError(err) }, "connector did not start");
    }
    writeStatus(t);
  }

  /** Lease lost (or never held while starting): stop intake now; the new holder writes the status from here on. */
  async function stopForLease(t: Transport, c: Connector): Promise<void> {
    intakeOn.delete(t);
    await c.stop();
  }

  async function applyOne(t: Transport, c: Connector): Promise<void> {
    const out = isLoggedOut(app, t);
    if (out && !loggedOut.has(t)) {
      loggedOut.add(t);
      intakeOn.delete(t);
      app.logger.info({ event: "connector.logged_out", transport: t, code: "logout_requested" }, "transport logged out: intake stopped");
      await c.stop();
      writeStatus(t);
    } else if (!out && standby(t)) {
      loggedOut.delete(t);
      if (intakeOn.has(t)) await stopForLease(t, c);
    } else if (!out && !intakeOn.has(t)) {
      loggedOut.delete(t);
      await startOne(t, c);
    } else if (!out && c.status().liveness === "stopped" && app.clock() - (startFailedAt.get(t) ?? app.clock()) >= restartAfterMs) {
      await startOne(t, c); // e.g. the token was set with `tau secrets set` since
    } else writeStatus(t); // refresh: liveness changes with time (stale polls), readers need a heartbeat
  }

  async function applyLifecycle(): Promise<void> {
    for (const [t, c] of connectors) await applyOne(t, c);
  }

  /** Run `fn` after the lifecycle work queued before it (starts and stops of one connector never interleave). */
  function enqueue(fn: () => Promise<void>): Promise<void> {
    ticking = ticking.then(() => (closed ? undefined : fn()));
    ticking = ticking.catch((err: unknown) => {
      app.logger.error({ event: "connector.lifecycle_failed", error: describeError(err) }, "lifecycle check failed");
    });
    return ticking;
  }

  let tick: NodeJS.Timeout | null = null;
  let ticking: Promise<void> = Promise.resolve();
  if (opts.start !== false) {
    for (const [t, name] of leaseNames) {
      const c = connectors.get(t);
      if (!c) continue;
      // The first attempt is made here: a lone node holds its leases before the connectors start below.
      const handle = cluster.holdLease(name, {
        onAcquired: () => enqueue(() => applyOne(t, c)),
        onLost: () => stopForLease(t, c),
      });
      leases.set(t, handle);
    }
    cluster.start(); // the first heartbeat already lists the leases taken above
    await applyLifecycle();
    tick = setInterval(() => void enqueue(applyLifecycle), opts.lifecycleCheckMs ?? 5000);
    tick.unref();
  } else {
    for (const t of connectors.keys()) if (isLoggedOut(app, t)) loggedOut.add(t);
  }

  const routes = [...connectors.values()].flatMap((c) => [...(c.webhooks ?? [])]);

  return {
    connectors,
    routes,
    cluster,
    statuses: () => {
      const shared = [...connectors.keys()].some(standby) ? readConnectorStatuses(app) : [];
      return [...connectors.entries()].map(([t, c]) => {
        if (loggedOut.has(t)) return { ...c.status(), last_error_code: "logout_requested" };
        // Another node polls this transport: its persisted status is the transport's.
        if (standby(t)) return shared.find((s) => s.transport === t) ?? c.status();
        return c.status();
      });
    },
    readiness() {
      const lines: ConnectorReadiness[] = [...connectors.entries()].map(([t, c]) => {
        if (loggedOut.has(t)) return { key: t, code: "logout_requested", ok: true };
        if (standby(t)) return { key: t, code: "standby", ok: true };
        const s = c.status();
        if (s.liveness === "live") return { key: t, code: "ready", ok: true };
        return { key: t, code: s.last_error_code ?? `connector_${s.liveness}`, ok: false };
      });
      // Every connector appends through the one writer: while it cannot acknowledge (JetStream down), no webhook can.
      const intake = ingress.readiness?.();
      if (intake) lines.push({ key: "ingress", ...intake });
      return lines;
    },
    async pollOnce() {
      const out: Partial<Record<Transport, PollRoundResult>> = {};
      for (const [t, c] of connectors) {
        if (!c.pollOnce || loggedOut.has(t)) continue;
        const name = leaseNames.get(t);
        const once = name ? cluster.tryLeaseOnce(name) : null;
        if (name && !once) {
          out[t] = { ok: false, appended: 0, code: "lease_held_elsewhere" }; // a running node polls this account
          continue;
        }
        if (once) onceFences.set(t, once.fence);
        try {
          out[t] = await c.pollOnce();
          writeStatus(t);
        } finally {
          onceFences.delete(t);
          once?.release();
        }
      }
      return out;
    },
    async stop() {
      if (closed) return;
      closed = true;
      if (tick) clearInterval(tick);
      await ticking;
      await Promise.all([...connectors.values()].map((c) => c.stop()));
      // Statuses while the leases are still held (a standby node leaves the holder's record alone), then release.
      for (const t of connectors.keys()) writeStatus(t);
      if (ownsCluster) await cluster.stop();
      if (ownsWriter) await ingress.close();
    },
  };
}
