/**
 * @module The intake step every connector shares: normalize raw provider items one at a time (a bad one is
 * a parse failure and never blocks the rest), skip ids seen recently, append durably, then count.
 */
import type { BotIdentity, Envelope, NormalizeContext, NormalizeResult, Transport } from "../../src/contracts/envelope.ts";
import { TauError } from "../../src/contracts/errors.ts";
import type { IngressSink, IntakeRefusal, QuarantineSink } from "../../src/contracts/ingress.ts";
import type { ConnectorLogger } from "./connector.ts";
import type { StatusTracker } from "./status-tracker.ts";

interface IngestorOptions {
  transport: Transport;
  sink: IngressSink;
  tracker: StatusTracker;
  logger: ConnectorLogger;
  clock: () => number;
  identity: () => BotIdentity;
  normalize: (raw: unknown, ctx: NormalizeContext) => NormalizeResult;
  keepRaw?: boolean;
  /** Where refused items are kept with their reason (per-item refusal); without it they are logged and counted only. */
  quarantine?: QuarantineSink | undefined;
  /** Intake path named in quarantine records (`webhook`, `polling`, `gateway`, `imap`). */
  source?: string;
  /** How many recently appended event ids to remember for duplicate skipping (redeliveries, resumes). */
  recentIds?: number;
}

interface IngestResult {
  appended: number;
  duplicates: number;
  parseFailures: number;
  /** Refused items that were quarantined (a subset of parseFailures when a quarantine sink is set). */
  quarantined: number;
  ignored: number;
  /** The event ids appended, in order. */
  eventIds: string[];
}

/** Thrown when the durable append failed: the caller must not acknowledge or commit anything. */
export class IngressAppendError extends TauError {
  constructor(cause: unknown) {
    super("INGRESS_APPEND_FAILED", "could not append to ingress durably", { cause });
    this.name = "IngressAppendError";
  }
}

export interface Ingestor {
  /** Normalize and durably append `items`; resolves after the fsync, rejects with IngressAppendError. */
  ingest(items: readonly unknown[]): Promise<IngestResult>;
  /** Resolves once no ingest is in flight (used by `stop()` to wait for pending appends). */
  idle(): Promise<void>;
}

export function createIngestor(opts: IngestorOptions): Ingestor {
  const limit = opts.recentIds ?? 4096;
  const recent = new Set<string>();
  const remember = (id: string) => {
    recent.add(id);
    if (recent.size > limit) recent.delete(recent.values().next().value as string);
  };

  let inflight = 0;
  const waiters: (() => void)[] = [];
  const settle = () => {
    inflight -= 1;
    if (inflight === 0) for (const w of waiters.splice(0)) w();
  };

  const source = opts.source ?? "connector";

  async function ingest(items: readonly unknown[]): Promise<IngestResult> {
    const ctx: NormalizeContext = { identity: opts.identity(), receivedAtMs: opts.clock(), keepRaw: opts.keepRaw ?? false };
    const out: Envelope[] = [];
    const batchIds = new Set<string>();
    const refusals: IntakeRefusal[] = [];
    const result: IngestResult = { appended: 0, duplicates: 0, parseFailures: 0, quarantined: 0, ignored: 0, eventIds: [] };
    const refuse = (code: string, detail: string, raw: unknown) => {
      result.parseFailures += 1;
      opts.tracker.failure("parse", code);
      opts.logger.warn({ event: "connector.parse_failed", transport: opts.transport, code, detail }, "payload refused");
      refusals.push({ source, reason: code, detail, raw });
    };
    for (const item of items) {
      let r: NormalizeResult;
      try {
        r = opts.normalize(item, ctx);
      } catch (err) {
        // A normalizer bug costs this item only, never the batch.
        r = {
          ok: false,
          code: "ingress_payload_invalid",
          detail: `normalizer failed: ${String((err as Error)?.message ?? err).slice(0, 200)}`,
        };
      }
      if (!r.ok) {
        refuse(r.code, r.detail, item);
        continue;
      }
      // Items of a batch refused one by one (a bad message among good ones in one WhatsApp body).
      for (const bad of r.refused ?? []) refuse(bad.code, bad.detail, bad.raw ?? item);
      for (const ig of r.ignored) {
        result.ignored += 1;
        opts.logger.info({ event: "connector.ignored", transport: opts.transport, code: ig.code, detail: ig.detail }, "payload ignored");
      }
      for (const env of r.envelopes) {
        if (recent.has(env.event_id) || batchIds.has(env.event_id)) {
          result.duplicates += 1;
          continue;
        }
        batchIds.add(env.event_id);
        out.push(env);
      }
    }
    if (refusals.length > 0 && opts.quarantine) {
      // Durable before the provider is acknowledged, like the good items: a failure is an append failure (retried).
      try {
        await opts.quarantine.quarantine(opts.transport, refusals);
      } catch (err) {
        opts.tracker.failure(null, "ingress_append_failed");
        opts.logger.error(
          {
            event: "connector.quarantine_failed",
            transport: opts.transport,
            code: "ingress_append_failed",
            error: (err as Error)?.message,
          },
          "quarantine append failed",
        );
        throw new IngressAppendError(err);
      }
      result.quarantined = refusals.length;
    }
    if (out.length > 0) {
      try {
        await opts.sink.append(opts.transport, out);
      } catch (err) {
        opts.tracker.failure(null, "ingress_append_failed");
        opts.logger.error(
          { event: "connector.append_failed", transport: opts.transport, code: "ingress_append_failed", error: (err as Error)?.message },
          "ingress append failed",
        );
        throw new IngressAppendError(err);
      }
      for (const env of out) remember(env.event_id);
    }
    result.appended = out.length;
    result.eventIds = out.map((e) => e.event_id);
    opts.tracker.duplicates(result.duplicates);
    opts.tracker.ingested(result.appended);
    return result;
  }

  return {
    async ingest(items) {
      inflight += 1;
      try {
        return await ingest(items);
      } finally {
        settle();
      }
    },
    idle() {
      if (inflight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}
