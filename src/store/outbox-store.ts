/**
 * @module Store family: the outbox — one row per reply and one per chunk, their delivery state, receipts, dead
 * letters and replays. Callers group the methods into units of work (`store.atomically`). Several nodes deliver from one
 * outbox by claiming rows (`claimPending`, migration 014): a claim names the node until it expires; a final status
 * releases it.
 */
import { dialectOf, type Db, type DbStatement } from "./db.ts";

export interface OutboxRow {
  outbox_id: string;
  event_id: string | null;
  transport: string;
  account_id: string;
  conversation_id: string;
  thread_id: string | null;
  reply_to: string | null;
  mode: string;
  purpose: string;
  status: string;
  reason: string | null;
  chunk_count: number;
  attempts: number;
  next_attempt_at_ms: number;
  created_at_ms: number;
  updated_at_ms: number;
  /** JSON of the structured reply / delivery action (migration 009); null for plain replies and older rows. */
  rich?: string | null;
}

/** Rows a claim took, oldest first, and each one's chunks in order (every row has an entry). */
export interface ClaimedRows {
  rows: OutboxRow[];
  chunks: Map<string, ChunkRow[]>;
}

/** An undelivered outbox row (`dead_letter`, `unknown`, `failed`) with its sent-chunk count and first unsent receipt (JSON text). */
export interface DeadLetterRow extends OutboxRow {
  id: number;
  chunks_sent: number;
  first_receipt: string | null;
}

export interface ChunkRow {
  outbox_id: string;
  idx: number;
  body: string;
  status: string;
  reason: string | null;
  receipt: string | null;
  provider_message_id: string | null;
}

/** The row columns callers see (every column before migration 014, in table order): claims stay inside the store. */
const COLUMNS =
  "id, outbox_id, event_id, transport, account_id, conversation_id, thread_id, reply_to, mode, purpose, status, reason, " +
  "chunk_count, attempts, next_attempt_at_ms, created_at_ms, updated_at_ms, rich";
const O_COLUMNS = COLUMNS.split(", ")
  .map((c) => "o." + c)
  .join(", ");

/** Statuses of a row still to deliver; any other status is final and releases the row's claim. */
const PENDING_STATUSES: readonly string[] = ["queued", "retry_scheduled", "sending"];
/**
 * `status` of the row (alias `a`) is pending / needs attention, written exactly as the partial indexes `outbox_pending`
 * and `outbox_attention` state their conditions (migration 019): SQLite uses a partial index only for a query term
 * that matches its condition. OR-ed equalities, not an IN list: SQLite evaluates a partial index's condition on every
 * insert and update of the table, and an IN list there cost ≈ 3.7 µs per outbox insert for the two indexes (three
 * comparisons: a fraction of that). `status = 'dead_letter' OR status = 'unknown'` alone is the left part of the
 * attention condition, so it may use that index too.
 */
const isPending = (a: string) => `(${a}status = 'queued' OR ${a}status = 'retry_scheduled' OR ${a}status = 'sending')`;
const isAttention = (a: string) => `(${a}status = 'dead_letter' OR ${a}status = 'unknown' OR ${a}status = 'failed')`;
const isReplayable = (a: string) => `(${a}status = 'dead_letter' OR ${a}status = 'unknown')`;
/** The same test on a bound status (`@status`), for a CASE. */
const PENDING_PARAM = "(@status = 'queued' OR @status = 'retry_scheduled' OR @status = 'sending')";
/** Ops alert ids (`oa_…`) sort between these two bounds (bytewise, as both engines compare these columns). */
const IS_OPS_ALERT = (a: string) => `(${a}.outbox_id >= 'oa_' AND ${a}.outbox_id < 'oa\`')`;
/** A row `node` may claim at `now` (params: node, now): unclaimed, claimed by it already, or its claim has expired. */
const CLAIMABLE = "(o.claimed_by IS NULL OR o.claimed_by = ? OR o.claim_until_ms <= ?)";
/**
 * Replies to one conversation go out in order: a row waits while an earlier row of its conversation is still pending
 * and not due (rescheduled after a 429, a rate-limit refusal or pacing), or is claimed by another node whose claim is
 * live (that node may be sending it right now). Params: now, node, now.
 */
