/**
 * @module Provider-mode delivery of one outbox row (`ProviderDelivery`). The row is marked `sending` and the
 * chunk about to go out is marked `sending` (committed) before any request; after each send one small
 * transaction records that chunk's result and marks the next one. So a sent chunk is never sent again, a retry
 * resumes at the first unsent chunk, and after a crash the one chunk whose fate is unknown is known: it becomes
 * `unknown` (the operator decides), unless the sender is idempotent (Discord nonce) and simply sends it again.
 * One call is one attempt; retries are scheduled through `next_attempt_at_ms`, never slept on.
 */
import type { ProviderReceipt, ProviderSender, SendFailure, SendOutcome } from "../contracts/delivery.ts";
import { rejectedBeforeSend } from "../contracts/delivery.ts";
import type { Transport } from "../contracts/envelope.ts";
import type { ChunkJob } from "../contracts/outbound.ts";
import type { Logger } from "../log.ts";
import type { ChunkRow, OutboxRow, Store } from "../store/index.ts";
import type { DeliveryFailures, ProviderDelivery } from "./deliver.ts";
import { decideRetry, type RetryDecision, type RetryPolicy } from "./retry.ts";
import { withRendering } from "./format-job.ts";

export interface ProviderDeliveryDeps {
  store: Pick<Store, "outbox" | "counters" | "kv" | "atomically" | "atomicallyAsync" | "syncBeforeEffect">;
  /** One sender per transport (see `createProviderSenders`). */
  senders: ReadonlyMap<string, ProviderSender>;
  /** `config.outbound`: max_attempts, base_backoff_ms, max_backoff_ms. */
  retry: RetryPolicy;
  clock: () => number;
  /** In [0, 1); injected so backoff is deterministic in tests. */
  random?: () => number;
  logger?: Pick<Logger, "info" | "warn">;
  /** Rows of different conversations in flight at once (default 64). */
  concurrency?: number;
}

/**
 * Requests in flight at once across conversations. Loopback measurements: one row at a time is bound by two
 * fsynced commits and one round trip per reply (~700 replies/s); 64 together share those costs (~2,400/s). Providers'
 * own limits still apply per row (429 → retry_after), and one conversation never has two replies in flight.
 */
const DEFAULT_CONCURRENCY = 64;

/** kv key remembering a Telegram group → supergroup migration (`telegram:migrated:<old id>`). */
export function migrationKey(transport: string, conversationId: string): string {
  return `${transport}:migrated:${conversationId}`;
}

const receiptJson = (r: ProviderReceipt): string => JSON.stringify(r);

/** The receipt state a chunk already has (null when none, or not a provider receipt). */
function stateOf(receipt: string | null): ProviderReceipt["state"] {
  if (!receipt) return null;
  try {
    return (JSON.parse(receipt) as Partial<ProviderReceipt>).state ?? null;
  } catch {
    return null;
  }
}

function failureReceipt(chunk: ChunkRow, f: SendFailure, at: number): string {
  return receiptJson({ state: stateOf(chunk.receipt), at_ms: at, last_error: { code: f.code, status: f.status, detail: f.detail } });
}

