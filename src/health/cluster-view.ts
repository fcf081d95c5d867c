/**
 * @module The cluster as `tau status` and `/healthz` show it: every node that wrote a heartbeat (alive while its last
 * heartbeat is within three intervals), every lease with its holder and expiry, and the ingress consumer lag the
 * runner last reported. Pure over what the store returns and the clock; `withNodeHealth` makes a node whose own
 * heartbeat cannot be written report `failing` — it is invisible to the cluster, so it must not say healthy.
 */
import type { HealthReport, RunnerState } from "../contracts/health.ts";
import type { Store } from "../store/index.ts";

/** A node writes its heartbeat this often. */
export const HEARTBEAT_INTERVAL_MS = 2000;
/** A node is alive while its last heartbeat is at most three intervals old. */
export const NODE_ALIVE_MS = 3 * HEARTBEAT_INTERVAL_MS;

/** What a node puts in its heartbeat row's `info`. */
export interface NodeInfo {
  /** This process among others with the same node id (a lease is held by a node id and a process instance). */
  instance: string;
  pid: number;
  health: string | null;
  queue_depth: number | null;
  /** Names of the leases this process believes it holds (a diagnostic: views read the lease table). */
  leases: string[];
}

export interface ClusterNodeView {
  node_id: string;
  /** The node answering (its `node_id` is the view's). */
  self: boolean;
  alive: boolean;
  heartbeat_at_ms: number;
  heartbeat_age_ms: number;
  started_at_ms: number;
  version: string;
  health: string | null;
  queue_depth: number | null;
  /** The live leases the lease table gives this node (the heartbeat's own list can lag it by a beat). */
  leases: string[];
}

export interface LeaseView {
  name: string;
  /** The node holding (or last holding) the lease, and its process. */
  holder: string;
  instance: string;
  fence: number;
  acquired_at_ms: number;
  expires_at_ms: number;
  /** Negative once expired. */
  expires_in_ms: number;
  live: boolean;
}

export interface ClusterView {
  node_id: string;
  nodes: ClusterNodeView[];
  leases: LeaseView[];
  /** Events waiting for this state's runner (the ingress driver's consumer lag); null before the runner's first cycle. */
  ingress_lag: number | null;
}

/** This node's own heartbeat: whether its last write went through. */
export interface OwnHeartbeat {
  ok: boolean;
  error: string | null;
  at_ms: number | null;
}

function parseInfo(raw: string): Partial<NodeInfo> {
  try {
    const v = JSON.parse(raw) as unknown;
    return v && typeof v === "object" ? (v as Partial<NodeInfo>) : {};
  } catch {
    return {};
  }
}

/** The cluster from the store as `selfId` sees it at `now`. */
export function readClusterView(store: Pick<Store, "cluster">, selfId: string, now: number, runner: RunnerState | null): ClusterView {
  const leases = store.cluster.leases().map((l): LeaseView => ({
    name: l.name,
    holder: l.holder,
    instance: l.instance,
    fence: l.fence,
    acquired_at_ms: l.acquired_at_ms,
    expires_at_ms: l.expires_at_ms,
    expires_in_ms: l.expires_at_ms - now,
    live: l.expires_at_ms > now,
  }));
  const nodes = store.cluster.nodes().map((n): ClusterNodeView => {
    const info = parseInfo(n.info);
    const age = Math.max(0, now - n.heartbeat_at_ms);
    return {
      node_id: n.node_id,
      self: n.node_id === selfId,
      alive: age <= NODE_ALIVE_MS,
      heartbeat_at_ms: n.heartbeat_at_ms,
      heartbeat_age_ms: age,
      started_at_ms: n.started_at_ms,
      version: n.version,
      health: typeof info.health === "string" ? info.health : null,
      queue_depth: typeof info.queue_depth === "number" ? info.queue_depth : null,
      // From the lease table, as the view's lease list: one answer to "who holds what" (a heartbeat written every 2 s
      // could still show a lease given up, or not yet one just taken).
      leases: leases.filter((l) => l.live && l.holder === n.node_id).map((l) => l.name),
    };
  });
  return { node_id: selfId, nodes, leases, ingress_lag: runner ? runner.queue_depth : null };
}

/** One line for `tau status`: the nodes with their heartbeat age, and who holds which lease until when. */
export function describeCluster(v: ClusterView): string {
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const nodes = v.nodes.map(
    (n) => `${n.node_id}${n.self ? " (this node)" : ""} ${n.alive ? "alive" : "dead"}, heartbeat ${secs(n.heartbeat_age_ms)} ago`,
  );
  const leases = v.leases.map((l) =>
    l.live ? `${l.name} → ${l.holder} (expires in ${secs(l.expires_in_ms)})` : `${l.name} free (last ${l.holder})`,
  );
  return [
    `node ${v.node_id}`,
    nodes.length ? `nodes: ${nodes.join("; ")}` : "no node heartbeat yet",
    leases.length ? `leases: ${leases.join("; ")}` : "no leases",
    ...(v.ingress_lag !== null ? [`ingress lag ${v.ingress_lag}`] : []),
  ].join("; ");
}

/** A health report as one node serves it: with its node id and the cluster it sees. */
export type NodeHealth<H> = H & { node_id: string; cluster: ClusterView };

/** The health a node serves: the shared verdict, its node id and the cluster; `failing` when its own heartbeat fails. */
export function withNodeHealth<H extends HealthReport>(h: H, cluster: ClusterView, own: OwnHeartbeat): NodeHealth<H> {
  if (own.ok) return { ...h, node_id: cluster.node_id, cluster };
  return {
    ...h,
    state: "failing",
    reason_codes: ["cluster_heartbeat_failed", ...h.reason_codes.filter((c) => c !== "healthy_cycle" && c !== "runner_never_ran")],
    node_id: cluster.node_id,
    cluster,
  };
}
