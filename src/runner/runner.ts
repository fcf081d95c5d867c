/**
 * @module The runner: consume ingress exactly once. Per batch, one SQLite transaction holds the dedupe
 * rows, every decision and trace, the outbox rows and the cursor advance — so a kill -9 at any instant
 * loses no event and answers none twice. Delivery happens after the commit, from the outbox; dry-run replies
 * are written with the commit itself (receipts fsynced just before it, see `Delivery.dryRunBatch`).
 */
import fs from "node:fs";
import path from "node:path";
import { TRANSPORTS, type Transport } from "../contracts/envelope.ts";
import type { TauConfig } from "../config/index.ts";
import {
  countLinesAfterMemo,
  decodeLine,
  ingressFile,
  type LineCountMemo,
  parseIngressLine,
  readLineBytes,
  readLines,
  type IngressCursor,
} from "../ingress/index.ts";
import type { Logger } from "../log.ts";
import { outboxIdFor, queueReplies, type QueueOptions, type QueuedReply } from "../outbound/outbox.ts";
import type { Delivery } from "../outbound/deliver.ts";
import { createContext, type EventContext } from "../router/context.ts";
import { answerUnansweredInteraction } from "../router/interaction-answer.ts";
import { openShortLock, type Store, type ShortLock } from "../store/index.ts";
import { rotateIfConsumed } from "./rotate.ts";
import { replyTargetOf } from "../contracts/reply-target.ts";
import { nextRunnerState, type CycleReport, type RunnerState } from "./runner-state.ts";

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
}

interface QuarantineItem {
  transport: Transport;
  file: string;
  line: number;
  reason: string;
  detail: string;
}