const ORDER_KEPT =
  "NOT EXISTS (SELECT 1 FROM outbox e WHERE e.transport = o.transport AND e.conversation_id = o.conversation_id " +
  `AND e.account_id = o.account_id AND e.id < o.id AND ${isPending("e.")} AND NOT ${IS_OPS_ALERT("e")} ` +
  "AND (e.next_attempt_at_ms > ? OR (e.claimed_by IS NOT NULL AND e.claimed_by <> ? AND e.claim_until_ms > ?)))";
/** Replies due for `node` (params: now, node, now, now, node, now). */
const CLAIMABLE_REPLIES = `${isPending("o.")} AND o.next_attempt_at_ms <= ? AND ${CLAIMABLE} AND NOT ${IS_OPS_ALERT("o")} AND ${ORDER_KEPT}`;
/** Ops alerts due for `node` (params: now, node, now); the watchdog's, no conversation order among them. */
const CLAIMABLE_OPS_ALERTS = `${isPending("o.")} AND o.next_attempt_at_ms <= ? AND ${CLAIMABLE} AND ${IS_OPS_ALERT("o")}`;

/** Coerce the integer columns (PostgreSQL BIGINT may come back as text); rows come back in id order. */
function toRows(rows: (OutboxRow & { id: number })[]): OutboxRow[] {
  return rows
    .map((r) => ({
      ...r,
      id: Number(r.id),
      chunk_count: Number(r.chunk_count),
      attempts: Number(r.attempts),
      next_attempt_at_ms: Number(r.next_attempt_at_ms),
      created_at_ms: Number(r.created_at_ms),
      updated_at_ms: Number(r.updated_at_ms),
    }))
    .sort((a, b) => a.id - b.id);
}

