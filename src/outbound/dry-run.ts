/**
 * @module Dry-run outbound: the exact provider request each chunk would cause, without tokens, appended
 * to `state/outbox/dry-run.ndjson` with a deterministic receipt. No network.
 */
import fs from "node:fs";
import path from "node:path";
import type { ProviderRequest } from "../contracts/outbound.ts";

/** One line of dry-run.ndjson. Deterministic: the same outbox row always gives the same receipt. */
export interface DryRunReceipt {
  receipt_id: string;
  outbox_id: string;
  event_id: string | null;
  chunk: number;
  chunk_count: number;
  transport: string;
  status: "dry_run";
  reason: "delivery_dry_run";
  request: ProviderRequest;
}

/** `dryrun:<outbox_id>:<chunk>` */
export function dryRunReceiptId(outboxId: string, idx: number): string {
  return `dryrun:${outboxId}:${idx}`;
}

/** Append receipts as NDJSON and fsync before returning (the caller then marks the chunks sent). */
export function appendDryRun(file: string, receipts: readonly DryRunReceipt[]): void {
  if (receipts.length === 0) return;
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
  try {
    const buf = Buffer.from(receipts.map((r) => JSON.stringify(r)).join("\n") + "\n");
    let off = 0;
    while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Receipt ids already in the file; used after a crash to avoid writing a receipt twice. */
export function readDryRunReceiptIds(file: string): Set<string> {
  const ids = new Set<string>();
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return ids;
  }
  for (const line of text.split("\n")) {
    if (!line) continue;
    try {
      const id = (JSON.parse(line) as { receipt_id?: unknown }).receipt_id;
      if (typeof id === "string") ids.add(id);
    } catch {
      // a torn last line after a crash: ignored, its chunk is written again
    }
  }
  return ids;
}
