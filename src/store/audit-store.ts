/**
 * @module Store family: the audit log — an append-only table where each row carries the hash of the previous one,
 * and the head hash kept separately (so a deleted tail shows). Hashing and redaction live in `src/audit`.
 */
import { dialectOf, type Db } from "./db.ts";

/** Advisory lock key serializing audit appends across PostgreSQL nodes (each reads the tip, then writes tip + 1). */
const AUDIT_APPEND_LOCK = 7_315_015;

/** A stored audit row (`args` is the redacted JSON text the hash covers). */
export interface AuditRecord {
  seq: number;
  at_ms: number;
  actor: string;
  surface: string;
  action: string;
  target: string;
  args: string;
  outcome: string;
  reason_code: string;
  prev_hash: string;
  hash: string;
}

export function createAuditStore(db: Db) {
  // Several nodes on one PostgreSQL store would read the same tip and collide on seq + 1: the first reader takes a
  // transaction-scoped advisory lock (released at its commit), so appends queue up. SQLite has one writer already.
  const serialize = dialectOf(db) === "postgres" ? db.prepare<[], unknown>(`SELECT pg_advisory_xact_lock(${AUDIT_APPEND_LOCK})`) : null;
  const q = {
    head: db.prepare<[], { seq: number; hash: string }>("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"),
    insert: db.prepare(
      "INSERT INTO audit (seq, at_ms, actor, surface, action, target, args, outcome, reason_code, prev_hash, hash) VALUES (@seq, @at_ms, @actor, @surface, @action, @target, @args, @outcome, @reason_code, @prev_hash, @hash)",
    ),
    putHead: db.prepare("INSERT INTO kv (key, value) VALUES ('audit_head', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
    storedHead: db.prepare<[], string>("SELECT value FROM kv WHERE key = 'audit_head'").pluck(),
    all: db.prepare<[], AuditRecord>(
      "SELECT seq, at_ms, actor, surface, action, target, args, outcome, reason_code, prev_hash, hash FROM audit ORDER BY seq",
    ),
    between: db.prepare<[number, number], AuditRecord>(
      "SELECT seq, at_ms, actor, surface, action, target, args, outcome, reason_code, prev_hash, hash FROM audit WHERE at_ms >= ? AND at_ms < ? ORDER BY seq",
    ),
    after: db.prepare<[number, number, number], AuditRecord>(
      "SELECT seq, at_ms, actor, surface, action, target, args, outcome, reason_code, prev_hash, hash FROM audit WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
    ),
    // The web page's filters (empty: any), newest first, a page at a time: substring of actor and target, exact outcome.
    filtered: db.prepare<[string, string, string, string, string, string, number, number], AuditRecord>(
      "SELECT seq, at_ms, actor, surface, action, target, args, outcome, reason_code, prev_hash, hash FROM audit " +
        "WHERE (? = '' OR instr(actor, ?) > 0) AND (? = '' OR instr(target, ?) > 0) AND (? = '' OR outcome = ?) ORDER BY seq DESC LIMIT ? OFFSET ?",
    ),
    recent: db.prepare<[number], AuditRecord>(
      "SELECT seq, at_ms, actor, surface, action, target, args, outcome, reason_code, prev_hash, hash FROM audit ORDER BY seq DESC LIMIT ?",
    ),
  };
  /**
   * PostgreSQL: the tip this unit of work appended last, with the unit it belongs to (`Db.unitEpoch`). While that unit
   * goes on (nothing rolled back) it holds the append lock, so nobody else moved the tip: a second append in the same
   * unit of work (the runner's batch: one per command) needs neither the lock nor the read again — each was a round trip
   * that also sent every write queued before it.
   */
  let appended: { epoch: number; tip: { seq: number; hash: string } } | null = null;
  const epochNow = (): number | undefined => (db.inTransaction ? db.unitEpoch : undefined);
  return {
    /**
     * The last row's sequence number and hash (the chain's tip), or undefined for an empty log. Read it and append in
     * one unit of work: on PostgreSQL the read holds the append lock until that unit commits.
     */
    tip: (): { seq: number; hash: string } | undefined => {
      const epoch = epochNow();
      if (appended && epoch !== undefined && appended.epoch === epoch) return { ...appended.tip };
      // Queued, not read: the lock goes out with the tip's read (and whatever writes wait), in one round trip.
      serialize?.run();
      return q.head.get();
    },
    /** Append a row and move the stored head to it; call inside the caller's unit of work when it belongs with other writes. */
    append: (r: AuditRecord): void => {
      q.insert.run(r);
      q.putHead.run(JSON.stringify({ seq: r.seq, hash: r.hash }));
      const epoch = epochNow();
      appended = epoch === undefined ? null : { epoch, tip: { seq: r.seq, hash: r.hash } };
    },
    /** The head recorded at the last append (JSON `{seq, hash}`), independent of the table. */
    storedHead: (): string | undefined => q.storedHead.get(),
    /** Every row in sequence order. */
    all: (): AuditRecord[] => q.all.all(),
    /** Rows written in [fromMs, toMs), in sequence order (`tau export`). */
    between: (fromMs: number, toMs: number): AuditRecord[] => q.between.all(fromMs, toMs),
    /** Rows with `afterSeq` < seq ≤ `uptoSeq`, in sequence order, at most `limit` (verification reads the chain in chunks). */
    after: (afterSeq: number, uptoSeq: number, limit: number): AuditRecord[] => q.after.all(afterSeq, uptoSeq, limit),
    /**
     * Rows matching the filters (empty: any) — `actor` and `target` by substring, `outcome` exactly — newest first,
     * `limit` of them after skipping `offset`.
     */
    filtered: (f: { actor: string; target: string; outcome: string }, offset: number, limit: number): AuditRecord[] =>
      q.filtered.all(f.actor, f.actor, f.target, f.target, f.outcome, f.outcome, limit, offset),
    /** The most recent `limit` rows, oldest first. */
    recent: (limit: number): AuditRecord[] => q.recent.all(limit).reverse(),
  };
}

export type AuditStore = ReturnType<typeof createAuditStore>;