export function createOutboxStore(db: Db) {
  const pg = dialectOf(db) === "postgres";
  // PostgreSQL: the claim takes the rows it returns with FOR UPDATE SKIP LOCKED (rows another transaction is writing are
  // left for the next pass). SQLite has one writer, so the same statement needs no lock clause.
  const lockRows = pg ? " FOR UPDATE OF o SKIP LOCKED" : "";
  // A JSON array of outbox ids as a set (renew / release the rows of one pass in one statement).
  const idSet = pg ? `(SELECT x COLLATE "C" FROM jsonb_array_elements_text(CAST(? AS jsonb)) AS t(x))` : "(SELECT value FROM json_each(?))";
  const s = {
    insert: db.prepare(
      "INSERT INTO outbox (outbox_id, event_id, transport, account_id, conversation_id, thread_id, reply_to, mode, purpose, status, reason, chunk_count, attempts, next_attempt_at_ms, created_at_ms, updated_at_ms, rich, claimed_by, claim_until_ms) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
    ),
    insertChunk: db.prepare(
      "INSERT INTO outbox_chunks (outbox_id, idx, body, status, reason, receipt, provider_message_id, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
    ),
    // Ops alerts (ids 'oa_…') are the watchdog's to deliver, so a stuck runner cannot hold them back.
    // Replies to one conversation go out in order: a row waits while an earlier row of its conversation is still
    // pending but not due (rescheduled after a 429, a rate-limit refusal or pacing). A read: claims are not looked at.
    pending: db.prepare<[number, number, number], OutboxRow>(
      `SELECT ${O_COLUMNS} FROM outbox o WHERE ${isPending("o.")} AND o.next_attempt_at_ms <= ? AND NOT ${IS_OPS_ALERT("o")} ` +
        "AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.transport = o.transport AND e.conversation_id = o.conversation_id " +
        `AND e.account_id = o.account_id AND e.id < o.id AND ${isPending("e.")} ` +
        `AND e.next_attempt_at_ms > ? AND NOT ${IS_OPS_ALERT("e")}) ORDER BY o.id LIMIT ?`,
    ),
    pendingOpsAlerts: db.prepare<[number, number], OutboxRow>(
      `SELECT ${O_COLUMNS} FROM outbox o WHERE ${IS_OPS_ALERT("o")} AND ${isPending("o.")} ` +
        "AND o.next_attempt_at_ms <= ? ORDER BY o.id LIMIT ?",
    ),
    // Claims (params: now, node, now, now, node, now for replies; now, node, now for ops alerts). `anyClaimable*` is a
    // read, so an idle pass writes nothing; `claim*` marks the rows for `node` and returns them.
    anyClaimableReply: db
      .prepare<[number, string, number, number, string, number], number>(`SELECT 1 FROM outbox o WHERE ${CLAIMABLE_REPLIES} LIMIT 1`)
      .pluck(),
    claimReplies: db.prepare<unknown[], OutboxRow & { id: number }>(
      `UPDATE outbox SET claimed_by = ?, claim_until_ms = ? WHERE id IN (SELECT o.id FROM outbox o WHERE ${CLAIMABLE_REPLIES} ` +
        `ORDER BY o.id LIMIT ?${lockRows}) RETURNING ${COLUMNS}`,
    ),
    anyClaimableOpsAlert: db
      .prepare<[number, string, number], number>(`SELECT 1 FROM outbox o WHERE ${CLAIMABLE_OPS_ALERTS} LIMIT 1`)
      .pluck(),
    claimOpsAlerts: db.prepare<unknown[], OutboxRow & { id: number }>(
      `UPDATE outbox SET claimed_by = ?, claim_until_ms = ? WHERE id IN (SELECT o.id FROM outbox o WHERE ${CLAIMABLE_OPS_ALERTS} ` +
        `ORDER BY o.id LIMIT ?${lockRows}) RETURNING ${COLUMNS}`,
    ),
    // Claims are taken one node at a time on PostgreSQL: under READ COMMITTED a claimer that skips a row another one is
    // claiming still sees it unclaimed, and could take the next reply of that conversation. Held to the commit.
    claimLock: pg ? db.prepare("SELECT pg_advisory_xact_lock(7315014)") : null,
    // A claim's COMMIT need not wait for its WAL flush: no request goes out for a claimed row before that row's
    // `sending` mark commits synchronously, which flushes the WAL up to it, the claim included. Lost on a server crash
    // (within wal_writer_delay), a claim is as if never taken — every node's connection died with it.
    claimAsyncCommit: pg ? db.prepare("SET LOCAL synchronous_commit TO OFF") : null,
    renewClaims: db.prepare<[number, string, string]>(
      `UPDATE outbox SET claim_until_ms = ? WHERE claimed_by = ? AND ${isPending("")} AND outbox_id IN ${idSet}`,
    ),
    claimOf: db.prepare<[string], { claimed_by: string | null; claim_until_ms: number }>(
      "SELECT claimed_by, claim_until_ms FROM outbox WHERE outbox_id = ?",
    ),
    releaseClaims: db.prepare<[string, string]>(
      `UPDATE outbox SET claimed_by = NULL, claim_until_ms = 0 WHERE claimed_by = ? AND outbox_id IN ${idSet}`,
    ),
    countPending: db.prepare<[], number>(`SELECT COUNT(*) FROM outbox WHERE ${isPending("")}`).pluck(),
    chunksOf: db.prepare<[string], ChunkRow>(
      "SELECT outbox_id, idx, body, status, reason, receipt, provider_message_id FROM outbox_chunks WHERE outbox_id = ? ORDER BY idx",
    ),
    // The chunks of the rows a claim just took (params: node, until): read in the claim's own round trip.
    claimedChunks: db.prepare<[string, number], ChunkRow>(
      "SELECT k.outbox_id, k.idx, k.body, k.status, k.reason, k.receipt, k.provider_message_id FROM outbox o " +
        `JOIN outbox_chunks k ON k.outbox_id = o.outbox_id WHERE ${isPending("o.")} AND o.claimed_by = ? AND o.claim_until_ms = ? ` +
        "ORDER BY k.outbox_id, k.idx",
    ),
    chunksOfMany: db.prepare<[string], ChunkRow>(
      `SELECT outbox_id, idx, body, status, reason, receipt, provider_message_id FROM outbox_chunks WHERE outbox_id IN ${idSet} ORDER BY outbox_id, idx`,
    ),
    setChunk: db.prepare(
      "UPDATE outbox_chunks SET status = @status, reason = @reason, receipt = @receipt, provider_message_id = COALESCE(@provider_message_id, provider_message_id), updated_at_ms = @now WHERE outbox_id = @outbox_id AND idx = @idx",
    ),
    // A final status (sent, dead_letter, unknown, failed) releases the row's claim.
    setRow: db.prepare(
      "UPDATE outbox SET status = @status, reason = @reason, attempts = @attempts, next_attempt_at_ms = @next_attempt_at_ms, updated_at_ms = @now, " +
        `claimed_by = CASE WHEN ${PENDING_PARAM} THEN claimed_by ELSE NULL END, ` +
        `claim_until_ms = CASE WHEN ${PENDING_PARAM} THEN claim_until_ms ELSE 0 END WHERE outbox_id = @outbox_id`,
    ),
    get: db.prepare<[string], OutboxRow>(`SELECT ${COLUMNS} FROM outbox WHERE outbox_id = ?`),
    // An earlier reply of the row's conversation still to deliver (any pending status, due or not, claimed or not).
    earlierPending: db
      .prepare<[string], number>(
        "SELECT 1 FROM outbox o JOIN outbox e ON e.transport = o.transport AND e.conversation_id = o.conversation_id " +
          `AND e.account_id = o.account_id AND e.id < o.id AND ${isPending("e.")} AND NOT ${IS_OPS_ALERT("e")} WHERE o.outbox_id = ? LIMIT 1`,
      )
      .pluck(),
    markDryRunChunks: db.prepare<[number, string]>(
      "UPDATE outbox_chunks SET status = 'sent', reason = 'delivery_dry_run', receipt = 'dryrun:' || outbox_id || ':' || idx, updated_at_ms = ? WHERE outbox_id = ? AND status <> 'sent'",
    ),
    markDryRunRow: db.prepare<[number, string]>(
      "UPDATE outbox SET status = 'sent', reason = 'delivery_dry_run', attempts = attempts + 1, next_attempt_at_ms = 0, updated_at_ms = ?, " +
        "claimed_by = NULL, claim_until_ms = 0 WHERE outbox_id = ?",
    ),
    // Answered from the partial index `outbox_attention` (dead_letter, unknown, failed): cheap on every /healthz. The
    // condition repeats the index's: SQLite cannot see that a bound `status = ?` implies it, and would scan the outbox.
    countInStatus: db.prepare<[string], number>(`SELECT COUNT(*) FROM outbox WHERE status = ? AND ${isAttention("")}`).pluck(),
    lastId: db.prepare<[], number>("SELECT COALESCE(MAX(id), 0) FROM outbox").pluck(),
    repliesAfter: db.prepare<[number], number>("SELECT COUNT(*) FROM outbox WHERE id > ? AND purpose <> 'alert'").pluck(),
    deadLetters: db.prepare<[number], DeadLetterRow>(
      `SELECT ${O_COLUMNS}, (SELECT COUNT(*)` +
        " FROM outbox_chunks c WHERE c.outbox_id = o.outbox_id AND c.status = 'sent') AS chunks_sent, " +
        "(SELECT c.receipt FROM outbox_chunks c WHERE c.outbox_id = o.outbox_id AND c.status <> 'sent' ORDER BY c.idx LIMIT 1) AS first_receipt " +
        `FROM outbox o WHERE ${isAttention("o.")} ORDER BY o.id LIMIT ?`,
    ),
    replayable: db.prepare<[number], string>(`SELECT outbox_id FROM outbox WHERE ${isReplayable("")} ORDER BY id LIMIT ?`).pluck(),
    requeueChunks: db.prepare<[number, string]>(
      "UPDATE outbox_chunks SET status = 'queued', updated_at_ms = ? WHERE outbox_id = ? AND status <> 'sent'",
    ),
    chunkByProviderId: db.prepare<[string], Pick<ChunkRow, "outbox_id" | "idx" | "receipt">>(
      "SELECT outbox_id, idx, receipt FROM outbox_chunks WHERE provider_message_id = ? LIMIT 1",
    ),
    setChunkReceipt: db.prepare<[string, number, string, number]>(
      "UPDATE outbox_chunks SET receipt = ?, updated_at_ms = ? WHERE outbox_id = ? AND idx = ?",
    ),
    // Bounded by outbox_by_conversation (transport, conversation_id, created_at_ms): only the recent rows of one chat.
    repliedToEvent: db
      .prepare<[string, string, number, string], number>(
        "SELECT 1 FROM outbox WHERE transport = ? AND conversation_id = ? AND created_at_ms >= ? AND event_id = ? LIMIT 1",
      )
      .pluck(),
  };
  /** Set by `claimInserts`: rows this store inserts still to deliver are claimed by this node for `claimMs`. */
  let inserter: { node: string; claimMs: number } | null = null;

  /** Claim due rows in one unit of work: a read first, so an idle pass takes no write lock. */
  function claim(any: () => unknown, take: () => (OutboxRow & { id: number })[]): OutboxRow[] {
    if (any() === undefined) return [];
    return db
      .transaction(() => {
        // Queued, not read: the lock goes out with the claim itself, in the unit of work's one round trip before COMMIT.
        s.claimAsyncCommit?.run();
        s.claimLock?.run();
        return toRows(take());
      })
      .immediate();
  }

  // A claim's parameters (see CLAIMABLE_REPLIES / CLAIMABLE_OPS_ALERTS) and its "anything claimable?" read.
  function replyClaim(node: string, now: number, claimMs: number, limit: number): unknown[] {
    return [node, now + claimMs, now, node, now, now, node, now, limit];
  }
  const anyReply = (node: string, now: number) => () => s.anyClaimableReply.get(now, node, now, now, node, now);
  function opsAlertClaim(node: string, now: number, claimMs: number, limit: number): unknown[] {
    return [node, now + claimMs, now, node, now, limit];
  }
  const anyOpsAlert = (node: string, now: number) => () => s.anyClaimableOpsAlert.get(now, node, now);

  /**
   * A claim (`take` with `args`, claiming until `until`) with the claimed rows' chunks, once it has committed. On
   * PostgreSQL the claim, its chunks and its COMMIT are one round trip that does not block this thread — and no "anything
   * to claim?" read goes first: a claim that takes nothing assigns no transaction id there, so an idle pass still writes
   * nothing. On SQLite: `claim`, then the chunks.
   */
  async function claimWithChunks(
    node: string,
    until: number,
    any: () => unknown,
    take: DbStatement<unknown[], OutboxRow & { id: number }>,
    args: unknown[],
  ): Promise<ClaimedRows> {
    if (!db.transactionAsync || !take.allQueued || !s.claimedChunks.allQueued) {
      const rows = claim(any, () => take.all(...args));
      return { rows, chunks: chunksOfMany(rows.map((r) => r.outbox_id)) };
    }
    let claimed: () => ClaimedRows = () => ({ rows: [], chunks: new Map() });
    await db.transactionAsync(() => {
      s.claimAsyncCommit?.run();
      claimed = queueClaim(node, until, take, args);
    });
    return claimed();
  }

  /** Inside a unit of work (PostgreSQL): queue the claim lock, the claim and its chunks; their rows once it answered. */
  function queueClaim(
    node: string,
    until: number,
    take: DbStatement<unknown[], OutboxRow & { id: number }>,
    args: unknown[],
  ): () => ClaimedRows {
    s.claimLock?.run();
    const rowsOf = take.allQueued!(...args);
    const chunksOf = s.claimedChunks.allQueued!(node, until);
    return () => {
      const rows = toRows(rowsOf());
      const chunks = new Map<string, ChunkRow[]>(rows.map((r) => [r.outbox_id, []]));
      for (const c of chunksOf()) chunks.get(c.outbox_id)?.push(c);
      return { rows, chunks };
    };
  }

  /** `chunksOf` for many rows in one read (a delivery pass: one statement, not one per row); every id has an entry. */
  function chunksOfMany(outboxIds: readonly string[]): Map<string, ChunkRow[]> {
    const out = new Map<string, ChunkRow[]>(outboxIds.map((id) => [id, []]));
    if (outboxIds.length === 1) out.set(outboxIds[0]!, s.chunksOf.all(outboxIds[0]!));
    else if (outboxIds.length > 1) for (const c of s.chunksOfMany.all(JSON.stringify(outboxIds))) out.get(c.outbox_id)?.push(c);
    return out;
  }

  return {
    /**
     * Rows this store inserts from now on with a status still to deliver are claimed by `node` for `claimMs` (null:
     * unclaimed): the node that writes a reply delivers it, unless it dies first and the claim expires.
     */
    claimInserts(node: string | null, claimMs = 0): void {
      inserter = node === null ? null : { node, claimMs };
    },
    /** Insert a row (`attempts` 0 unless given: a reply delivered as it is stored counts its one attempt). */
    insert: (
      r: Omit<OutboxRow, "attempts" | "next_attempt_at_ms" | "created_at_ms" | "updated_at_ms"> & { attempts?: number },
      now: number,
    ) =>
      void s.insert.run(
        r.outbox_id,
        r.event_id,
        r.transport,
        r.account_id,
        r.conversation_id,
        r.thread_id,
        r.reply_to,
        r.mode,
        r.purpose,
        r.status,
        r.reason,
        r.chunk_count,
        r.attempts ?? 0,
        now,
        now,
        r.rich ?? null,
        inserter && PENDING_STATUSES.includes(r.status) ? inserter.node : null,
        inserter && PENDING_STATUSES.includes(r.status) ? now + inserter.claimMs : 0,
      ),
    insertChunk: (r: Omit<ChunkRow, "provider_message_id">, now: number) =>
      void s.insertChunk.run(r.outbox_id, r.idx, r.body, r.status, r.reason, r.receipt, now),
    /** Rows waiting for delivery (queued, retry due, or cut off while sending), oldest first; ops alerts excepted. */
    pending: (now: number, limit: number): OutboxRow[] => s.pending.all(now, now, limit),
    /** Ops alert rows (`oa_…`) waiting for the watchdog's delivery, oldest first. */
    pendingOpsAlerts: (now: number, limit: number): OutboxRow[] => s.pendingOpsAlerts.all(now, limit),
    /**
     * Claim for `node` until `now + claimMs` the rows it may deliver now, oldest first, at most `limit`: due rows that are
     * unclaimed, claimed by `node` already, or whose claim expired (a node that died mid-send; a row it left `sending`
     * is then an interrupted send). Conversation order holds across nodes: a row waits while an earlier row of its
     * conversation is pending but not due, or claimed by another node with a live claim. Ops alerts excepted.
     */
    claimPending: (node: string, now: number, claimMs: number, limit: number): OutboxRow[] =>
      claim(anyReply(node, now), () => s.claimReplies.all(...replyClaim(node, now, claimMs, limit))),
    /**
     * `claimPending` with the claimed rows' chunks, once the claim has committed. On PostgreSQL the claim, its chunks and
     * its COMMIT are one round trip that does not block this thread — and no "anything to claim?" read goes first: a
     * claim that takes nothing assigns no transaction id there, so an idle pass still writes nothing.
     */
    claimPendingWithChunks: (node: string, now: number, claimMs: number, limit: number): Promise<ClaimedRows> =>
      claimWithChunks(node, now + claimMs, anyReply(node, now), s.claimReplies, replyClaim(node, now, claimMs, limit)),
    /**
     * `claimPendingWithChunks` inside the caller's unit of work: on PostgreSQL the claim goes out with that unit's next
     * round trip (its COMMIT at the latest), and the returned function gives the claimed rows once the unit has
     * committed (before: an error). Null on SQLite (a claim there is no round trip worth saving).
     */
    claimPendingInUnit: (node: string, now: number, claimMs: number, limit: number): (() => ClaimedRows) | null =>
      db.transactionAsync && s.claimReplies.allQueued && db.inTransaction
        ? queueClaim(node, now + claimMs, s.claimReplies, replyClaim(node, now, claimMs, limit))
        : null,
    /** `claimPending` for the ops alert rows (`oa_…`) the watchdog delivers. */
    claimOpsAlerts: (node: string, now: number, claimMs: number, limit: number): OutboxRow[] =>
      claim(anyOpsAlert(node, now), () => s.claimOpsAlerts.all(...opsAlertClaim(node, now, claimMs, limit))),
    /** `claimPendingWithChunks` for the ops alert rows (`oa_…`) the watchdog delivers. */
    claimOpsAlertsWithChunks: (node: string, now: number, claimMs: number, limit: number): Promise<ClaimedRows> =>
      claimWithChunks(node, now + claimMs, anyOpsAlert(node, now), s.claimOpsAlerts, opsAlertClaim(node, now, claimMs, limit)),
    /** Extend `node`'s claims on these rows (still pending) to `until`: a long pass keeps what it holds. */
    renewClaims: (node: string, outboxIds: readonly string[], until: number): void => {
      if (outboxIds.length) s.renewClaims.run(until, node, JSON.stringify(outboxIds));
    },
    /** Give up `node`'s claims on these rows (the pass is over: a row rescheduled may go out from any node). */
    releaseClaims: (node: string, outboxIds: readonly string[]): void => {
      if (outboxIds.length) s.releaseClaims.run(node, JSON.stringify(outboxIds));
    },
    /** Who holds a row's claim and until when (null when unclaimed or expired at `now`): for status views and tests. */
    claimOf: (outboxId: string, now: number): { node: string; until_ms: number } | null => {
      const c = s.claimOf.get(outboxId);
      return c && c.claimed_by !== null && Number(c.claim_until_ms) > now
        ? { node: c.claimed_by, until_ms: Number(c.claim_until_ms) }
        : null;
    },
    /** Rows not delivered yet and not given up on (queued, retry_scheduled, sending): `tau_outbox_pending`. */
    countPending: (): number => s.countPending.get() ?? 0,
    chunksOf: (outboxId: string): ChunkRow[] => s.chunksOf.all(outboxId),
    /** `chunksOf` for many rows in one read (a delivery pass: one statement, not one per row); every id has an entry. */
    chunksOfMany,
    setChunk: (
      c: {
        outbox_id: string;
        idx: number;
        status: string;
        reason: string | null;
        receipt: string | null;
        provider_message_id?: string | null;
      },
      now: number,
    ) => void s.setChunk.run({ provider_message_id: null, ...c, now }),
    setRow: (o: { outbox_id: string; status: string; reason: string | null; attempts: number; next_attempt_at_ms: number }, now: number) =>
      void s.setRow.run({ ...o, now }),
    get: (outboxId: string): OutboxRow | undefined => s.get.get(outboxId),
    /** True while an earlier reply of this row's conversation is still to deliver: this one must not overtake it. */
    hasEarlierPending: (outboxId: string): boolean => s.earlierPending.get(outboxId) !== undefined,
    /** Every chunk of a dry-run reply is written: mark it sent with its deterministic receipt ids. */
    markDryRunSent: (outboxId: string, now: number) => {
      s.markDryRunChunks.run(now, outboxId);
      s.markDryRunRow.run(now, outboxId);
    },
    /** Undelivered rows (dead_letter, unknown, failed), oldest first, at most `limit`. */
    deadLetters: (limit: number): DeadLetterRow[] => s.deadLetters.all(limit),
    /** Rows in one status (health counts `dead_letter`). */
    countInStatus: (status: "dead_letter" | "unknown" | "failed"): number => s.countInStatus.get(status) ?? 0,
    /** A mark before a run (`tau process --once`): replies written after it are counted by `repliesAfter`. */
    lastId: (): number => s.lastId.get() ?? 0,
    /** Replies (every purpose but ops alerts) written after `mark`, whatever wrote them: pipeline, command job, responder. */
    repliesAfter: (mark: number): number => s.repliesAfter.get(mark) ?? 0,
    /** Ids of the oldest `limit` rows a replay may re-queue (dead_letter, unknown). */
    replayableIds: (limit: number): string[] => s.replayable.all(limit),
    /** Put a row's unsent chunks back in the queue (sent chunks are never resent). */
    requeueUnsentChunks: (outboxId: string, now: number) => void s.requeueChunks.run(now, outboxId),
    /** The chunk a provider knows by `providerMessageId` (delivery receipts), if any. */
    chunkByProviderMessageId: (providerMessageId: string): Pick<ChunkRow, "outbox_id" | "idx" | "receipt"> | undefined =>
      s.chunkByProviderId.get(providerMessageId),
    /** Replace one chunk's receipt (JSON text). */
    setChunkReceipt: (outboxId: string, idx: number, receipt: string, now: number) =>
      void s.setChunkReceipt.run(receipt, now, outboxId, idx),
    /** True when a reply to `eventId` in this chat was queued at or after `sinceMs` (a slash command's later replies). */
    repliedToEvent: (transport: string, conversationId: string, eventId: string, sinceMs: number): boolean =>
      s.repliedToEvent.get(transport, conversationId, sinceMs, eventId) !== undefined,
  };
}

export type OutboxStore = ReturnType<typeof createOutboxStore>;