export function createRunner(deps: RunnerDeps) {
  const { config, store, clock, logger } = deps;
  const ingressDir = path.join(deps.stateDir, "ingress");
  const quarantineDir = path.join(deps.stateDir, "quarantine");
  const transports = deps.transports ?? TRANSPORTS;
  const batchSeen = new Set<string>();
  /** Queue depth per ingress file, counted incrementally (a full rescan per cycle is quadratic in the backlog). */
  const depthMemos = new Map<string, LineCountMemo>();
  const pipeline = deps.buildPipeline((id) => batchSeen.has(id) || store.runner.hasEvent(id));
  /** Read buffer for batches: a batch's lines view it until the next read (one megabyte, not one per batch). */
  const readScratch = Buffer.allocUnsafe(1 << 20);
  let lock: ShortLock | null = null;
  const ingressLock = () => (lock ??= openShortLock(path.join(ingressDir, ".lock")));

  function cursorOf(t: Transport): IngressCursor | null {
    const row = store.runner.cursor(t);
    return row ? { ino: row.file_ino, offset: row.byte_offset, line: row.line_no } : null;
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

  /** Delivery failure counters (bumped by the outbound layer) as they stand now: retryable failures, dead letters. */
  function deliveryCounters(): { transient: number; dead: number } {
    const c = store.counters.all();
    return {
      transient: TRANSIENT_DELIVERY_CODES.reduce((n, code) => n + (c[`deliveries.${code}`] ?? 0), 0),
      dead: c["deliveries.dead_letter"] ?? 0,
    };
  }

  /** Process up to `budget` lines of one transport; returns counts for the cycle report. */
  function processTransport(t: Transport, budget: number, report: CycleReport, fresh: QueuedReply[]): void {
    const file = ingressFile(ingressDir, t);
    let remaining = budget;
    while (remaining > 0) {
      const read = readLineBytes(
        file,
        cursorOf(t),
        Math.min(remaining, config.runner.batch_size),
        config.ingress.max_line_bytes,
        readScratch,
      );
      if (!read || read.lines.length === 0) {
        // Still record a cursor reset so the next read starts at 0 of the new file.
        if (read?.reset && read.cursor.offset === 0)
          store.runner.putCursor({ transport: t, file_ino: read.cursor.ino, byte_offset: 0, line_no: 0 }, clock());
        return;
      }
      remaining -= read.lines.length;
      const now = clock();
      const quarantine: QuarantineItem[] = [];
      const base = path.basename(file);
      // Dry-run replies are written as the batch commits (stored as sent, receipts fsynced just before the commit).
      const dryRun = deps.delivery.dryRunBatch();
      const opts: QueueOptions = { mode: config.outbound.mode, maxChars: config.outbound.max_chars, now, dryRun };
      let processed = 0;
      let duplicates = 0;
      try {
        store.atomically(() => {
          // Allowlist and pairings as of the batch's start (other processes cannot commit while it writes).
          store.access.holdAdmissions();
          // Each line is parsed as its turn comes, so a batch's envelopes do not all stay alive until it commits.
          for (const raw of read.lines) {
            const l = decodeLine(raw);
            const p = l.ok ? parseIngressLine(l.text, t) : { ok: false as const, code: l.code, detail: l.detail };
            if (!p.ok) {
              quarantine.push({ transport: t, file: base, line: l.line, reason: p.code, detail: p.detail });
              continue;
            }
            const ctx = createContext(p.envelope, now);
            try {
              pipeline(ctx);
            } catch (err) {
              ctx.decisions.push({
                stage: "runner",
                outcome: "deny",
                reason: "event_processing_failed",
                detail: { error: String((err as Error).message ?? err).slice(0, 200) },
              });
              ctx.outcome = "ignored";
              ctx.reason = "event_processing_failed";
              ctx.replies = [];
              ctx.jobs = [];
              ctx.responderJob = null;
              report.failed += 1;
              logger.error(
                { event: "runner.event_failed", event_id: p.envelope.event_id, err: (err as Error).message },
                "event processing failed",
              );
            }
            if (ctx.duplicate) {
              duplicates += 1;
              continue;
            }
            processed += 1;
            batchSeen.add(ctx.env.event_id);
            // A slash command nothing answers still gets one answer, committed with its decision.
            answerUnansweredInteraction(ctx, config.commands.prefix);
            recordEvent(ctx, opts, report, fresh);
          }
          // Quarantine lines reach their file before the cursor moves past them (at the commit).
          writeQuarantine(quarantine, now);
          for (const q of quarantine) store.runner.insertQuarantine(q.transport, q.file, q.line, q.reason, q.detail, now);
          report.duplicates += duplicates;
          report.quarantined += quarantine.length;
          store.counters.bump("events.processed", processed);
          if (report.duplicates) store.counters.bump("events.duplicates", duplicates);
          if (quarantine.length) store.counters.bump("events.quarantined", quarantine.length);
          store.runner.putCursor(
            { transport: t, file_ino: read.cursor.ino, byte_offset: read.cursor.offset, line_no: read.cursor.line },
            now,
          );
          report.delivered += dryRun.write();
        });
      } catch (err) {
        dryRun.abort();
        throw err;
      } finally {
        store.access.releaseAdmissions();
        batchSeen.clear();
      }
    }
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
    for (const t of transports) processTransport(t, share, report, fresh);
    const retriesDue = store.outbox.retriesDue(clock());
    const before = deliveryCounters();
    report.delivered += await deps.delivery.deliverFresh(fresh);
    const jobReplies: QueuedReply[] = [];
    // Dry-run job replies are written with their job's commit; the hook says how many chunks that was.
    report.delivered += (await deps.afterCommit?.(jobReplies)) ?? 0;
    report.delivered += await deps.delivery.deliverFresh(jobReplies);
    const delivered = await deps.delivery.deliverPending();
    report.delivered += delivered.chunks;
    const after = deliveryCounters();
    report.delivery = {
      retries: delivered.rows > 0 ? Math.min(retriesDue, delivered.rows) : 0,
      transient_failures: after.transient - before.transient,
      dead_lettered: after.dead - before.dead,
    };
    for (const t of transports) {
      const c = cursorOf(t);
      const file = ingressFile(ingressDir, t);
      const depth = countLinesAfterMemo(file, c ? c.offset : 0, depthMemos);
      report.queue_depth += depth;
      if (depth > 0) {
        const o = oldestQueuedMs(t);
        if (o !== null) report.oldest_queued_ms = Math.min(report.oldest_queued_ms ?? o, o);
      } else if (c) {
        rotateIfConsumed({
          file,
          cursor: c,
          lock: ingressLock(),
          minBytes: config.runner.rotate_min_bytes,
          keep: config.runner.keep_rotated,
          now: clock(),
        });
      }
    }
    const prev = readState();
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
    // The state and the cycle's runtime event commit together (one commit per cycle, not two).
    store.atomically(() => {
      store.kv.put("runner_state", JSON.stringify(state));
      if (busy) store.runner.insertRuntimeEvent(clock(), "runner.cycle", state.health, state.last_reason_codes, { ...report });
    });
    if (busy)
      logger.info(
        { event: "runner.cycle", health: state.health, reason_codes: state.last_reason_codes, ...report, outcomes: undefined },
        "cycle",
      );
    return report;
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

  function readState(): RunnerState | null {
    const raw = store.kv.get("runner_state");
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
      for (let i = 0; i < maxCycles; i++) {
        const r = await cycle();
        reports.push(r);
        if (r.queue_depth === 0 && r.processed + r.duplicates + r.quarantined + r.failed === 0) break;
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
      while (!signal.aborted) {
        woken = false;
        const r = await cycle();
        const now = clock();
        if (now - lastPrune > 3_600_000) {
          store.runner.pruneEvents(now - config.runner.dedupe_retention_ms);
          lastPrune = now;
        }
        if (r.queue_depth === 0 && r.processed === 0 && !woken) await idle(config.runner.poll_interval_ms, signal);
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
    },
  };
}

export type Runner = ReturnType<typeof createRunner>;
