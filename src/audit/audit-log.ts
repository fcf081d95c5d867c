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

/** Recompute the chain from the first row. */
export function verifyAudit(store: Store): AuditVerifyResult {
  const rows = store.audit.all();
  const problems: AuditVerifyResult["problems"] = [];
  let prev = GENESIS;
  let expectSeq = 1;
  for (const r of rows) {
    if (r.seq !== expectSeq) problems.push({ seq: r.seq, code: "audit_row_missing", detail: `expected seq ${expectSeq}, found ${r.seq}` });
    if (r.prev_hash !== prev)
      problems.push({ seq: r.seq, code: "audit_chain_broken", detail: "prev_hash does not match the previous row" });
    const h = rowHash(r.prev_hash, r.seq, r.at_ms, r);
    if (h !== r.hash) problems.push({ seq: r.seq, code: "audit_row_edited", detail: "row content does not match its hash" });
    prev = r.hash;
    expectSeq = r.seq + 1;
  }
  const headRaw = store.audit.storedHead();
  const head = headRaw ? (JSON.parse(headRaw) as { seq: number; hash: string }) : null;
  const last = rows.at(-1);
  if ((head?.seq ?? 0) !== (last?.seq ?? 0) || (head && head.hash !== last?.hash)) {
    problems.push({
      seq: head?.seq ?? 0,
      code: "audit_head_mismatch",
      detail: `head says seq ${head?.seq ?? 0}, table ends at ${last?.seq ?? 0}`,
    });
  }
  return { ok: problems.length === 0, rows: rows.length, problems };
}
