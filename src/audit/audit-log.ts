/**
 * @module The audit log: every command, approval, pairing decision, kill switch and policy change, in an
 * append-only table where each row carries the hash of the previous one. `verifyAudit` detects an edited,
 * inserted or deleted row (the head hash is kept separately, so a deleted tail shows too).
 */
import { createHash } from "node:crypto";
import type { Store } from "../store/index.ts";

export interface AuditEntry {
  actor: string;
  surface: "cli" | "chat" | "web" | "http" | "system" | "agent";
  action: string;
  target: string;
  args: Record<string, unknown>;
  outcome: string;
  reason_code: string;
}

interface AuditRow extends AuditEntry {
  seq: number;
  at_ms: number;
  prev_hash: string;
  hash: string;
}

const GENESIS = "0".repeat(64);
const SECRET_KEY = /(token|secret|password|passwd|api[_-]?key|authorization|auth[_-]?token|credential|value)$/i;

/** Replace secret-looking argument values with "[redacted]", recursively. */
export function redactArgs(args: unknown): unknown {
  if (Array.isArray(args)) return args.map(redactArgs);
  if (args && typeof args === "object") {
    return Object.fromEntries(Object.entries(args).map(([k, v]) => [k, SECRET_KEY.test(k) ? "[redacted]" : redactArgs(v)]));
  }
  return args;
}

function rowHash(
  prev: string,
  seq: number,
  at: number,
  e: { actor: string; surface: string; action: string; target: string; args: string; outcome: string; reason_code: string },
): string {
  return createHash("sha256")
    .update(JSON.stringify([prev, seq, at, e.actor, e.surface, e.action, e.target, e.args, e.outcome, e.reason_code]))
    .digest("hex");
}

/** Append one entry (call inside the caller's transaction when it belongs with other writes). */
export function appendAudit(store: Store, entry: AuditEntry, atMs: number): AuditRow {
  // One unit of work (joining the caller's): the tip read and the append commit together, whichever node appends.
  return store.joined(() => appendAt(store, entry, atMs));
}

function appendAt(store: Store, entry: AuditEntry, atMs: number): AuditRow {
  const head = store.audit.tip();
  const seq = (head?.seq ?? 0) + 1;
  const prev = head?.hash ?? GENESIS;
  const args = JSON.stringify(redactArgs(entry.args));
  const hash = rowHash(prev, seq, atMs, { ...entry, args });
  store.audit.append({
    seq,
    at_ms: atMs,
    actor: entry.actor,
    surface: entry.surface,
    action: entry.action,
    target: entry.target,
    args,
    outcome: entry.outcome,
    reason_code: entry.reason_code,
    prev_hash: prev,
    hash,
  });
  return { ...entry, args: JSON.parse(args) as Record<string, unknown>, seq, at_ms: atMs, prev_hash: prev, hash };
}

interface AuditVerifyResult {
  ok: boolean;
  rows: number;
  problems: {
    seq: number;
    code: "audit_row_edited" | "audit_chain_broken" | "audit_row_missing" | "audit_head_mismatch";
    detail: string;
  }[];
}

/** Rows read and checked per step of a verification. */
const VERIFY_CHUNK = 2000;

/**
 * The chain check, a chunk of rows per step (nothing holds the whole table): each row's sequence, its link to the one
 * before and its own hash; then the head recorded at the last append against the last row. The head is read after
 * the rows: appends that land meanwhile are read too (up to that head), so a busy log does not look truncated.
 */
function* verification(store: Store): Generator<void, AuditVerifyResult> {
  const problems: AuditVerifyResult["problems"] = [];
  const at = { prev: GENESIS, expectSeq: 1, rows: 0, last: null as { seq: number; hash: string } | null };
  const scan = function* (upto: number): Generator<void> {
    for (;;) {
      const chunk = store.audit.after(at.last?.seq ?? 0, upto, VERIFY_CHUNK);
      for (const r of chunk) {
        if (r.seq !== at.expectSeq)
          problems.push({ seq: r.seq, code: "audit_row_missing", detail: `expected seq ${at.expectSeq}, found ${r.seq}` });
        if (r.prev_hash !== at.prev)
          problems.push({ seq: r.seq, code: "audit_chain_broken", detail: "prev_hash does not match the previous row" });
        if (rowHash(r.prev_hash, r.seq, r.at_ms, r) !== r.hash)
          problems.push({ seq: r.seq, code: "audit_row_edited", detail: "row content does not match its hash" });
        at.prev = r.hash;
        at.expectSeq = r.seq + 1;
        at.last = { seq: r.seq, hash: r.hash };
        at.rows += 1;
      }
      if (chunk.length < VERIFY_CHUNK) return;
      yield;
    }
  };
  yield* scan(Number.MAX_SAFE_INTEGER);
  const headRaw = store.audit.storedHead();
  const head = headRaw ? (JSON.parse(headRaw) as { seq: number; hash: string }) : null;
  // Rows appended since the scan ended, up to the head just read (the head moves with its row, never before it).
  if (head && head.seq > (at.last?.seq ?? 0)) yield* scan(head.seq);
  if ((head?.seq ?? 0) !== (at.last?.seq ?? 0) || (head && head.hash !== at.last?.hash)) {
    problems.push({
      seq: head?.seq ?? 0,
      code: "audit_head_mismatch",
      detail: `head says seq ${head?.seq ?? 0}, table ends at ${at.last?.seq ?? 0}`,
    });
  }
  return { ok: problems.length === 0, rows: at.rows, problems };
}

/** Recompute the chain from the first row (`tau audit verify`). */
export function verifyAudit(store: Store): AuditVerifyResult {
  const steps = verification(store);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * `verifyAudit` for a process that serves others meanwhile (the web page in `tau run`): the event loop gets a turn
 * between chunks, so webhooks and the runner are not held for the whole table (it only grows).
 */
export async function verifyAuditInTurns(store: Store): Promise<AuditVerifyResult> {
  const steps = verification(store);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
