/**
 * @module The runner: consume ingress exactly once. Per batch, one store transaction holds the dedupe
 * rows, every decision and trace, the outbox rows and the cursor advance (ingress files) — on JetStream the batch's
 * messages are acknowledged only after that commit — so a kill -9 at any instant loses no event and answers none
 * twice. Delivery happens after the commit, from the outbox; dry-run replies are written with the commit itself
 * (receipts fsynced just before it, see `Delivery.dryRunBatch`).
 */
import fs from "node:fs";
import path from "node:path";
import { TRANSPORTS, type Transport } from "../contracts/envelope.ts";
import { fileCursorKey, runnerStateKey, type TauConfig } from "../config/index.ts";
import {
  countLinesAfterMemo,
  decodeLine,
  ingressFile,
  type ByteLine,
  type LineCountMemo,
  type ParsedLine,
  parseIngressLine,
  readLineBytes,
  storedFileCursor,
  readLines,
  type IngressCursor,
  type StreamMessage,
  transportOfSubject,
} from "../ingress/index.ts";
import type { Logger } from "../log.ts";
import { outboxIdFor, queueReplies, type QueueOptions, type QueuedReply } from "../outbound/outbox.ts";
import type { Delivery } from "../outbound/deliver.ts";
import { createContext, type EventContext } from "../router/context.ts";
import { answerUnansweredInteraction } from "../router/interaction-answer.ts";
import { actorKeysOf } from "../router/stages/actor-alias.ts";
import { openShortLock, type ClaimedRows, type Store, type ShortLock } from "../store/index.ts";
import { rotateIfConsumed } from "./rotate.ts";
import { replyTargetOf } from "../contracts/reply-target.ts";
import { TauError } from "../contracts/errors.ts";
import { nextRunnerState, type CycleReport, type RunnerState } from "./runner-state.ts";
import { PAIRING_ATTEMPT_WINDOW_MS } from "../policy/index.ts";
import type { JetStreamSource } from "./jetstream-source.ts";

/** Delivery reason codes of retryable failures (PRODUCT.md §7): what `transient_failures_observed` counts. */
const TRANSIENT_DELIVERY_CODES = ["delivery_rate_limited", "delivery_provider_unavailable", "delivery_transport_error"] as const;

export interface RunnerDeps {
  config: TauConfig;
  stateDir: string;
  store: Store;
  /** Build the pipeline given the dedupe lookup the runner owns (database + current batch). */
  buildPipeline: (seen: (eventId: string) => boolean) => (ctx: EventContext) => void;
  /** Persist what a processed event asked for beyond replies (approval jobs, …); runs inside the transaction. */
  persistExtras?: (ctx: EventContext) => void;
  delivery: Delivery;
  clock: () => number;
  logger: Logger;
  /** Transports to read; defaults to all. */
  transports?: readonly Transport[];
  /** After each cycle's commits (runs queued capability jobs); pushes the replies it queued onto `fresh`. */
  afterCommit?: (fresh: QueuedReply[]) => Promise<number | void>;
  /** Once, before the first cycle (recovers interrupted jobs). */
  onStart?: () => void;
  /** `ingress.driver: nats`: consume the JetStream durable consumer instead of the ingress files. */
  stream?: JetStreamSource;
}

/** Whether a failed batch may be one bad event's doing (worth a careful retry): not when the store is out of reach. */
function isolable(err: unknown): boolean {
  if (err instanceof TauError && err.code === "STORE_UNAVAILABLE") return false;
  const code = (err as { code?: unknown })?.code;
  return !(typeof code === "string" && code.startsWith("SQLITE_BUSY"));
}

/** A cycle's state and the busy cycles' runtime events, held back for a later commit (see `cycle`). */
interface Telemetry {
  state: RunnerState;
  events: { at: number; health: string; reasons: string[]; detail: Record<string, unknown> }[];
}

/** True when two runner states differ only in the heartbeat: cycle count, time and duration. */
function sameButHeartbeat(a: RunnerState | null, b: RunnerState): boolean {
  if (!a) return false;
  const strip = (s: RunnerState) => JSON.stringify({ ...s, cycles: 0, last_cycle_at_ms: 0, last_cycle_duration_ms: 0 });
  return strip(a) === strip(b);
}

/** Put `report` back as it was (`before`: a copy taken then). */
function restoreReport(report: CycleReport, before: CycleReport): void {
  for (const k of Object.keys(report)) delete (report as unknown as Record<string, unknown>)[k];
  Object.assign(report, structuredClone(before));
}

/** A line or message that parsed as an envelope. */
type ParsedEnvelope = Extract<ParsedLine, { ok: true }>;

interface QuarantineItem {
  transport: Transport;
  file: string;
  line: number;
  reason: string;
  detail: string;
}

