/**
 * @module This tau node among others sharing one store: its id (`cluster.node_id`, else the host name), a heartbeat
 * every 2 s (health, queue depth, leases held) and a lease keeper for the single-poller jobs. A lease is tried every
 * second while standing by and renewed at a third of its TTL while held; a failed renewal, another holder, or a
 * renewal that came too late (the process was paused past the expiry) gives it up at once. With the default TTL of
 * 6 s a dead node's poller is taken over within about 7 s.
 */
import { describeError } from "../contracts/errors.ts";
import { nodeIdOf } from "../config/index.ts";
import {
  HEARTBEAT_INTERVAL_MS,
  readClusterView,
  withNodeHealth,
  type ClusterView,
  type NodeHealth,
  type NodeInfo,
  type OwnHeartbeat,
} from "../health/cluster-view.ts";
import type { HealthReport } from "../contracts/health.ts";
import { readRunnerState } from "../health/health-facts.ts";
import type { App } from "./open-app.ts";
import { packageInfo } from "./package-info.ts";
import { healthFor } from "./services.ts";

/** Lease TTL: a dead holder's lease is free after this long (renewed every TTL/3 while held). */
export const LEASE_TTL_MS = 6000;
/** How often a standing-by node tries to take a lease. */
export const LEASE_RETRY_MS = 1000;

export { nodeIdOf };

export interface LeaseOptions {
  ttlMs?: number;
  retryMs?: number;
  /** The lease is ours (at start or after another holder's expired); `fence` identifies this tenure. */
  onAcquired(fence: number): void | Promise<void>;
  /** The lease is gone (`lease_renew_failed`, `lease_taken`, `lease_expired`): stop the job now. */
  onLost(reason: string): void | Promise<void>;
}

export interface LeaseHandle {
  readonly name: string;
  /** True while the last grant has not expired by this node's clock. */
  held(): boolean;
  /** The fence of the current tenure, or null while not held. */
  fence(): number | null;
}

export interface ClusterNode {
  readonly nodeId: string;
  /** This process among others of the same node id (leases are held by node id and instance). */
  readonly instance: string;
  /** Start the heartbeat loop (the first heartbeat is written at once). */
  start(): void;
  /**
   * Keep lease `name` while this node runs: the first attempt is made before returning (so a lone node holds it at
   * once), then every `retryMs` while another node has it.
   */
  holdLease(name: string, opts: LeaseOptions): LeaseHandle;
  /** Take `name` once for a one-shot job (`tau connectors run --once`); null when another node holds it. */
  tryLeaseOnce(name: string, ttlMs?: number): { fence: number; release(): void } | null;
  ownHeartbeat(): OwnHeartbeat;
  view(): ClusterView;
  /** `h` as this node serves it (`/healthz`): with its node id and the cluster; failing when its heartbeat fails. */
  health<H extends HealthReport>(h: H): NodeHealth<H>;
  /** Stop heartbeats and lease keeping, release every lease held and record the node as stopped. */
  stop(): Promise<void>;
}

interface LeaseState {
  opts: LeaseOptions;
  handle: LeaseHandle;
  fence: number | null;
  expiresAt: number;
  timer: NodeJS.Timeout | null;
  pending: Promise<void>;
}

