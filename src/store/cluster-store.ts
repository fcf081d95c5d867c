/**
 * @module Store family: tau nodes and leases (tables `cluster_nodes`, `leases`, migration 013). Each node writes a
 * heartbeat row; a lease names the one holder of a single-poller job (`poller:telegram:<bot>`) until it expires.
 * Taking a lease is one upsert both engines accept: a free or expired lease is taken, one this holder already has is
 * renewed, a live lease of another holder is never stolen. Ids and times come from callers (the Clock).
 */
import type { Db } from "./db.ts";

/** A node's heartbeat row; `info` is the node's JSON (health, queue depth, leases held). */
export interface ClusterNodeRow {
  node_id: string;
  started_at_ms: number;
  heartbeat_at_ms: number;
  version: string;
  info: string;
}

/** A lease as stored: `holder` is a node id, `instance` its process; `fence` grows by one each time either changes. */
export interface LeaseRow {
  name: string;
  holder: string;
  instance: string;
  acquired_at_ms: number;
  expires_at_ms: number;
  fence: number;
}

/** The outcome of `acquireLease`: whether the caller has the lease now, and who does. */
export interface LeaseGrant {
  held: boolean;
  fence: number;
  holder: string;
  instance: string;
  expires_at_ms: number;
}

/** Who writes a heartbeat: the node's id, when it started and the tau version it runs. */
export interface NodeIdentity {
  node_id: string;
  started_at_ms: number;
  version: string;
}

/** PostgreSQL BIGINT columns may come back as strings; every time and fence is a safe integer here. */
const num = (v: unknown): number => Number(v);

function toLease(r: LeaseRow): LeaseRow {
  return { ...r, acquired_at_ms: num(r.acquired_at_ms), expires_at_ms: num(r.expires_at_ms), fence: num(r.fence) };
}

export function createClusterStore(db: Db) {
  const q = {
    heartbeat: db.prepare<[string, number, number, string, string]>(
      "INSERT INTO cluster_nodes (node_id, started_at_ms, heartbeat_at_ms, version, info) VALUES (?, ?, ?, ?, ?) " +
        "ON CONFLICT(node_id) DO UPDATE SET started_at_ms = excluded.started_at_ms, heartbeat_at_ms = excluded.heartbeat_at_ms, " +
        "version = excluded.version, info = excluded.info",
    ),
    nodes: db.prepare<[], ClusterNodeRow>(
      "SELECT node_id, started_at_ms, heartbeat_at_ms, version, info FROM cluster_nodes ORDER BY node_id",
    ),
    // The WHERE of DO UPDATE decides: an expired lease or one this process has is updated; a live foreign one is left.
    acquire: db.prepare<[string, string, string, number, number, string, string, number]>(
      "INSERT INTO leases (name, holder, instance, acquired_at_ms, expires_at_ms, fence) VALUES (?, ?, ?, ?, ?, 1) " +
        "ON CONFLICT(name) DO UPDATE SET " +
        "fence = CASE WHEN leases.holder = excluded.holder AND leases.instance = excluded.instance THEN leases.fence ELSE leases.fence + 1 END, " +
        "acquired_at_ms = CASE WHEN leases.holder = excluded.holder AND leases.instance = excluded.instance " +
        "THEN leases.acquired_at_ms ELSE excluded.acquired_at_ms END, " +
        "holder = excluded.holder, instance = excluded.instance, expires_at_ms = excluded.expires_at_ms " +
        "WHERE (leases.holder = ? AND leases.instance = ?) OR leases.expires_at_ms <= ?",
    ),
    lease: db.prepare<[string], LeaseRow>("SELECT name, holder, instance, acquired_at_ms, expires_at_ms, fence FROM leases WHERE name = ?"),
    release: db.prepare<[number, string, string, string]>(
      "UPDATE leases SET expires_at_ms = ? WHERE name = ? AND holder = ? AND instance = ?",
    ),
    leases: db.prepare<[], LeaseRow>("SELECT name, holder, instance, acquired_at_ms, expires_at_ms, fence FROM leases ORDER BY name"),
    // A cursor write of a leased poller lands only while the writer still holds the lease with the same fence.
    fencedPut: db.prepare<[string, string, string, string, number, number]>(
      "INSERT INTO kv (key, value) SELECT ?, ? WHERE EXISTS " +
        "(SELECT 1 FROM leases WHERE name = ? AND holder = ? AND fence = ? AND expires_at_ms > ?) " +
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    ),
  };
  return {
    /** Write `node`'s heartbeat at `now` with its info (JSON: health, queue depth, leases held). */
    heartbeat: (node: NodeIdentity, now: number, info: Record<string, unknown>) =>
      void q.heartbeat.run(node.node_id, node.started_at_ms, now, node.version, JSON.stringify(info)),
    /** Every node that ever wrote a heartbeat, by id. */
    nodes: (): ClusterNodeRow[] =>
      q.nodes.all().map((r) => ({ ...r, started_at_ms: num(r.started_at_ms), heartbeat_at_ms: num(r.heartbeat_at_ms) })),
    /**
     * Take lease `name` for node `holder` (process `instance`) until `now + ttlMs` if it is free, expired or already
     * this process's (a renewal); never while another node's or process's lease is live. Returns who holds it afterwards.
     */
    acquireLease(name: string, holder: string, ttlMs: number, now: number, instance = ""): LeaseGrant {
      q.acquire.run(name, holder, instance, now, now + ttlMs, holder, instance, now);
      const row = q.lease.get(name);
      if (!row) return { held: false, fence: 0, holder: "", instance: "", expires_at_ms: 0 };
      const r = toLease(row);
      const held = r.holder === holder && r.instance === instance && r.expires_at_ms > now;
      return { held, fence: r.fence, holder: r.holder, instance: r.instance, expires_at_ms: r.expires_at_ms };
    },
    /** Give up `name` if `holder` (process `instance`) has it: it expires at once; the row keeps holder and fence for the record. */
    releaseLease: (name: string, holder: string, instance = ""): boolean => q.release.run(0, name, holder, instance).changes > 0,
    /** Every lease ever taken, live or expired, by name. */
    leases: (): LeaseRow[] => q.leases.all().map(toLease),
    /**
     * Write a leased poller's cursor (kv `key`) only while `lease` is still held by its holder with its fence at `now`:
     * a node that paused past its lease cannot move a cursor the new holder owns. Returns whether it was written.
     */
    putFencedCursor: (key: string, value: string, lease: { name: string; holder: string; fence: number }, now: number): boolean =>
      q.fencedPut.run(key, value, lease.name, lease.holder, lease.fence, now).changes > 0,
  };
}

export type ClusterStore = ReturnType<typeof createClusterStore>;
