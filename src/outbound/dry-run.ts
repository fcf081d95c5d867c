/**
 * @module Dry-run outbound: the exact provider request each chunk would cause, without tokens, appended
 * to `state/outbox/dry-run.ndjson` with a deterministic receipt. No network. The file's committed end is kept in
 * the store with each unit of work that appends (`DRY_RUN_WRITTEN_KEY`), so bytes a crash left past it go at startup.
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

/**
 * The request a responder would have sent to its model or webhook in dry-run (no call is made), written to
 * dry-run.ndjson just before the receipts of the reply it produced (`outbox_id`; `chunk` -1 marks it as not a chunk).
 */
export interface DryRunResponderRecord {
  receipt_id: string;
  outbox_id: string;
  event_id: string | null;
  chunk: -1;
  kind: "responder_request";
  responder: string;
  job_id: string;
  transport: string;
  status: "dry_run";
  reason: "responder_dry_run";
  request: { method: "POST"; url: string; headers: Record<string, string>; body: unknown };
}

/** `dryrun:<outbox_id>:<chunk>` */
export function dryRunReceiptId(outboxId: string, idx: number): string {
  return `dryrun:${outboxId}:${idx}`;
}

/** Where an append landed: the file's inode and its size before and after. */
export interface DryRunAppend {
  ino: number;
  before: number;
  after: number;
}

/** Append receipts as NDJSON and fsync before returning (the caller then marks the chunks sent); null when there were none. */
export function appendDryRun(file: string, receipts: readonly DryRunReceipt[]): DryRunAppend | null {
  if (receipts.length === 0) return null;
  return appendDryRunBytes(file, Buffer.from(receipts.map((r) => JSON.stringify(r)).join("\n") + "\n"));
}

/** Append NDJSON bytes (whole lines) and fsync; null when there was nothing to write. */
export function appendDryRunBytes(file: string, buf: Buffer): DryRunAppend | null {
  if (buf.length === 0) return null;
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
  try {
    const st = fs.fstatSync(fd);
    let off = 0;
    while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
    fs.fdatasyncSync(fd);
    return { ino: st.ino, before: st.size, after: st.size + buf.length };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Receipts serialized as they come into one growing buffer outside the JS heap, so a batch's receipts do not
 * stay alive as strings until the batch is written.
 */
export function createReceiptLines() {
  let buf = Buffer.allocUnsafe(0);
  let used = 0;
  let count = 0;
  return {
    add(receipt: DryRunReceipt | DryRunResponderRecord): void {
      const line = JSON.stringify(receipt) + "\n";
      const need = used + line.length * 3; // UTF-8 takes at most 3 bytes per UTF-16 unit
      if (need > buf.length) {
        const grown = Buffer.allocUnsafe(Math.max(need, buf.length * 2, 64 * 1024));
        buf.copy(grown, 0, 0, used);
        buf = grown;
      }
      used += buf.write(line, used);
      count += 1;
    },
    /** Receipts added so far. */
    count: () => count,
    /** The NDJSON bytes (a view; valid until the next `add` or `clear`). */
    bytes: (): Buffer => buf.subarray(0, used),
    /** Start over, keeping the buffer (one batch after another). */
    clear(): void {
      used = 0;
      count = 0;
    },
  };
}

/**
 * Take back an append whose unit of work did not commit: cut the file to its size before it, if it is still
 * the same file and nothing else was appended since.
 */
export function undoDryRunAppend(file: string, a: DryRunAppend): void {
  try {
    const st = fs.statSync(file);
    if (st.ino === a.ino && st.size === a.after) fs.truncateSync(file, a.before);
  } catch {
    // gone or unreadable: nothing to take back
  }
}

/**
 * The committed end of the receipts file, kept in the store with every unit of work that appends to it:
 * `<inode>:<size>`. Bytes past it may have been appended by a unit of work that never committed (a crash between
 * the fsync and the commit); `settleDryRunFile` cuts those off at startup, so their replies are written once.
 */
export const DRY_RUN_WRITTEN_KEY = "outbox:dry_run_written";

export function dryRunWrittenMark(a: Pick<DryRunAppend, "ino" | "after">): string {
  return `${a.ino}:${a.after}`;
}

/**
 * At startup: past the committed end, cut off the trailing receipts whose chunk is not recorded as sent (`sent`
 * answers from the store) — written by a unit of work that never committed — and torn lines. Receipts past the
 * mark that are recorded as sent (appended by a tau that kept no mark) stay. Returns the file's mark to store.
 */
export function settleDryRunFile(file: string, mark: string | undefined, sent: (outboxId: string, chunk: number) => boolean): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return dryRunWrittenMark({ ino: 0, after: 0 });
  }
  const m = mark?.match(/^(\d+):(\d+)$/);
  // Where the committed bytes end: the mark's size on the same file, or 0 when the mark saw no file at all.
  const from = !m ? null : Number(m[1]) === st.ino ? Number(m[2]) : m[1] === "0" && m[2] === "0" ? 0 : null;
  if (from === null || st.size <= from) return dryRunWrittenMark({ ino: st.ino, after: st.size });
  const tail = Buffer.alloc(st.size - from);
  const fd = fs.openSync(file, "r+");
  try {
    fs.readSync(fd, tail, 0, tail.length, from);
    // Walk back over whole lines (and a torn last one) while they belong to no committed reply.
    let cut = tail.length;
    while (cut > 0) {
      const end = cut === tail.length && tail[cut - 1] !== 10 ? cut : cut - 1; // a torn line has no newline
      const start = end > 0 ? tail.lastIndexOf(10, end - 1) + 1 : 0;
      if (end === cut - 1 && committedLine(tail.toString("utf8", start, end), sent)) break;
      cut = start;
    }
    if (cut < tail.length) {
      fs.ftruncateSync(fd, from + cut);
      fs.fdatasyncSync(fd);
    }
    return dryRunWrittenMark({ ino: st.ino, after: from + cut });
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether a receipt line belongs to a chunk the store records as sent. */
function committedLine(line: string, sent: (outboxId: string, chunk: number) => boolean): boolean {
  try {
    const r = JSON.parse(line) as Partial<DryRunReceipt>;
    // A responder request record belongs to the reply written with it (its first chunk).
    return typeof r.outbox_id === "string" && typeof r.chunk === "number" && sent(r.outbox_id, r.chunk === -1 ? 0 : r.chunk);
  } catch {
    return false;
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
