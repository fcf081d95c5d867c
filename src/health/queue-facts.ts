/**
 * @module The ingress backlog as another process sees it, without a runner: per transport, the lines after the
 * runner's stored cursor and the receive time of the oldest of them. `tau health` in a monitoring shell, `/healthz`
 * and the watchdog read the same files and cursors, so the backlog is judged whether or not a runner ever ran.
 */
import fs from "node:fs";
import path from "node:path";
import { TRANSPORTS, type Transport } from "../contracts/envelope.ts";
import { countLinesAfterMemo, ingressFile, readLines, storedFileCursor, type LineCountMemo } from "../ingress/index.ts";
import type { TauConfig } from "../config/index.ts";
import type { Store } from "../store/index.ts";

/** What waits in ingress. */
export interface QueueFact {
  depth: number;
  /** `received_at_ms` of the oldest unprocessed line (null when nothing waits or it is unreadable). */
  oldest_received_at_ms: number | null;
  by_transport: Partial<Record<Transport, number>>;
  /** Transports whose ingress file exists but cannot be read by this process (a monitoring user without access). */
  unreadable: Transport[];
}

/** Line counts per file, kept between calls in one process so a scrape rescans only what changed. */
const memos = new Map<string, LineCountMemo>();

/** Read the backlog from `<stateDir>/ingress/*.ndjson` and this node's cursors in the store. Reads only. */
export function readQueueFact(
  store: Pick<Store, "runner">,
  stateDir: string,
  config: Pick<TauConfig, "cluster" | "store" | "ingress">,
): QueueFact {
  const maxLineBytes = config.ingress.max_line_bytes;
  const dir = path.join(stateDir, "ingress");
  const fact: QueueFact = { depth: 0, oldest_received_at_ms: null, by_transport: {}, unreadable: [] };
  for (const t of TRANSPORTS) {
    const file = ingressFile(dir, t);
    let ino: number;
    try {
      ino = fs.statSync(file).ino;
      fs.accessSync(file, fs.constants.R_OK);
    } catch (err) {
      // No file: nothing ever arrived. Any other error: the backlog is unknown here, which health must say.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") fact.unreadable.push(t);
      continue;
    }
    const row = storedFileCursor(store.runner, config, t);
    // A cursor for another file (rotated since) means the runner has not read this one yet: all of it waits.
    const cursor = row && row.file_ino === ino ? { ino, offset: row.byte_offset, line: row.line_no } : null;
    const depth = countLinesAfterMemo(file, cursor?.offset ?? 0, memos);
    if (depth === 0) continue;
    fact.depth += depth;
    fact.by_transport[t] = depth;
    const oldest = oldestReceivedAt(file, cursor, maxLineBytes);
    if (oldest !== null) fact.oldest_received_at_ms = Math.min(fact.oldest_received_at_ms ?? oldest, oldest);
  }
  return fact;
}

function oldestReceivedAt(file: string, cursor: { ino: number; offset: number; line: number } | null, maxLineBytes: number): number | null {
  const first = readLines(file, cursor, 1, maxLineBytes)?.lines[0];
  if (!first || !first.ok) return null;
  try {
    const v = JSON.parse(first.text) as { received_at_ms?: unknown };
    return typeof v.received_at_ms === "number" ? v.received_at_ms : null;
  } catch {
    return null;
  }
}