export function createClusterNode(app: App, opts: { heartbeatMs?: number } = {}): ClusterNode {
  const nodeId = nodeIdOf(app.config);
  const instance = Buffer.from(app.randomBytes(4)).toString("hex");
  const identity = { node_id: nodeId, started_at_ms: app.clock(), version: packageInfo().version };
  const leases = new Map<string, LeaseState>();
  const own: OwnHeartbeat = { ok: true, error: null, at_ms: null };
  let heartbeatTimer: NodeJS.Timeout | null = null;
  let stopped = false;

  function info(health: string | null, queueDepth: number | null): NodeInfo {
    const held = [...leases.entries()].filter(([, s]) => s.handle.held()).map(([n]) => n);
    return { instance, pid: process.pid, health, queue_depth: queueDepth, leases: held };
  }

  function beat(): void {
    let health: string | null = null;
    let depth: number | null = null;
    try {
      const h = healthFor(app);
      health = h.state;
      depth = h.queue_depth;
    } catch (err) {
      app.logger.warn({ event: "cluster.health_unreadable", error: describeError(err) }, "health could not be computed for the heartbeat");
    }
    const now = app.clock();
    try {
      app.store.cluster.heartbeat(identity, now, { ...info(health, depth) });
      if (!own.ok) app.logger.info({ event: "cluster.heartbeat_restored", node_id: nodeId }, "heartbeat written again");
      Object.assign(own, { ok: true, error: null, at_ms: now });
    } catch (err) {
      if (own.ok)
        app.logger.error({ event: "cluster.heartbeat_failed", node_id: nodeId, error: describeError(err) }, "heartbeat not written");
      Object.assign(own, { ok: false, error: describeError(err) });
    }
  }

  function lose(name: string, s: LeaseState, reason: string): void {
    s.fence = null;
    s.expiresAt = 0;
    app.logger.warn({ event: "cluster.lease_lost", lease: name, node_id: nodeId, instance, code: reason }, "lease lost: job stopped");
    // At once, not after a start still in progress: the job's owner stops whatever it started (see connectors-runtime).
    const stopping = Promise.resolve()
      .then(() => s.opts.onLost(reason))
      .catch((err: unknown) => callbackFailed(name, "onLost", err));
    s.pending = Promise.all([s.pending, stopping]).then(() => undefined);
  }

  function callbackFailed(name: string, which: string, err: unknown): void {
    app.logger.error(
      { event: "cluster.lease_callback_failed", lease: name, callback: which, error: describeError(err) },
      "lease callback failed",
    );
  }

  /** One attempt: take or renew; returns the delay to the next attempt. */
  function attempt(name: string, s: LeaseState): number {
    const ttl = s.opts.ttlMs ?? LEASE_TTL_MS;
    const retry = s.opts.retryMs ?? LEASE_RETRY_MS;
    const now = app.clock();
    const wasHeld = s.fence !== null;
    // A renewal that comes after the expiry (event loop blocked, process paused): another node may have it already.
    if (wasHeld && now >= s.expiresAt) lose(name, s, "lease_expired");
    let grant;
    try {
      grant = app.store.cluster.acquireLease(name, nodeId, ttl, now, instance);
    } catch (err) {
      app.logger.warn({ event: "cluster.lease_failed", lease: name, error: describeError(err) }, "lease could not be taken or renewed");
      if (s.fence !== null) lose(name, s, "lease_renew_failed");
      return retry;
    }
    if (grant.held) {
      const acquired = s.fence === null;
      s.fence = grant.fence;
      s.expiresAt = grant.expires_at_ms;
      if (acquired) {
        app.logger.info({ event: "cluster.lease_acquired", lease: name, node_id: nodeId, instance, fence: grant.fence }, "lease acquired");
        const fence = grant.fence;
        s.pending = s.pending.then(() => s.opts.onAcquired(fence)).catch((err: unknown) => callbackFailed(name, "onAcquired", err));
      }
      return Math.max(1, Math.floor(ttl / 3));
    }
    if (s.fence !== null) lose(name, s, "lease_taken");
    return retry;
  }

  function schedule(name: string, s: LeaseState, delay: number): void {
    if (stopped) return;
    s.timer = setTimeout(() => schedule(name, s, attempt(name, s)), delay);
    s.timer.unref();
  }

  return {
    nodeId,
    instance,
    start() {
      if (heartbeatTimer || stopped) return;
      beat();
      heartbeatTimer = setInterval(beat, opts.heartbeatMs ?? HEARTBEAT_INTERVAL_MS);
      heartbeatTimer.unref();
    },
    holdLease(name, leaseOpts) {
      const existing = leases.get(name);
      if (existing) return existing.handle;
      const s: LeaseState = {
        opts: leaseOpts,
        fence: null,
        expiresAt: 0,
        timer: null,
        pending: Promise.resolve(),
        handle: {
          name,
          held: () => s.fence !== null && app.clock() < s.expiresAt,
          fence: () => (s.fence !== null && app.clock() < s.expiresAt ? s.fence : null),
        },
      };
      leases.set(name, s);
      schedule(name, s, attempt(name, s));
      return s.handle;
    },
    tryLeaseOnce(name, ttlMs = LEASE_TTL_MS * 5) {
      const grant = app.store.cluster.acquireLease(name, nodeId, ttlMs, app.clock(), instance);
      if (!grant.held) return null;
      return { fence: grant.fence, release: () => void app.store.cluster.releaseLease(name, nodeId, instance) };
    },
    ownHeartbeat: () => ({ ...own }),
    view: () => readClusterView(app.store, nodeId, app.clock(), readRunnerState(app.store, app.config)),
    health(h) {
      let view: ClusterView;
      try {
        view = readClusterView(app.store, nodeId, app.clock(), readRunnerState(app.store, app.config));
      } catch (err) {
        // The shared store does not answer: this node cannot know the cluster, and must not say it is healthy.
        view = { node_id: nodeId, nodes: [], leases: [], ingress_lag: null };
        return withNodeHealth(h, view, { ok: false, error: describeError(err), at_ms: own.at_ms });
      }
      return withNodeHealth(h, view, own);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (heartbeatTimer) clearInterval(heartbeatTimer);
      for (const [name, s] of leases) {
        if (s.timer) clearTimeout(s.timer);
        await s.pending;
        if (s.fence === null) continue;
        s.fence = null;
        try {
          app.store.cluster.releaseLease(name, nodeId, instance);
          app.logger.info({ event: "cluster.lease_released", lease: name, node_id: nodeId, instance }, "lease released");
        } catch (err) {
          app.logger.warn(
            { event: "cluster.lease_release_failed", lease: name, error: describeError(err) },
            "lease not released; it expires",
          );
        }
      }
      try {
        app.store.cluster.heartbeat(identity, app.clock(), { ...info("stopped", null) });
      } catch (err) {
        app.logger.warn({ event: "cluster.heartbeat_failed", node_id: nodeId, error: describeError(err) }, "final heartbeat not written");
      }
    },
  };
}
