/**
 * @module Deliver queued outbox rows. Dry-run: one NDJSON append + fsync per batch, then the chunks are
 * marked sent in one transaction; after a crash between the two, receipts already in the file are not
 * written again. The runner's own replies take a shorter way (`dryRunBatch`): stored as sent, their receipts
 * appended and fsynced just before the batch commits, the file's committed end recorded with it — so a crash
 * before the commit leaves bytes that `recover()` cuts off, and each reply is still written exactly once.
 * Provider mode plugs in through `ProviderDelivery`. Several nodes deliver from one outbox: each pass claims the rows
 * it sends for this node with their chunks (`outbox.claimPendingWithChunks`, or in the runner batch's unit of work:
 * `claimAhead`), renews the claims while it sends and releases them at its end; the rows this node writes are claimed
 * by it as they are stored (`outbox.claimInserts`).
 */
import type { ChannelSender, OutboundMode } from "../contracts/outbound.ts";
import type { Transport } from "../contracts/envelope.ts";
import type { ChunkRow, ClaimedRows, OutboxRow, Store } from "../store/index.ts";
import type { DirectDryRun, QueuedReply } from "./outbox.ts";
import { type RenderableJob, withRendering } from "./format-job.ts";
import {
  appendDryRun,
  type DryRunResponderRecord,
  appendDryRunBytes,
  createReceiptLines,
  DRY_RUN_WRITTEN_KEY,
  dryRunReceiptId,
  dryRunWrittenMark,
  readDryRunReceiptIds,
  settleDryRunFile,
  undoDryRunAppend,
  type DryRunAppend,
  type DryRunReceipt,
} from "./dry-run.ts";

/** Sends one outbox row in provider mode; owns retries, receipts and dead letters for that row. */
export interface ProviderDelivery {
  deliver(row: OutboxRow, now: number): Promise<void>;
  /** Many rows at once: per-conversation order kept, conversations concurrent. Resolves with the ids that ended `sent`. */
  deliverMany?(rows: readonly OutboxRow[], now: number, chunks?: ReadonlyMap<string, readonly ChunkRow[]>): Promise<ReadonlySet<string>>;
  /** Failures this process recorded since it started (committed), by reason code, and how many rows were dead-lettered. */
  failures?(): DeliveryFailures;
  /** Chunks this process sent and recorded sent since it started: a running total (callers take differences). */
  sentChunks?(): number;
}

/** Delivery failures a process recorded: a running total (callers take differences), never read back from the store. */
export interface DeliveryFailures {
  readonly byReason: ReadonlyMap<string, number>;
  readonly deadLettered: number;
}

export interface DeliveryDeps {
  store: Pick<Store, "outbox" | "counters" | "kv" | "atomically">;
  senders: ReadonlyMap<Transport, ChannelSender>;
  dryRunFile: string;
  provider?: ProviderDelivery;
  /** True while the outbound kill switch (or a transport's) is on: rows are held, not sent. */
  blocked?: (transport: string) => string | null;
  clock: () => number;
  /** Provider rows, oldest first: null = send now, else the time to defer the row to (`createPacingGate`). */
  pacing?: { defer(row: OutboxRow, now: number): number | null };
  /** This node's id among nodes sharing the store (`cluster.node_id`); one node alone may keep the default. */
  node?: string;
  /** How long a claim holds without renewal: after a node dies, its rows wait this long before another takes them. */
  claimMs?: number;
}

/** The node id of a store no other node shares (tests, one machine without `cluster.node_id`). */
export const DEFAULT_NODE_ID = "local";
/**
 * A claim's life without renewal. A pass renews its claims every third of it while requests are in flight, so only a
 * node stalled that long (or dead) loses them; the rows of a dead node go out from another one after at most this.
 */
export const DEFAULT_CLAIM_MS = 15_000;
/** Rows one delivery pass takes at most. */
const PASS_LIMIT = 5000;

