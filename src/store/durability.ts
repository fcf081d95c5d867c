/**
 * @module When a commit reaches the disk. Two modes for a SQLite store:
 *
 * - `every-commit` (default; every CLI command): `synchronous = FULL`, an fsync of the WAL inside every commit.
 * - `before-effects` (the service: `tau run`, `tau process`): `synchronous = NORMAL` — a commit is written to the WAL
 *   and the OS holds it (a killed process loses nothing; SQLite still syncs the WAL before each checkpoint and the
 *   database after it) — and the WAL is fsynced, on this thread, right before an effect outside tau that depends on
 *   what was committed: a message leaving for a provider, an acknowledgement to a provider's webhook, a JetStream
 *   ack, an answer to an operator's POST. An fsync of the WAL covers every commit before it, so no effect ever gets
 *   ahead of the state that explains it, while the commits in between (decisions, a job's finish, a send's result,
 *   runner telemetry) cost no fsync each. After a power loss only commits no effect depended on can be missing — what
 *   a `kill -9` a moment earlier would have left: the ingress cursor rolls back with its decisions and they are made
 *   again; a model call may repeat once; a send whose result was not yet on disk is `delivery_ambiguous`, never resent.
 */
import fs from "node:fs";

export type DurabilityMode = "every-commit" | "before-effects";

export interface EffectSync {
  /** Make everything this connection committed so far durable (an fdatasync of the WAL when anything changed). */
  syncBeforeEffect(): void;
  close(): void;
}

export interface WalSyncOptions {
  /** Rows this connection has changed so far (`SELECT total_changes()`): no fsync when it has not moved. */
  changes: () => number;
  /** The WAL file (`<db>-wal`), opened on first use. */
  walFile: string;
  /** Injected in tests to count syncs; `fs.fdatasyncSync` otherwise. */
  fdatasync?: (fd: number) => void;
}

/** The WAL fsync of `before-effects` mode. */
export function createWalSync(opts: WalSyncOptions): EffectSync {
  const fdatasync = opts.fdatasync ?? fs.fdatasyncSync;
  let fd: number | null = null;
  // Everything committed before the mode was set was committed with synchronous = FULL.
  let synced = opts.changes();
  return {
    syncBeforeEffect(): void {
      const now = opts.changes();
      if (now === synced) return;
      fd ??= fs.openSync(opts.walFile, "r");
      fdatasync(fd);
      synced = now;
    },
    close(): void {
      if (fd !== null) fs.closeSync(fd);
      fd = null;
    },
  };
}