/** Create the provider delivery strategy plugged into `createDelivery({ provider })`. */
export function createProviderDelivery(deps: ProviderDeliveryDeps): ProviderDelivery {
  const { store, clock } = deps;
  const random = deps.random ?? Math.random;

  /**
   * Group → supergroup migrations per transport (kv `<transport>:migrated:*`): read once, then kept with this process's
   * own writes — no read per chunk. One recorded by another process after that read costs one refused request here,
   * which names the new id: followed and remembered as below.
   */
  const migrations = new Map<string, Map<string, string>>();
  function migrationsOf(transport: string): Map<string, string> {
    let known = migrations.get(transport);
    if (!known) {
      const prefix = migrationKey(transport, "");
      known = new Map(store.kv.withPrefix(prefix).map((e) => [e.key.slice(prefix.length), e.value]));
      migrations.set(transport, known);
    }
    return known;
  }
  function conversationFor(row: OutboxRow): string {
    return migrationsOf(row.transport).get(row.conversation_id) ?? row.conversation_id;
  }
  function rememberMigration(transport: string, from: string, to: string): void {
    store.kv.put(migrationKey(transport, from), to);
    migrationsOf(transport).set(from, to);
  }

  function jobFor(row: OutboxRow, chunk: ChunkRow, conversationId: string): ChunkJob {
    return withRendering({
      outbox_id: row.outbox_id,
      idx: chunk.idx,
      chunk_count: row.chunk_count,
      text: chunk.body,
      target: {
        transport: row.transport as Transport,
        account_id: row.account_id,
        conversation_id: conversationId,
        thread_id: row.thread_id,
        reply_to: row.reply_to,
      },
      rich_column: row.rich,
    });
  }

  async function sendSafely(sender: ProviderSender, job: ChunkJob): Promise<SendOutcome> {
    try {
      return await sender.send(job);
    } catch (err) {
      // Senders return values; a throw is a bug or a failed SDK load, before any request was made.
      return {
        ok: false,
        code: "delivery_transport_error",
        retryable: true,
        ambiguous: false,
        retry_after_ms: null,
        status: null,
        detail: `sender failed: ${String((err as Error)?.message ?? err).slice(0, 200)}`,
      };
    }
  }

  /** Send one chunk, following a Telegram migration once (and remembering it). */
  async function sendChunk(sender: ProviderSender, row: OutboxRow, chunk: ChunkRow): Promise<SendOutcome> {
    const conversationId = conversationFor(row);
    const outcome = await sendSafely(sender, jobFor(row, chunk, conversationId));
    if (outcome.ok || outcome.code !== "delivery_chat_migrated" || !outcome.migrate_to || outcome.migrate_to === conversationId)
      return outcome;
    rememberMigration(row.transport, row.conversation_id, outcome.migrate_to);
    if (conversationId !== row.conversation_id) rememberMigration(row.transport, conversationId, outcome.migrate_to);
    store.counters.bump("deliveries.delivery_chat_migrated");
    deps.logger?.info(
      { event: "outbound.chat_migrated", outbox_id: row.outbox_id, transport: row.transport },
      "chat migrated; following the new id",
    );
    return sendSafely(sender, jobFor(row, chunk, outcome.migrate_to));
  }

  /** Failures recorded by this process (counted once their unit of work returned), for the runner's cycle report. */
  const failures = { byReason: new Map<string, number>(), deadLettered: 0 };
  /** Chunks sent and recorded sent by this process (`sentChunks`). */
  let chunksSent = 0;

  function finishFailure(row: OutboxRow, chunk: ChunkRow, f: SendFailure, attempt: number): void {
    const at = clock();
    const d: RetryDecision = decideRetry(f, attempt, deps.retry, at, random);
    // A rate-limit wait (held by the client, or asked by the provider) does not use up an attempt.
    if (d.status === "retry_scheduled" && !d.uses_attempt) attempt = row.attempts;
    store.atomically(() => {
      store.outbox.setChunk(
        { outbox_id: row.outbox_id, idx: chunk.idx, status: d.status, reason: f.code, receipt: failureReceipt(chunk, f, at) },
        at,
      );
      store.outbox.setRow(
        {
          outbox_id: row.outbox_id,
          status: d.status,
          reason: f.code,
          attempts: attempt,
          next_attempt_at_ms: d.status === "retry_scheduled" ? d.next_attempt_at_ms : 0,
        },
        at,
      );
      store.counters.bump(`deliveries.${f.code}`);
      if (d.status === "dead_letter") store.counters.bump("deliveries.dead_letter");
    });
    failures.byReason.set(f.code, (failures.byReason.get(f.code) ?? 0) + 1);
    if (d.status === "dead_letter") failures.deadLettered += 1;
    deps.logger?.warn(
      {
        event: "outbound.failed",
        outbox_id: row.outbox_id,
        chunk: chunk.idx,
        transport: row.transport,
        reason: f.code,
        http_status: f.status,
        outcome: d.status,
        why: d.why,
        attempt,
        detail: f.detail,
      },
      "delivery failed",
    );
  }

  /** A row being sent: its pending chunks and the index of the chunk in flight. */
  interface Active {
    row: OutboxRow;
    sender: ProviderSender;
    pending: ChunkRow[];
    i: number;
    attempt: number;
  }

  /** Settle rows that need no request; return the ones to send. `sent` collects rows that end `sent`. */
  function prepare(row: OutboxRow, chunks: readonly ChunkRow[], sent: Set<string>): Active | null {
    if (row.mode !== "provider") return null;
    const attempt = row.attempts + 1;
    const pending = chunks.filter((c) => c.status !== "sent");
    const sender = deps.senders.get(row.transport);
    if (pending.length === 0) {
      store.outbox.setRow(
        { outbox_id: row.outbox_id, status: "sent", reason: "delivery_sent", attempts: row.attempts, next_attempt_at_ms: 0 },
        clock(),
      );
      sent.add(row.outbox_id);
      return null;
    }
    const first = pending[0]!;
    if (!sender) {
      finishFailure(row, first, rejectedBeforeSend(`no provider sender for transport ${row.transport}`), attempt);
      return null;
    }
    // A row still `sending` with a chunk `sending` was cut off mid-request by a crash: that request may have arrived.
    const interrupted = row.status === "sending" ? pending.find((c) => c.status === "sending") : undefined;
    if (interrupted && !sender.idempotent) {
      finishFailure(
        row,
        interrupted,
        {
          ok: false,
          code: "delivery_ambiguous",
          retryable: false,
          ambiguous: true,
          retry_after_ms: null,
          status: null,
          detail: "interrupted by a restart while sending; the message may have been delivered",
        },
        attempt,
      );
      return null;
    }
    return { row, sender, pending, i: 0, attempt };
  }

  /** Record one chunk's outcome (inside the round's transaction); true while the row has more to send. */
  function record(a: Active, outcome: SendOutcome, sent: Set<string>): boolean {
    const { row } = a;
    const chunk = a.pending[a.i]!;
    if (!outcome.ok) {
      finishFailure(row, chunk, outcome, a.attempt);
      return false;
    }
    const at = clock();
    const next = a.pending[a.i + 1];
    store.outbox.setChunk(
      {
        outbox_id: row.outbox_id,
        idx: chunk.idx,
        status: "sent",
        reason: "delivery_sent",
        receipt: receiptJson({ state: "sent", at_ms: at }),
        provider_message_id: outcome.provider_message_id,
      },
      at,
    );
    if (next)
      store.outbox.setChunk({ outbox_id: row.outbox_id, idx: next.idx, status: "sending", reason: next.reason, receipt: next.receipt }, at);
    else {
      store.outbox.setRow(
        { outbox_id: row.outbox_id, status: "sent", reason: "delivery_sent", attempts: a.attempt, next_attempt_at_ms: 0 },
        at,
      );
      sent.add(row.outbox_id);
    }
    deps.logger?.info({ event: "outbound.sent", outbox_id: row.outbox_id, chunk: chunk.idx, transport: row.transport }, "chunk sent");
    a.i += 1;
    return next !== undefined;
  }

  /**
   * Send rows of distinct conversations together: one transaction marks them all `sending` (row and first
   * chunk) before any request; their chunks go out concurrently, one chunk per row per round; one transaction
   * per round records the results and marks each row's next chunk. Per row the guarantees are those above. Resolves
   * with the ids of the rows that ended `sent`.
   */
  async function sendTogether(rows: OutboxRow[], known?: ReadonlyMap<string, readonly ChunkRow[]>): Promise<Set<string>> {
    const sent = new Set<string>();
    const unknown = rows.filter((r) => r.mode === "provider" && !known?.has(r.outbox_id)).map((r) => r.outbox_id);
    const read = unknown.length ? store.outbox.chunksOfMany(unknown) : null;
    const chunks = (id: string): readonly ChunkRow[] => known?.get(id) ?? read?.get(id) ?? [];
    let active = rows.map((r) => prepare(r, chunks(r.outbox_id), sent)).filter((a): a is Active => a !== null);
    if (active.length === 0) return sent;
    // Committed before any request goes out (awaited); on PostgreSQL the wait does not block this thread.
    await store.atomicallyAsync(() => {
      const at = clock();
      for (const { row, pending } of active) {
        const first = pending[0]!;
        store.outbox.setRow(
          {
            outbox_id: row.outbox_id,
            status: "sending",
            reason: row.reason,
            attempts: row.attempts,
            next_attempt_at_ms: row.next_attempt_at_ms,
          },
          at,
        );
        store.outbox.setChunk(
          { outbox_id: row.outbox_id, idx: first.idx, status: "sending", reason: first.reason, receipt: first.receipt },
          at,
        );
      }
    });
    while (active.length > 0) {
      // No request before its `sending` marks (and every commit before them) are on disk: after a power loss a chunk
      // is known unsent or in doubt, never sent twice.
      store.syncBeforeEffect();
      const outcomes = await Promise.all(active.map((a) => sendChunk(a.sender, a.row, a.pending[a.i]!)));
      const round = active;
      active = [];
      const ok = outcomes.filter((o) => o.ok).length;
      await store.atomicallyAsync(() => {
        round.forEach((a, k) => {
          if (record(a, outcomes[k]!, sent)) active.push(a);
        });
        if (ok > 0) store.counters.bump("deliveries.delivery_sent", ok);
      });
      chunksSent += ok;
    }
    return sent;
  }

  return {
    failures: (): DeliveryFailures => failures,
    sentChunks: (): number => chunksSent,
    async deliver(row: OutboxRow): Promise<void> {
      await sendTogether([row]);
    },
    /**
     * Deliver many rows: replies to one conversation keep their order (one at a time, oldest first); different
     * conversations go out together, at most `concurrency` at once. Resolves with the ids of the rows that ended `sent`.
     */
    async deliverMany(
      rows: readonly OutboxRow[],
      _now?: number,
      chunks?: ReadonlyMap<string, readonly ChunkRow[]>,
    ): Promise<ReadonlySet<string>> {
      const limit = Math.max(1, deps.concurrency ?? DEFAULT_CONCURRENCY);
      const queues = new Map<string, OutboxRow[]>();
      for (const row of rows) {
        const key = `${row.transport}\u0000${row.conversation_id}`;
        const q = queues.get(key);
        if (q) q.push(row);
        else queues.set(key, [row]);
      }
      const waves = [...queues.values()];
      const done = new Set<string>();
      while (waves.length > 0) {
        const heads: OutboxRow[] = [];
        for (let k = 0; k < waves.length && heads.length < limit;) {
          heads.push(waves[k]!.shift()!);
          if (waves[k]!.length === 0) waves.splice(k, 1);
          else k += 1;
        }
        const sent = await sendTogether(heads, chunks);
        // A conversation whose head did not go out (rescheduled, refused, unknown) sends nothing more this pass:
        // its later replies must not overtake it.
        for (const head of heads) {
          if (sent.has(head.outbox_id)) {
            done.add(head.outbox_id);
            continue;
          }
          const k = waves.findIndex((w) => w[0]!.transport === head.transport && w[0]!.conversation_id === head.conversation_id);
          if (k >= 0) waves.splice(k, 1);
        }
      }
      return done;
    },
  };
}