export interface DeliveryReport {
  rows: number;
  chunks: number;
  held: number;
  /** Rows of `rows` that were retries (due `retry_scheduled` rows attempted again). */
  retries: number;
}

/** Dry-run replies written inside a caller's unit of work (`Delivery.dryRunBatch`). */
export interface DryRunBatch extends DirectDryRun {
  /** A responder's would-be model/webhook request, written before the receipts of its reply. */
  addRecord(record: DryRunResponderRecord): void;
  /** Append the receipts (fsync) and record the file's new end; call last inside the unit of work. Returns chunks written. */
  write(): number;
  /** The unit of work did not commit: take back what `write()` appended. */
  abort(): void;
}

/** Create the delivery step. `recover()` once at startup, then `deliverPending()` after each commit. */
export function createDelivery(deps: DeliveryDeps) {
  let alreadyWritten: Set<string> | null = null;
  const node = deps.node ?? DEFAULT_NODE_ID;
  const claimMs = deps.claimMs ?? DEFAULT_CLAIM_MS;
  deps.store.outbox.claimInserts(node, claimMs);

  /** Keep this pass's claims alive while `work` runs (requests in flight), however long it takes. */
  async function holdingClaims<T>(ids: readonly string[], work: () => Promise<T>): Promise<T> {
    const timer = setInterval(() => deps.store.outbox.renewClaims(node, ids, deps.clock() + claimMs), Math.max(1, Math.floor(claimMs / 3)));
    timer.unref();
    try {
      return await work();
    } finally {
      clearInterval(timer);
    }
  }

  function receiptFor(sender: ChannelSender, job: RenderableJob, eventId: string | null): DryRunReceipt {
    return {
      receipt_id: dryRunReceiptId(job.outbox_id, job.idx),
      outbox_id: job.outbox_id,
      event_id: eventId,
      chunk: job.idx,
      chunk_count: job.chunk_count,
      transport: job.target.transport,
      status: "dry_run",
      reason: "delivery_dry_run",
      request: sender.buildRequest(withRendering(job)),
    };
  }

  /** Record the file's committed end with the unit of work that appended. */
  function markWritten(a: DryRunAppend | null): void {
    if (a) deps.store.kv.put(DRY_RUN_WRITTEN_KEY, dryRunWrittenMark(a));
  }

  /**
   * Conversations with rows in flight now: sent directly (`deliverNow`) or by the current `deliverPending` pass. Neither
   * touches a conversation the other is sending in, so one conversation's replies never overtake each other and a row
   * `sending` here is never mistaken for one cut off by a crash. `passLeft`: a pass left rows to a direct send.
   */
  const directConversations = new Set<string>();
  const passConversations = new Set<string>();
  let passLeft = false;
  const conversationOf = (r: OutboxRow) => `${r.transport}\u0000${r.account_id}\u0000${r.conversation_id}`;

  /** The receipt buffer of the last finished batch, for the next one (batches come one after another). */
  let spare: ReturnType<typeof createReceiptLines> | null = null;

  function dryRunBatch(): DryRunBatch {
    const lines = spare ?? createReceiptLines();
    spare = null;
    lines.clear();
    let appended: DryRunAppend | null = null;
    let records = 0;
    return {
      accepts: (transport) => deps.senders.has(transport as Transport) && !deps.blocked?.(transport),
      add(item) {
        const sender = deps.senders.get(item.target.transport)!;
        const chunk_count = item.chunks.length;
        item.chunks.forEach((text, idx) => {
          lines.add(
            receiptFor(
              sender,
              { outbox_id: item.outbox_id, idx, chunk_count, text, target: item.target, rich_column: item.rich },
              item.event_id,
            ),
          );
        });
      },
      addRecord(record) {
        lines.add(record);
        records += 1;
      },
      write() {
        const n = lines.count() - records;
        if (n + records > 0) {
          appended = appendDryRunBytes(deps.dryRunFile, lines.bytes());
          markWritten(appended);
          if (n > 0) deps.store.counters.bump("deliveries.delivery_dry_run", n);
        }
        spare = lines;
        return n;
      },
      abort() {
        if (appended) undoDryRunAppend(deps.dryRunFile, appended);
        appended = null;
      },
    };
  }

  function jobsFor(row: OutboxRow): RenderableJob[] {
    return deps.store.outbox
      .chunksOf(row.outbox_id)
      .filter((c) => c.status !== "sent")
      .map((c) => ({
        outbox_id: row.outbox_id,
        idx: c.idx,
        chunk_count: row.chunk_count,
        text: c.body,
        target: {
          transport: row.transport as Transport,
          account_id: row.account_id,
          conversation_id: row.conversation_id,
          thread_id: row.thread_id,
          reply_to: row.reply_to,
        },
        rich_column: row.rich,
      }));
  }

  function deliverDryRun(rows: OutboxRow[], now: number): number {
    const receipts: DryRunReceipt[] = [];
    const marks: { outbox_id: string; idx: number; receipt: string }[] = [];
    for (const row of rows) {
      for (const job of jobsFor(row)) {
        const sender = deps.senders.get(job.target.transport);
        if (!sender) throw new Error(`no sender for transport ${job.target.transport}`);
        const receipt = receiptFor(sender, job, row.event_id);
        if (!alreadyWritten?.has(receipt.receipt_id)) receipts.push(receipt);
        marks.push({ outbox_id: row.outbox_id, idx: job.idx, receipt: receipt.receipt_id });
      }
    }
    const appended = appendDryRun(deps.dryRunFile, receipts);
    deps.store.atomically(() => {
      markWritten(appended);
      for (const m of marks)
        deps.store.outbox.setChunk(
          { outbox_id: m.outbox_id, idx: m.idx, status: "sent", reason: "delivery_dry_run", receipt: m.receipt },
          now,
        );
      for (const row of rows)
        deps.store.outbox.setRow(
          { outbox_id: row.outbox_id, status: "sent", reason: "delivery_dry_run", attempts: row.attempts + 1, next_attempt_at_ms: 0 },
          now,
        );
      deps.store.counters.bump("deliveries.delivery_dry_run", marks.length);
    });
    return marks.length;
  }

  /** Dry-run replies the runner just committed: no need to read them back from the outbox. */
  function deliverFreshDryRun(items: QueuedReply[], now: number): number {
    const receipts: DryRunReceipt[] = [];
    for (const item of items) {
      const sender = deps.senders.get(item.target.transport);
      if (!sender) throw new Error(`no sender for transport ${item.target.transport}`);
      item.chunks.forEach((text, idx) => {
        receipts.push(
          receiptFor(
            sender,
            { outbox_id: item.outbox_id, idx, chunk_count: item.chunks.length, text, target: item.target, rich_column: item.rich },
            item.event_id,
          ),
        );
      });
    }
    const appended = appendDryRun(deps.dryRunFile, receipts);
    deps.store.atomically(() => {
      markWritten(appended);
      for (const item of items) deps.store.outbox.markDryRunSent(item.outbox_id, now);
      deps.store.counters.bump("deliveries.delivery_dry_run", receipts.length);
    });
    return receipts.length;
  }

  /**
   * Deliver the rows this pass claimed: held ones say why, paced ones wait in the outbox, the rest go out. `settled`
   * collects the rows that ended `sent` (a final status releases the claim with it: no release needed).
   */
  async function deliverClaimed(
    rows: OutboxRow[],
    now: number,
    limit: number,
    settled: Set<string>,
    chunks?: ReadonlyMap<string, readonly ChunkRow[]>,
  ): Promise<DeliveryReport> {
    const report: DeliveryReport = { rows: 0, chunks: 0, held: 0, retries: 0 };
    const ready: Record<OutboundMode, OutboxRow[]> = { "dry-run": [], provider: [], "channel-store": [] };
    const deferred: { row: OutboxRow; until: number }[] = [];
    for (const row of rows) {
      const why = deps.blocked?.(row.transport);
      if (why) {
        report.held += 1;
        // Say why the reply waits, so `tau status` and traces show it.
        if (row.reason !== why)
          deps.store.outbox.setRow(
            {
              outbox_id: row.outbox_id,
              status: row.status,
              reason: why,
              attempts: row.attempts,
              next_attempt_at_ms: row.next_attempt_at_ms,
            },
            now,
          );
        continue;
      }
      // Pacing: a row whose slot is not near waits for it in the outbox (no attempt used), not in this pass.
      const until = row.mode === "provider" && row.status !== "sending" ? deps.pacing?.defer(row, now) : null;
      if (until) deferred.push({ row, until });
      else {
        ready[row.mode as OutboundMode]?.push(row);
        if (row.status === "retry_scheduled" && row.mode !== "channel-store") report.retries += 1;
      }
    }
    if (deferred.length)
      deps.store.atomically(() => {
        for (const { row, until } of deferred)
          deps.store.outbox.setRow(
            {
              outbox_id: row.outbox_id,
              status: "retry_scheduled",
              reason: "delivery_rate_limited",
              attempts: row.attempts,
              next_attempt_at_ms: until,
            },
            now,
          );
      });
    if (ready["dry-run"].length) {
      report.chunks += deliverDryRun(ready["dry-run"], now);
      report.rows += ready["dry-run"].length;
      for (const r of ready["dry-run"]) settled.add(r.outbox_id);
    }
    const provider = deps.provider;
    if (provider && ready.provider.length) {
      const sentBefore = provider.sentChunks?.() ?? 0;
      await holdingClaims(
        ready.provider.map((r) => r.outbox_id),
        async () => {
          if (provider.deliverMany) for (const id of await provider.deliverMany(ready.provider, now, chunks)) settled.add(id);
          else for (const row of ready.provider) await provider.deliver(row, now);
        },
      );
      report.rows += ready.provider.length;
      // What went out meanwhile (a direct send of this process included): the pass's report counts provider chunks too.
      report.chunks += (provider.sentChunks?.() ?? 0) - sentBefore;
    }
    if (rows.length < limit) alreadyWritten = null;
    return report;
  }

  return {
    /** Deliver replies queued by the cycle that just committed (dry-run ones directly; others via the outbox). */
    async deliverFresh(items: QueuedReply[]): Promise<number> {
      const now = deps.clock();
      const ready = items.filter((i) => i.mode === "dry-run" && !deps.blocked?.(i.target.transport));
      return ready.length ? deliverFreshDryRun(ready, now) : 0;
    },
    /**
     * Replies the runner writes inside its batch's unit of work: stored as sent, receipts appended by `write()`
     * before the commit. Call `abort()` when the unit of work fails.
     */
    dryRunBatch,
    /**
     * After a crash: cut off receipts no committed unit of work wrote (their replies are still queued, or their
     * batch is read again), then remember which dry-run receipts already reached the file.
     */
    recover(): void {
      const now = deps.clock();
      const mark = deps.store.kv.get(DRY_RUN_WRITTEN_KEY);
      const settled = settleDryRunFile(deps.dryRunFile, mark, (outboxId, chunk) =>
        deps.store.outbox.chunksOf(outboxId).some((c) => c.idx === chunk && c.status === "sent"),
      );
      if (settled !== mark) deps.store.kv.put(DRY_RUN_WRITTEN_KEY, settled);
      if (deps.store.outbox.pending(now + 1e12, 1).some((r) => r.mode === "dry-run"))
        alreadyWritten = readDryRunReceiptIds(deps.dryRunFile);
    },
    /** Provider failures recorded so far by this process (see `DeliveryFailures`); none without a provider. */
    failures(): DeliveryFailures {
      return deps.provider?.failures?.() ?? { byReason: new Map(), deadLettered: 0 };
    },
    /**
     * Inside a unit of work (the runner's batch): queue this node's next pass's claim in it (PostgreSQL: it goes out with
     * that unit's COMMIT, one round trip fewer for the pass). Give the result to `deliverPending` once the unit has
     * committed. Null where that saves nothing (SQLite).
     */
    claimAhead(now: number): (() => ClaimedRows) | null {
      return deps.store.outbox.claimPendingInUnit(node, now, claimMs, PASS_LIMIT);
    },
    /** `ahead`: the claim `claimAhead` queued in a unit of work since committed (the pass's rows; no claim of its own). */
    async deliverPending(limit = PASS_LIMIT, ahead?: ClaimedRows): Promise<DeliveryReport> {
      const now = deps.clock();
      // The rows' chunks come with the claim (on PostgreSQL: one round trip, this thread not blocked).
      const { rows: claimed, chunks } = ahead ?? (await deps.store.outbox.claimPendingWithChunks(node, now, claimMs, limit));
      // A conversation a direct send is in flight in waits for the next pass (that send wakes it), claim kept.
      const rows = directConversations.size ? claimed.filter((r) => !directConversations.has(conversationOf(r))) : claimed;
      if (rows.length < claimed.length) passLeft = true;
      const mine = rows.map(conversationOf);
      for (const c of mine) passConversations.add(c);
      const settled = new Set<string>();
      try {
        return await deliverClaimed(rows, now, limit, settled, chunks);
      } finally {
        for (const c of mine) passConversations.delete(c);
        // Rows still pending (rescheduled, held, deferred) may go out from any node next time; final ones hold no claim
        // (sent ones are not even asked: nothing to release, no statement).
        deps.store.outbox.releaseClaims(
          node,
          rows.filter((r) => !settled.has(r.outbox_id)).map((r) => r.outbox_id),
        );
      }
    },
    /**
     * Deliver rows this node just committed (and claimed as it wrote them: `claimInserts`) at once, without waiting for
     * the next `deliverPending` pass — a responder's reply right after its job's commit. A row whose conversation has an
     * earlier reply still to deliver, or rows in flight in a pass, is left queued for the next pass, as is every row when
     * a pass left rows to this one; resolves true when the caller should wake the runner for those. Provider rows go out
     * as in a pass (held, paced, one attempt each, per-conversation order).
     */
    async deliverNow(outboxIds: readonly string[]): Promise<boolean> {
      const now = deps.clock();
      let left = false;
      const rows: OutboxRow[] = [];
      // Per conversation: taken (the later rows of this call follow it: the provider keeps their order) or left.
      const taken = new Set<string>();
      const leftHere = new Set<string>();
      for (const id of outboxIds) {
        const row = deps.store.outbox.get(id);
        if (!row || (row.status !== "queued" && row.status !== "retry_scheduled") || row.next_attempt_at_ms > now) continue;
        const c = conversationOf(row);
        if (
          leftHere.has(c) ||
          (!taken.has(c) && (passConversations.has(c) || directConversations.has(c) || deps.store.outbox.hasEarlierPending(id)))
        ) {
          leftHere.add(c);
          left = true;
        } else {
          taken.add(c);
          rows.push(row);
        }
      }
      const mine = [...taken];
      for (const c of mine) directConversations.add(c);
      const settled = new Set<string>();
      try {
        // Limit 0: a direct send never settles the dry-run recovery set (`alreadyWritten`) a pass keeps.
        if (rows.length) await deliverClaimed(rows, now, 0, settled);
      } finally {
        for (const c of mine) directConversations.delete(c);
        deps.store.outbox.releaseClaims(
          node,
          rows.filter((r) => !settled.has(r.outbox_id)).map((r) => r.outbox_id),
        );
      }
      const wake = left || passLeft;
      if (directConversations.size === 0) passLeft = false;
      return wake;
    },
  };
}

export type Delivery = ReturnType<typeof createDelivery>;
