/**
 * @module The runner's JetStream source (`ingress.driver: nats`): batches from the one durable pull consumer every
 * runner of the cluster shares. A batch is fetched, processed in one store transaction, and only then acknowledged;
 * a batch whose transaction failed is left unacknowledged and comes back after ack_wait (to this runner or another).
 * Fetches ask for no more than the consumer holds, so a short batch does not wait out the fetch's expiry; the idle wait
 * is a fetch of one message that expires (no busy loop), its message kept for the next batch. Redeliveries due after
 * ack_wait are counted among the unacknowledged messages, with the batches other runners hold: those are fetched one
 * first (returning as soon as anything arrives), then, if that one was a redelivery, the rest.
 */
import type { TauConfig } from "../config/index.ts";
import { jetStreamSettings, lazyJetStream, type JetStreamPort, type StreamMessage } from "../ingress/index.ts";

export interface JetStreamSourceOptions {
  connect: () => Promise<JetStreamPort>;
  close?: () => Promise<void>;
}

export interface JetStreamSource {
  /** Up to `max` messages (the idle wait's first); [] when the consumer holds none. Rejects when NATS is unreachable. */
  take(max: number): Promise<StreamMessage[]>;
  /** After the batch committed: quarantined messages are terminated, the others acknowledged; the acks are flushed. */
  settle(batch: readonly StreamMessage[], terminated: ReadonlySet<StreamMessage>): Promise<void>;
  /** Wait for one message (kept for the next `take`), at most `ms`, ended early by `signal`. Never rejects. */
  wait(ms: number, signal: AbortSignal): Promise<void>;
  /** Queue depth (not yet acknowledged, delivered or not) and the oldest such message's stored time. */
  depth(): Promise<{ queued: number; oldestMs: number | null }>;
  close(): Promise<void>;
}

/** A fetch expires after this long at least (the SDK's minimum). */
const MIN_EXPIRES_MS = 1000;

export function createJetStreamSource(opts: JetStreamSourceOptions): JetStreamSource {
  /** Messages the idle wait received, handed out first by the next `take`. */
  let held: StreamMessage[] = [];

  async function take(max: number): Promise<StreamMessage[]> {
    if (held.length >= max) return held.splice(0, max);
    const js = await opts.connect();
    if (!js.connected()) {
      if (held.length > 0) return held.splice(0);
      throw new Error("disconnected from the NATS server (reconnecting)");
    }
    const first = held.splice(0);
    const lag = await js.lag();
    // Ask for no more than the consumer holds, so the fetch returns as soon as they arrived.
    if (lag.pending > 0) {
      const got = await js.fetch(Math.min(max - first.length, lag.pending), MIN_EXPIRES_MS);
      return first.length ? [...first, ...got] : got;
    }
    // The unacknowledged ones (less those in hand) are redeliveries due, or batches other runners hold: never delay
    // messages in hand for them; otherwise ask for one (it returns as soon as anything arrives) and, when that one was a
    // redelivery (a runner died holding a batch), for the rest of what is unacknowledged.
    const unacked = Math.max(0, lag.ackPending - first.length);
    if (first.length > 0 || unacked === 0) return first;
    const got = await js.fetch(1, MIN_EXPIRES_MS);
    if (got.length === 0 || got[0]!.deliveryCount < 2 || unacked < 2 || max < 2) return got;
    return [...got, ...(await js.fetch(Math.min(max - 1, unacked - 1), MIN_EXPIRES_MS))];
  }

  return {
    take,
    async settle(batch, terminated) {
      if (batch.length === 0) return;
      // A lost ack only means a redelivery, which the dedupe table absorbs; flushing keeps the lag honest.
      try {
        for (const m of batch) {
          if (terminated.has(m)) m.term();
          else m.ack();
        }
      } catch {
        return; // the connection is gone: what was not acknowledged comes back after ack_wait
      }
      const js = await opts.connect();
      await js.flush().catch(() => {});
    },
    async wait(ms, signal) {
      // Unreachable: wait a whole fetch's expiry before the next attempt, not just the poll interval.
      const sleep = () =>
        new Promise<void>((resolve) => {
          const t = setTimeout(done, Math.max(MIN_EXPIRES_MS, ms));
          function done() {
            clearTimeout(t);
            signal.removeEventListener("abort", done);
            resolve();
          }
          signal.addEventListener("abort", done, { once: true });
        });
      if (signal.aborted) return;
      try {
        const js = await opts.connect();
        if (!js.connected()) return await sleep();
        const got = await js.fetch(1, Math.max(MIN_EXPIRES_MS, ms), signal);
        held.push(...got);
      } catch {
        await sleep();
      }
    },
    async depth() {
      const js = await opts.connect();
      return js.backlog();
    },
    async close() {
      held = [];
      await opts.close?.();
    },
  };
}

/** The source for `ingress.driver: nats`: connects (and ensures the stream and the durable consumer) on first use. */
export function jetStreamSourceFor(config: TauConfig): JetStreamSource {
  const js = lazyJetStream(jetStreamSettings(config), "consumer");
  return createJetStreamSource({ connect: () => js.get(), close: () => js.close() });
}
