/**
 * @module Who this process is among the nodes sharing a store, and the keys that must be its own there.
 */
import os from "node:os";
import type { TauConfig } from "./schema.ts";

/** This node's id: `cluster.node_id` (env TAU_CLUSTER_NODE_ID), else the host name. */
export function nodeIdOf(config: Pick<TauConfig, "cluster">): string {
  return config.cluster.node_id || os.hostname();
}

/**
 * The key of this node's cursor in a transport's ingress file (`ingress.driver: files`). The files are the machine's
 * own; on a PostgreSQL store shared by nodes one key per transport let each node's runner overwrite the others'
 * position in files it never read (each then re-read its file from the start, or, with inodes alike, skipped lines).
 * A SQLite state folder: the transport.
 */
export function fileCursorKey(config: Pick<TauConfig, "cluster" | "store">, transport: string): string {
  return config.store.driver === "postgres" ? `${transport}@${nodeIdOf(config)}` : transport;
}

/**
 * The kv key of this node's runner state (its cycles, failure streak, heartbeat). Nodes sharing a PostgreSQL store
 * each keep their own — one shared key made every node's health and status show whichever runner wrote last (a
 * node's failing cycles failed the others' /healthz; a hung runner hid behind a live one). A SQLite state folder has
 * one runner (its lock): `runner_state`.
 */
export function runnerStateKey(config: Pick<TauConfig, "cluster" | "store">): string {
  return config.store.driver === "postgres" ? `runner_state:${nodeIdOf(config)}` : "runner_state";
}