export function createRunner(deps: RunnerDeps) {
  const { config, store, clock, logger } = deps;
  const stateKey = runnerStateKey(config);
  const ingressDir = path.join(deps.stateDir, "ingress");
  const quarantineDir = path.join(deps.stateDir, "quarantine");
  const transports = deps.transports ?? TRANSPORTS;
  const batchSeen = new Set<string>();
  /** Queue depth per ingress file, counted incrementally (a full rescan per cycle is quadratic in the backlog). */
  const depthMemos = new Map<string, LineCountMemo>();
  /** The batch's event ids, and those of them already recorded (read ahead in one statement per batch). */
  let batchAsked: Set<string> | null = null;
  let batchKnown: Set<string> | null = null;
  const pipeline = deps.buildPipeline((id) => batchSeen.has(id) || (batchAsked?.has(id) ? batchKnown!.has(id) : store.runner.hasEvent(id)));
  /** Read buffer for batches: a batch's lines view it until the next read (one megabyte, not one per batch). */
  const readScratch = Buffer.allocUnsafe(1 << 20);
  let lock: ShortLock | null = null;
  const ingressLock = () => (lock ??= openShortLock(path.join(ingressDir, ".lock")));

  /**
   * Each transport's cursor as last committed. This runner is its cursors' only writer (it holds the runner lock; on a
   * shared store the keys are this node's, `fileCursorKey`), so it reads each one once and then remembers what its
   * commits wrote; a failed commit forgets it (read again).
   */
  const cursors = new Map<Transport, IngressCursor | null>();
  // Worked out once: the node id may be the host name (a system call), and the key is written with every batch.
  const cursorKeys = new Map(transports.map((t) => [t, fileCursorKey(config, t)]));
  const cursorKey = (t: Transport) => cursorKeys.get(t) ?? fileCursorKey(config, t);
  function cursorOf(t: Transport): IngressCursor | null {
    if (cursors.has(t)) return cursors.get(t)!;
    const row = storedFileCursor(store.runner, config, t);
    const c = row ? { ino: row.file_ino, offset: row.byte_offset, line: row.line_no } : null;
    cursors.set(t, c);
    return c;
  }

  function writeQuarantine(items: QuarantineItem[], now: number): void {
    if (items.length === 0) return;
    fs.mkdirSync(quarantineDir, { recursive: true, mode: 0o700 });
    const byT = new Map<Transport, string[]>();
    for (const q of items) {
      const lines = byT.get(q.transport) ?? [];
      lines.push(JSON.stringify({ at_ms: now, transport: q.transport, file: q.file, line: q.line, reason: q.reason, detail: q.detail }));
      byT.set(q.transport, lines);
    }
    for (const [t, lines] of byT) {
      const fd = fs.openSync(path.join(quarantineDir, `${t}.ndjson`), "a", 0o600);
      try {
        fs.writeSync(fd, lines.join("\n") + "\n");
        fs.fdatasyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
  }

  /** Inside the batch's unit of work: the event's trace (and dedupe key), its replies and whatever else it asked for. */
  function recordEvent(ctx: EventContext, opts: QueueOptions, report: CycleReport, fresh: QueuedReply[]): void {
    const env = ctx.env;
    store.runner.insertEvent({
      event_id: env.event_id,
      transport: env.transport,
      kind: env.kind,
      chat_type: env.chat_type,
      conversation_id: env.conversation_id,
      actor_id: env.actor.id,
      occurred_at_ms: env.occurred_at_ms,
      processed_at_ms: opts.now,
      outcome: ctx.outcome,
      reason: ctx.reason,
      decisions: ctx.decisions,
      route: ctx.route,
    });
    if (ctx.replies.length > 0) {
      if (ctx.replies.every((r) => !r.target)) queueReplies(store, env.event_id, replyTargetOf(env), ctx.replies, opts, undefined, fresh);
      else {
        // A forward goes elsewhere: one row per reply, each to its own target, ids by position as usual.
        ctx.replies.forEach((r, i) =>
          queueReplies(store, env.event_id, r.target ?? replyTargetOf(env), [r], opts, () => outboxIdFor(env.event_id, i, opts.now), fresh),
        );
      }
      report.replies += ctx.replies.length;
    }
    deps.persistExtras?.(ctx);
    tallyAccess(ctx, report);
    report.processed += 1;
    report.outcomes[ctx.reason] = (report.outcomes[ctx.reason] ?? 0) + 1;
  }

  /** The pairing posture an event met: admitted by `allowFrom: any`, judged by allowlist/pairing, denied by them. */
  function tallyAccess(ctx: EventContext, report: CycleReport): void {
    const access = ctx.decisions.find((d) => d.stage === "access");
    if (!access) return;
    const a = (report.access ??= { permissive: 0, enforced: 0, denied: 0 });
    if (access.reason === "allow_channel_policy_allow_from_any") a.permissive += 1;
    else a.enforced += 1;
    if (access.outcome === "deny") a.denied += 1;
  }

  /** This process's delivery failures so far (in memory: the cycle reports the difference, no store read). */
  function deliveryCounters(): { transient: number; dead: number } {
    const f = deps.delivery.failures();
    return {
      transient: TRANSIENT_DELIVERY_CODES.reduce((n, code) => n + (f.byReason.get(code) ?? 0), 0),
      dead: f.deadLettered,
    };
  }

  /** The event's pipeline failed: recorded as `event_processing_failed`, nothing it asked for kept. */
  function markFailed(ctx: EventContext, err: unknown, report: CycleReport): void {
    ctx.decisions.push({
      stage: "runner",
      outcome: "deny",
      reason: "event_processing_failed",
      detail: { error: String((err as Error)?.message ?? err).slice(0, 200) },
    });
    ctx.outcome = "ignored";
    ctx.reason = "event_processing_failed";
    ctx.replies = [];
    ctx.jobs = [];
    ctx.responderJob = null;
    report.failed += 1;
    logger.error({ event: "runner.event_failed", event_id: ctx.env.event_id, err: (err as Error)?.message }, "event processing failed");
  }

  /** One envelope through the pipeline, recorded (unless a duplicate); inside the caller's unit of work. */
  function runEvent(
    p: ParsedEnvelope,
    now: number,
    opts: QueueOptions,
    report: CycleReport,
    fresh: QueuedReply[],
  ): "processed" | "duplicate" {
    const ctx = createContext(p.envelope, now);
    try {
      pipeline(ctx);
    } catch (err) {
      markFailed(ctx, err, report);
    }
    if (ctx.duplicate) return "duplicate";
    batchSeen.add(ctx.env.event_id);
    // A slash command nothing answers still gets one answer, committed with its decision.
    answerUnansweredInteraction(ctx, config.commands.prefix);
    recordEvent(ctx, opts, report, fresh);
    return "processed";
  }

  /**
   * Careful mode: the event in its own nested unit of work (a savepoint). If any of its statements fails — on
   * PostgreSQL that aborts the transaction up to the savepoint — its work, replies and report counts are taken back
   * and it is recorded alone as `event_processing_failed`; the batch goes on.
   */
  function runEventAlone(
    p: ParsedEnvelope,
    now: number,
    opts: QueueOptions,
    report: CycleReport,
    fresh: QueuedReply[],
  ): "processed" | "duplicate" {
    const freshMark = fresh.length;
    const before = structuredClone(report);
    // Dry-run replies reach the batch's receipts only once the event's savepoint is released.
    const held: QueuedReply[] = [];
    const dryRun = opts.dryRun;
    const own: QueueOptions = dryRun ? { ...opts, dryRun: { accepts: (t) => dryRun.accepts(t), add: (r) => void held.push(r) } } : opts;
    try {
      const r = store.atomically(() => runEvent(p, now, own, report, fresh));
      for (const reply of held) dryRun!.add(reply);
      return r;
    } catch (err) {
      fresh.length = freshMark;
      restoreReport(report, before);
      const ctx = createContext(p.envelope, now);
      markFailed(ctx, err, report);
      batchSeen.add(ctx.env.event_id);
      try {
        store.atomically(() => recordEvent(ctx, opts, report, fresh));
      } catch (again) {
        // Not even its failure can be recorded (its trace row is what fails): the batch still goes on without it.
        logger.error(
          { event: "runner.event_unrecorded", code: "runner_event_unrecorded", event_id: ctx.env.event_id, err: (again as Error)?.message },
          "failed event could not be recorded",
        );
      }
      return "processed";
    }
  }

  /**
   * One batch in one unit of work, whichever source it came from: on PostgreSQL the batch's lookups are read ahead
   * (dedupe, admissions, actor aliases: one statement for the batch instead of one per event), then each envelope is run
   * through the pipeline and recorded with its dedupe row, its decisions and its outbox rows; bad
   * items are quarantined (file, then row); `inTransaction` adds the source's own write (the file cursor).
   *
   * An event whose pipeline throws is recorded as `event_processing_failed` and the batch goes on. On PostgreSQL a
   * failed statement aborts the whole transaction, so there the batch fails: it is then run once more, carefully —
   * each event in its own savepoint — so only the bad event is recorded failed and the rest commit (the failed
   * attempt's replies, report counts and dry-run receipts discarded first). Throws — nothing committed — when that
   * fails too (or when the store is unreachable: no event is to blame).
   *
   * `later`: the batch's COMMIT does not block this thread (PostgreSQL: webhooks are served while it is under way); the
   * promise it returns settles once it committed — or once the careful run after a failed commit did. Otherwise it
   * returns once committed.
   */
  function processBatch<I>(
    items: readonly I[],
    parse: (item: I) => ParsedEnvelope | QuarantineItem,
    report: CycleReport,
    fresh: QueuedReply[],
    inTransaction?: (now: number) => void,
    later = false,
  ): Promise<void> | void {
    const freshMark = fresh.length;
    const before = structuredClone(report);
    const written = { quarantine: false };
    const carefully = (err: unknown): void => {
      if (items.length === 0 || !isolable(err)) throw err;
      fresh.length = freshMark;
      restoreReport(report, before);
      logger.warn(
        { event: "runner.batch_careful", code: "runner_batch_retried", items: items.length, err: (err as Error)?.message },
        "batch failed; running it again one event at a time",
      );
      attemptBatch(items, parse, true, written, report, fresh, inTransaction);
    };
    let committing: Promise<void> | undefined;
    try {
      committing = attemptBatch(items, parse, false, written, report, fresh, inTransaction, later);
    } catch (err) {
      return carefully(err);
    }
    return committing?.catch(carefully);
  }

  /**
   * One attempt at a batch (see `processBatch`); `careful`: each event in its own savepoint. Where the store reads
   * ahead (PostgreSQL), the items are parsed first to know the batch's ids and actors; elsewhere each is parsed as its
   * turn comes, so a batch's envelopes do not all stay alive until it commits (peak memory).
   */
  function attemptBatch<I>(
    items: readonly I[],
    parse: (item: I) => ParsedEnvelope | QuarantineItem,
    careful: boolean,
    written: { quarantine: boolean },
    report: CycleReport,
    fresh: QueuedReply[],
    inTransaction?: (now: number) => void,
    later = false,
  ): Promise<void> | undefined {
    const now = clock();
    // Dry-run replies are written as the batch commits (stored as sent, receipts fsynced just before the commit).
    const dryRun = deps.delivery.dryRunBatch();
    const opts: QueueOptions = { mode: config.outbound.mode, maxChars: config.outbound.max_chars, now, dryRun };
    let processed = 0;
    let duplicates = 0;
    let carried: Telemetry | null = null;
    let committing: Promise<void> | undefined;
    try {
      const body = (): void => {
        const quarantine: QuarantineItem[] = [];
        const run = (p: ParsedEnvelope): void => {
          const r = careful ? runEventAlone(p, now, opts, report, fresh) : runEvent(p, now, opts, report, fresh);
          if (r === "duplicate") duplicates += 1;
          else processed += 1;
        };
        if (store.batchLookups.available) {
          const envelopes: ParsedEnvelope[] = [];
          for (const item of items) {
            const p = parse(item);
            if ("ok" in p) envelopes.push(p);
            else quarantine.push(p);
          }
          // The batch's lookups in one read: which events are recorded already, the actors' admissions and aliases
          // (held for the batch: other nodes' commits meanwhile are not seen, as on SQLite, where none can happen).
          const ids = envelopes.map((p) => p.envelope.event_id);
          batchAsked = new Set(ids);
          batchKnown = envelopes.length
            ? store.batchLookups.read(
                ids,
                envelopes.flatMap((p) => actorKeysOf(p.envelope)),
              )
            : new Set();
          for (const p of envelopes) run(p);
        } else {
          // Allowlist and pairings as of the batch's start (other processes cannot commit while it writes).
          store.access.holdAdmissions();
          store.actorAliases.hold();
          for (const item of items) {
            const p = parse(item);
            if ("ok" in p) run(p);
            else quarantine.push(p);
          }
        }
        // Quarantine lines reach their file before the source moves past them (at the commit) — once, whatever retries.
        if (!written.quarantine) writeQuarantine(quarantine, now);
        written.quarantine = true;
        for (const q of quarantine) store.runner.insertQuarantine(q.transport, q.file, q.line, q.reason, q.detail, now);
        report.duplicates += duplicates;
        report.quarantined += quarantine.length;
        store.counters.bump("events.processed", processed);
        if (report.duplicates) store.counters.bump("events.duplicates", duplicates);
        if (quarantine.length) store.counters.bump("events.quarantined", quarantine.length);
        inTransaction?.(now);
        // The previous cycles' telemetry, if the service held it back, commits with this batch (no commit of its own).
        carried = writeTelemetry();
        report.delivered += dryRun.write();
      };
      if (later) committing = store.atomicallyAsync(body);
      else {
        store.atomically(body);
        wrote(carried);
      }
    } catch (err) {
      dryRun.abort();
      throw err;
    } finally {
      // The batch's own lookups end with its statements (before its COMMIT is answered, when that comes later).
      store.access.releaseAdmissions();
      store.actorAliases.forget();
      batchSeen.clear();
      batchAsked = null;
      batchKnown = null;
    }
    return committing?.then(
      () => wrote(carried),
      (err: unknown) => {
        dryRun.abort();
        throw err;
      },
    );
  }

  /**
   * Process up to `budget` lines of one transport's ingress file, the cursor advancing in each batch's transaction.
   * True when it read to the end of the file (as it was when read), false when the budget ran out first.
   */
  function processTransport(t: Transport, budget: number, report: CycleReport, fresh: QueuedReply[]): boolean {
    const file = ingressFile(ingressDir, t);
    const base = path.basename(file);
    const parse = (raw: ByteLine): ParsedEnvelope | QuarantineItem => {
      const l = decodeLine(raw);
      const p = l.ok ? parseIngressLine(l.text, t) : { ok: false as const, code: l.code, detail: l.detail };
      return p.ok ? p : { transport: t, file: base, line: l.line, reason: p.code, detail: p.detail };
    };
    let remaining = budget;
    while (remaining > 0) {
      const asked = Math.min(remaining, config.runner.batch_size);
      const read = readLineBytes(file, cursorOf(t), asked, config.ingress.max_line_bytes, readScratch);
      if (!read || read.lines.length === 0) {
        // Still record a cursor reset so the next read starts at 0 of the new file.
        if (read?.reset && read.cursor.offset === 0) {
          cursors.delete(t);
          store.runner.putCursor({ transport: cursorKey(t), file_ino: read.cursor.ino, byte_offset: 0, line_no: 0 }, clock());
          cursors.set(t, { ino: read.cursor.ino, offset: 0, line: 0 });
        }
        return true;
      }
      remaining -= read.lines.length;
      cursors.delete(t);
      processBatch(read.lines, parse, report, fresh, (now) =>
        store.runner.putCursor(
          { transport: cursorKey(t), file_ino: read.cursor.ino, byte_offset: read.cursor.offset, line_no: read.cursor.line },
          now,
        ),
      );
      cursors.set(t, { ino: read.cursor.ino, offset: read.cursor.offset, line: read.cursor.line });
      // Fewer lines than asked: the read reached the end of the file. Lines appended since wake the runner, whose loop
      // runs the next cycle at once after a busy one — no second open and read of the file in this cycle.
      if (read.lines.length < asked) return true;
    }
    return false;
  }

  /** A JetStream message as an envelope of its subject's transport, or a quarantine item (stream name, sequence). */
  function parseMessage(m: StreamMessage, terminated: Set<StreamMessage>, streamName: string): ParsedEnvelope | QuarantineItem {
    const t = transportOfSubject(m.subject)!;
    const l =
      m.data.length + 1 > config.ingress.max_line_bytes
        ? {
            ok: false as const,
            code: "ingress_line_too_large" as const,
            line: m.seq,
            detail: `message is ${m.data.length + 1} bytes; limit ${config.ingress.max_line_bytes}`,
            endOffset: 0,
          }
        : decodeLine({ ok: true, bytes: Buffer.from(m.data.buffer, m.data.byteOffset, m.data.length), line: m.seq, endOffset: 0 });
    const p = l.ok ? parseIngressLine(l.text, t) : { ok: false as const, code: l.code, detail: l.detail };
    if (p.ok) return p;
    terminated.add(m);
    return { transport: t, file: streamName, line: m.seq, reason: p.code, detail: p.detail };
  }

  /**
   * Process up to `budget` messages from the durable consumer: each batch commits, then its messages are acknowledged.
   * A failed transaction acknowledges nothing (the messages come back after ack_wait); it throws while draining, as on
   * files, and is counted as a failure (the cycle's ingress ends there) in a running runner.
   * NATS unreachable: logged, nothing taken this cycle (delivery still runs) — or, while draining, thrown.
   */
  async function processStream(
    source: JetStreamSource,
    budget: number,
    report: CycleReport,
    fresh: QueuedReply[],
  ): Promise<{ acked: Promise<void>; claimed: ClaimedRows | null } | undefined> {
    let remaining = budget;
    while (remaining > 0) {
      let batch: StreamMessage[];
      const asked = Math.min(remaining, config.runner.batch_size);
      try {
        batch = await source.take(asked);
      } catch (err) {
        ingressUnavailable(err);
        return;
      }
      ingressAvailable();
      if (batch.length === 0) return;
      remaining -= batch.length;
      const terminated = new Set<StreamMessage>();
      const known: StreamMessage[] = [];
      for (const m of batch) {
        if (transportOfSubject(m.subject)) known.push(m);
        else {
          // Not a tau subject (published by something else): nothing to record it under; never redeliver it.
          terminated.add(m);
          logger.error({ event: "runner.ingress_subject_unknown", subject: m.subject, seq: m.seq }, "message on an unknown subject");
        }
      }
      // Fewer than asked (the consumer held no more a moment ago) or the budget spent: the cycle's last batch.
      const last = batch.length < asked || remaining <= 0;
      // The last batch's unit of work claims the delivery pass's rows too (PostgreSQL: with its COMMIT, no round trip of
      // its own), its own replies among them.
      let claim: (() => ClaimedRows) | null = null;
      const claimAhead =
        last && config.outbound.mode === "provider"
          ? (now: number): void => {
              claim = deps.delivery.claimAhead(now);
            }
          : undefined;
      const freshMark = fresh.length;
      const before = strictIngress ? null : JSON.stringify(report);
      try {
        await processBatch(known, (m) => parseMessage(m, terminated, config.ingress.stream), report, fresh, claimAhead, true);
      } catch (err) {
        if (before === null) throw err;
        // A running runner outlives a failed batch (another node committing the same redelivered event first, say):
        // nothing of it was committed, so nothing of it is reported or delivered, and none of it is acknowledged.
        fresh.length = freshMark;
        for (const k of Object.keys(report)) delete (report as unknown as Record<string, unknown>)[k];
        Object.assign(report, JSON.parse(before) as CycleReport);
        report.failed += 1;
        logger.error(
          { event: "runner.batch_failed", code: "runner_batch_failed", messages: batch.length, err: (err as Error).message },
          "batch rolled back; its messages come back after ack_wait",
        );
        return;
      }
      // An ack lets JetStream forget the messages: the commit holding their decisions is on disk first.
      store.syncBeforeEffect();
      const acked = source.settle(batch, terminated);
      acked.catch(() => {}); // awaited by the cycle (its failure surfaces there); never an unhandled rejection meanwhile
      // Fewer than asked: the consumer held no more a moment ago. Deliver this batch's replies now (the rest of the
      // cycle) rather than take what arrived since: a busy runner takes the next batch in the next cycle, at once. The
      // acks go out meanwhile (the cycle awaits them before it asks the consumer's depth).
      // (Wrapped: an async function returning a promise would wait for it.)
      if (last) return { acked, claimed: claimedRows(claim) };
      // The next take asks the consumer what it holds: acknowledged first, so in-flight acks do not look unacknowledged.
      await acked;
    }
    return undefined;
  }

  /** The rows a batch's unit of work claimed, once it committed; null when it claimed none or cannot tell (a pass claims). */
  function claimedRows(claim: (() => ClaimedRows) | null): ClaimedRows | null {
    try {
      return claim ? claim() : null;
    } catch {
      return null;
    }
  }

  /** Queue depth of the stream (consumer lag) and the oldest unacknowledged message's time, into the cycle report. */
  async function streamDepth(source: JetStreamSource, report: CycleReport): Promise<void> {
    try {
      const d = await source.depth();
      report.queue_depth = d.queued;
      report.oldest_queued_ms = d.oldestMs;
    } catch (err) {
      ingressUnavailable(err);
    }
  }

  /** While draining (`tau process --once`), an unreachable JetStream fails the command; a running runner logs and goes on. */
  let strictIngress = false;
  function ingressUnavailable(err: unknown): void {
    const e =
      err instanceof TauError
        ? err
        : new TauError("INGRESS_NATS_UNAVAILABLE", `JetStream: ${(err as Error)?.message ?? String(err)}`, {
            hint: "check that nats-server runs with JetStream on (-js) at ingress.nats_url",
          });
    if (strictIngress) throw e;
    // Once per outage, not once per cycle.
    if (!ingressDown) logger.warn({ event: "runner.ingress_unavailable", code: e.reason, err: e.message }, "JetStream unreachable");
    ingressDown = true;
  }
  let ingressDown = false;
  function ingressAvailable(): void {
    if (!ingressDown) return;
    ingressDown = false;
    logger.info({ event: "runner.ingress_available" }, "JetStream reachable again");
  }

  /** Oldest queued line's received time, to judge backlog age. */
  function oldestQueuedMs(t: Transport): number | null {
    const r = readLines(ingressFile(ingressDir, t), cursorOf(t), 1, config.ingress.max_line_bytes);
    const first = r?.lines[0];
    if (!first || !first.ok) return null;
    try {
      const v = JSON.parse(first.text) as { received_at_ms?: unknown };
      return typeof v.received_at_ms === "number" ? v.received_at_ms : null;
    } catch {
      return null;
    }
  }

  async function cycle(): Promise<CycleReport> {
    const started = clock();
    const report: CycleReport = {
      processed: 0,
      duplicates: 0,
      quarantined: 0,
      failed: 0,
      replies: 0,
      delivered: 0,
      queue_depth: 0,
      oldest_queued_ms: null,
      outcomes: {},
    };
    const share = Math.max(1, Math.floor(config.runner.queue_limit / transports.length));
    const fresh: QueuedReply[] = [];
    // The last batch's acks are in flight while its replies go out; the consumer's depth is asked once they are in.
    const inFlight = deps.stream ? await processStream(deps.stream, config.runner.queue_limit, report, fresh) : undefined;
    const readToEnd = new Set<Transport>();
    if (!deps.stream) for (const t of transports) if (processTransport(t, share, report, fresh)) readToEnd.add(t);
    // The consumer's depth is asked (once the acks are in) while the replies go out: NATS and the store answer together.
    const depthRead = deps.stream && inFlight ? inFlight.acked.then(() => streamDepth(deps.stream!, report)) : undefined;
    depthRead?.catch(() => {}); // awaited below (its failure surfaces there); never an unhandled rejection meanwhile
    const before = deliveryCounters();
    report.delivered += await deps.delivery.deliverFresh(fresh);
    const jobReplies: QueuedReply[] = [];
    // Dry-run job replies are written with their job's commit; the hook says how many chunks that was.
    report.delivered += (await deps.afterCommit?.(jobReplies)) ?? 0;
    report.delivered += await deps.delivery.deliverFresh(jobReplies);
    // Replies the jobs just queued were not there for the batch's claim: the pass claims for itself then.
    const ahead = jobReplies.some((r) => r.mode === "provider") ? undefined : (inFlight?.claimed ?? undefined);
    const delivered = await deps.delivery.deliverPending(undefined, ahead);
    report.delivered += delivered.chunks;
    const after = deliveryCounters();
    report.delivery = {
      retries: delivered.retries,
      transient_failures: after.transient - before.transient,
      dead_lettered: after.dead - before.dead,
    };
    if (deps.stream) await (depthRead ?? streamDepth(deps.stream, report));
    else
      for (const t of transports) {
        const c = cursorOf(t);
        const file = ingressFile(ingressDir, t);
        // Read to the end a moment ago: nothing was queued then (an append since has woken the runner already).
        const depth = readToEnd.has(t) ? 0 : countLinesAfterMemo(file, c ? c.offset : 0, depthMemos);
        report.queue_depth += depth;
        if (depth > 0) {
          const o = oldestQueuedMs(t);
          if (o !== null) report.oldest_queued_ms = Math.min(report.oldest_queued_ms ?? o, o);
        } else if (c) {
          rotateIfConsumed({
            file,
            cursor: c,
            lock: ingressLock,
            minBytes: config.runner.rotate_min_bytes,
            keep: config.runner.keep_rotated,
            now: clock(),
          });
        }
      }
    const prev = lastState ?? readState();
    const state = nextRunnerState(prev, report, {
      now: clock(),
      startedAt: started,
      backlogThresholdMs: config.runner.backlog_threshold_ms,
    });
    const d = report.delivery;
    const busy =
      report.processed + report.duplicates + report.quarantined + report.failed + report.delivered > 0 ||
      state.last_cycle_failed ||
      d.retries + d.transient_failures + d.dead_lettered > 0;
    // The state and the cycle's runtime event commit together (one commit per cycle, not two). An idle cycle that
    // changes nothing but the heartbeat (cycle count and time) writes it at most once a second: a commit is an fsync,
    // and the empty cycle after each busy one would otherwise cost one (health's staleness is judged in tens of seconds).
    lastState = state;
    const cycleEvent = busy
      ? { at: clock(), health: state.health, reasons: state.last_reason_codes, detail: { ...report } as Record<string, unknown> }
      : null;
    if (!busy && state.last_cycle_at_ms - lastWrittenAt < 1000 && sameButHeartbeat(prev, state)) return report;
    // The service (`run`) keeps a busy cycle's telemetry for the next batch's commit, or writes it at most once a
    // second — at once when the verdict changes (health, a failed cycle), so health never reads a stale one.
    const events = unwritten?.events ?? [];
    if (cycleEvent) events.push(cycleEvent);
    unwritten = { state, events };
    if (!deferTelemetry || mustWriteNow(state)) wrote(store.atomically(writeTelemetry));
    if (busy)
      logger.info(
        { event: "runner.cycle", health: state.health, reason_codes: state.last_reason_codes, ...report, outcomes: undefined },
        "cycle",
      );
    return report;
  }

  /** The state the last cycle folded (this runner is its only writer) and when it was last written. */
  let lastState: RunnerState | null = null;
  let lastWrittenAt = 0;
  let lastWritten: RunnerState | null = null;
  /** Cycle telemetry not yet committed: the latest state and the busy cycles' runtime events (`run` only). */
  let unwritten: Telemetry | null = null;
  /** Set by `run`: telemetry rides on the next batch's commit (see `cycle`). */
  let deferTelemetry = false;

  /** Inside a unit of work: write the held-back telemetry; `wrote` it once that unit has committed. */
  function writeTelemetry(): Telemetry | null {
    const t = unwritten;
    if (!t) return null;
    store.kv.put(stateKey, JSON.stringify(t.state));
    for (const e of t.events) store.runner.insertRuntimeEvent(e.at, "runner.cycle", e.health, e.reasons, e.detail);
    return t;
  }

  function wrote(t: Telemetry | null): void {
    if (!t) return;
    if (unwritten === t) unwritten = null;
    lastWritten = t.state;
    lastWrittenAt = t.state.last_cycle_at_ms;
  }

  /** Write now, not with a later batch: the verdict moved (health, a failed cycle), a second passed, or much is held. */
  function mustWriteNow(state: RunnerState): boolean {
    const w = lastWritten;
    return (
      !w ||
      w.health !== state.health ||
      w.last_cycle_failed !== state.last_cycle_failed ||
      state.last_cycle_at_ms - lastWrittenAt >= 1000 ||
      (unwritten?.events.length ?? 0) >= 256
    );
  }

  /** Set by wake(): an append landed since the cycle began, so do not idle. */
  let woken = false;
  let wakeIdle: (() => void) | null = null;

  /** Sleep `ms`, ended early by abort or wake(). */
  function idle(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal.removeEventListener("abort", done);
        wakeIdle = null;
        resolve();
      }
      wakeIdle = done;
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /**
   * Idle on JetStream: a fetch of one message that expires after `poll_interval_ms` (at least a second), so an event
   * published by any node starts the next cycle at once; ended early only by abort.
   */
  function streamIdle(source: JetStreamSource, signal: AbortSignal): Promise<void> {
    // Not ended by wake(): the pending fetch returns as soon as a message arrives (a local append included), and a
    // pull stopped while the server is delivering into it strands that message until ack_wait (seen: 30 s replies).
    // Only the service's stop ends it early.
    return source.wait(config.runner.poll_interval_ms, signal);
  }

  function readState(): RunnerState | null {
    const raw = store.kv.get(stateKey);
    return raw ? (JSON.parse(raw) as RunnerState) : null;
  }

  return {
    cycle,
    readState,
    /** Process until nothing is queued (`tau process --once`). */
    async drain(maxCycles = 1_000_000): Promise<CycleReport[]> {
      deps.onStart?.();
      deps.delivery.recover();
      const reports: CycleReport[] = [];
      strictIngress = true;
      try {
        for (let i = 0; i < maxCycles; i++) {
          const r = await cycle();
          reports.push(r);
          if (r.queue_depth === 0 && r.processed + r.duplicates + r.quarantined + r.failed === 0) break;
        }
      } finally {
        strictIngress = false;
      }
      return reports;
    },
    /**
     * Run until `signal` aborts, idling `poll_interval_ms` when there is nothing to do. `wake()` (an append by an
     * in-process writer) ends the idle at once, so a webhook is answered without waiting for the poll tick.
     */
    async run(signal: AbortSignal): Promise<void> {
      deps.onStart?.();
      deps.delivery.recover();
      let lastPrune = 0;
      deferTelemetry = true;
      try {
        while (!signal.aborted) {
          woken = false;
          const r = await cycle();
          const now = clock();
          if (now - lastPrune > 3_600_000) {
            store.runner.pruneEvents(now - config.runner.dedupe_retention_ms);
            // Strangers' pairing attempts count for an hour (rate limit): older ones would only grow the table.
            store.access.pruneAttempts(now - PAIRING_ATTEMPT_WINDOW_MS);
            // Every unknown DM leaves a pairing code: decided and expired ones go after the dedupe retention.
            store.access.prunePairings(now - config.runner.dedupe_retention_ms);
            lastPrune = now;
          }
          if (r.queue_depth === 0 && r.processed === 0 && !woken) {
            // Held-back telemetry is written by a cycle within a second: the idle ends by then. (On JetStream the idle
            // is a fetch that other nodes' events end, not a timer: the telemetry is written before it.)
            if (deps.stream) {
              if (unwritten) wrote(store.atomically(writeTelemetry));
              await streamIdle(deps.stream, signal);
            } else {
              const due = unwritten ? Math.max(1, lastWrittenAt + 1000 - clock()) : Infinity;
              await idle(Math.min(config.runner.poll_interval_ms, due), signal);
            }
          }
        }
      } finally {
        deferTelemetry = false;
        if (unwritten) wrote(store.atomically(writeTelemetry));
      }
    },
    /** New ingress is durable: end the current idle (or skip the next one). Safe to call at any time. */
    wake(): void {
      woken = true;
      const w = wakeIdle;
      wakeIdle = null;
      w?.();
    },
    close(): void {
      lock?.close();
      void deps.stream?.close();
    },
  };
}

export type Runner = ReturnType<typeof createRunner>;
