/**
 * @module Ingress on NATS JetStream (`ingress.driver: nats`), the part without the SDK: settings from the config, the
 * port the SDK adapter (`jetstream-client.ts`, loaded on first use only) implements, and the ingress writer that
 * publishes each envelope as one message — its NDJSON line — with the envelope's `event_id` as `Nats-Msg-Id`, resolving
 * only after every publish is acknowledged by the stream. The stream deduplicates a redelivered webhook within its
 * duplicate window; the runner's dedupe table does beyond it.
 */
import path from "node:path";
import { nodeIdOf, type TauConfig } from "../config/index.ts";
import { TRANSPORTS, type Transport } from "../contracts/envelope.ts";
import { TauError } from "../contracts/errors.ts";
import { createIngressWriter, encodeEnvelopes, type IngressWriter, type IngressWriterStats } from "./writer.ts";

/** Subjects of the stream: `tau.ingress.<transport>`. */
export const INGRESS_SUBJECT_PREFIX = "tau.ingress.";
/** The one durable pull consumer every runner of the cluster shares. */
export const RUNNER_CONSUMER = "tau-runner";

export function ingressSubject(t: Transport): string {
  return INGRESS_SUBJECT_PREFIX + t;
}

/** The transport of a stream subject, or null for a subject that is not one of tau's. */
export function transportOfSubject(subject: string): Transport | null {
  if (!subject.startsWith(INGRESS_SUBJECT_PREFIX)) return null;
  const t = subject.slice(INGRESS_SUBJECT_PREFIX.length);
  return (TRANSPORTS as readonly string[]).includes(t) ? (t as Transport) : null;
}

export interface JetStreamSettings {
  servers: string[];
  /** Client connection name: this node's id (`cluster.node_id`, else the host name). */
  name: string;
  stream: string;
  consumer: string;
  ackWaitMs: number;
  maxAckPending: number;
  /** Bound on one JetStream API request (publish ack, info): a request not answered by then fails. */
  requestTimeoutMs: number;
}

/** A message fetched from the durable consumer: ack only after the batch holding it committed. */
export interface StreamMessage {
  subject: string;
  /** Stream sequence. */
  seq: number;
  data: Uint8Array;
  /** 1 on first delivery, more on redelivery (after ack_wait). */
  deliveryCount: number;
  /** When the stream stored it (ms since the epoch). */
  storedAtMs: number;
  ack(): void;
  /** Never redeliver (a message that cannot be processed; it was quarantined). */
  term(): void;
}

/** Consumer lag: not yet delivered + delivered and not yet acknowledged. */
export interface ConsumerLag {
  pending: number;
  ackPending: number;
}

/** What the runner and the writer need from JetStream; implemented by `jetstream-client.ts` (the SDK adapter). */
export interface JetStreamPort {
  /** Publish and wait for the stream's ack. `duplicate`: the stream already held this `msgId` (within its window). */
  publish(subject: string, data: Uint8Array, msgId: string): Promise<{ seq: number; duplicate: boolean }>;
  /**
   * Up to `max` messages from the durable consumer: returns when `max` arrived or after `expiresMs` (at least 1000)
   * with what arrived; `signal` ends the wait early (messages already received are returned).
   */
  fetch(max: number, expiresMs: number, signal?: AbortSignal): Promise<StreamMessage[]>;
  lag(): Promise<ConsumerLag>;
  /**
   * Messages not yet acknowledged (delivered or not) and the oldest one's stored time (null when none or unknown). On a
   * work-queue stream (tau's default: acknowledged messages leave it) one stream info answers both.
   */
  backlog(): Promise<{ queued: number; oldestMs: number | null }>;
  /** Push buffered acks to the server and wait for its round trip. */
  flush(): Promise<void>;
  /** False while the connection is down (reconnecting). */
  connected(): boolean;
  close(): Promise<void>;
}

/** JetStream settings from `ingress.*` and `runner.batch_size`. */
export function jetStreamSettings(config: TauConfig): JetStreamSettings {
  return {
    servers: config.ingress.nats_url
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    name: nodeIdOf(config),
    stream: config.ingress.stream,
    consumer: RUNNER_CONSUMER,
    ackWaitMs: config.ingress.nats_ack_wait_ms,
    // Room for a few runners each holding a full batch; bounded so a stuck cluster does not hoard the stream.
    maxAckPending: Math.max(1000, 4 * config.runner.batch_size),
    requestTimeoutMs: 5000,
  };
}

export type JetStreamRole = "publisher" | "consumer";

/**
 * Connect on first use (the SDK is imported then, not at start-up): a failed connect is not cached, the next call
 * tries again. `role` says what to ensure: the stream (publisher), or the stream and the durable consumer (consumer).
 */
export function lazyJetStream(settings: JetStreamSettings, role: JetStreamRole): { get(): Promise<JetStreamPort>; close(): Promise<void> } {
  let pending: Promise<JetStreamPort> | null = null;
  let closed = false;
  return {
    get() {
      if (closed) return Promise.reject(new TauError("INGRESS_NATS_CLOSED", "the JetStream connection is closed"));
      pending ??= import("./jetstream-client.ts")
        .then((m) => m.connectJetStream(settings, role))
        .catch((err: unknown) => {
          pending = null;
          throw err;
        });
      return pending;
    },
    async close() {
      closed = true;
      const p = pending;
      pending = null;
      if (p) await p.then((c) => c.close()).catch(() => {});
    },
  };
}

export interface JetStreamWriterStats extends IngressWriterStats {
  /** Publishes the stream acknowledged as duplicates of a message it already held (same event id, within its window). */
  duplicates: number;
}

export interface JetStreamWriterOptions {
  connect: () => Promise<JetStreamPort>;
  close?: () => Promise<void>;
  maxLineBytes: number;
  trustEnvelopes?: boolean;
}

/**
 * The ingress writer on JetStream: the same validation and line limit as the file writer, one message per envelope,
 * resolves after every publish ack; rejects (TauError INGRESS_NATS_UNAVAILABLE) when JetStream does not acknowledge,
 * so a webhook answers non-2xx and the provider retries.
 */
export function createJetStreamIngressWriter(opts: JetStreamWriterOptions): IngressWriter & { stats(): JetStreamWriterStats } {
  const stats: JetStreamWriterStats = { events: 0, batches: 0, fsyncs: 0, duplicates: 0 };
  let closed = false;
  let inflight = 0;
  let settle: (() => void) | null = null;
  // For readiness: the connection once made, a connect under way, and whether the last attempt failed.
  let port: JetStreamPort | null = null;
  let connecting = false;
  let lastConnectFailed = false;

  async function connect(): Promise<JetStreamPort> {
    try {
      port = await opts.connect();
      lastConnectFailed = false;
      return port;
    } catch (err) {
      lastConnectFailed = true;
      throw unavailable(err);
    }
  }

  async function publishAll(transport: Transport, buf: Buffer, ids: string[]): Promise<void> {
    const js = await connect();
    if (!js.connected()) throw unavailable(new Error("disconnected from the NATS server (reconnecting)"));
    const subject = ingressSubject(transport);
    const publishes: Promise<{ seq: number; duplicate: boolean }>[] = [];
    let start = 0;
    for (const id of ids) {
      // Lines never hold a raw newline (JSON escapes it): each envelope's bytes end at the next one.
      const nl = buf.indexOf(10, start);
      publishes.push(js.publish(subject, buf.subarray(start, nl), id));
      start = nl + 1;
    }
    const results = await Promise.allSettled(publishes);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw unavailable(failed.reason);
    for (const r of results) if (r.status === "fulfilled" && r.value.duplicate) stats.duplicates += 1;
    stats.events += ids.length;
    stats.batches += 1;
  }

  return {
    async append(transport, envelopes) {
      if (closed) throw new Error("ingress writer is closed");
      if (envelopes.length === 0) return;
      const buf = encodeEnvelopes(envelopes, opts.maxLineBytes, !opts.trustEnvelopes);
      inflight += 1;
      try {
        await publishAll(
          transport,
          buf,
          envelopes.map((e) => e.event_id),
        );
      } finally {
        inflight -= 1;
        if (inflight === 0) settle?.();
      }
    },
    stats: () => ({ ...stats }),
    readiness() {
      if (port) return port.connected() ? { code: "ready", ok: true } : { code: "ingress_nats_disconnected", ok: false };
      if (!connecting && !closed) {
        connecting = true;
        connect().then(
          () => (connecting = false),
          () => (connecting = false),
        );
      }
      return { code: lastConnectFailed ? "ingress_nats_unavailable" : "ingress_nats_connecting", ok: false };
    },
    async close() {
      closed = true;
      if (inflight > 0) await new Promise<void>((r) => (settle = r));
      await opts.close?.();
    },
  };
}

function unavailable(err: unknown): TauError {
  if (err instanceof TauError) return err;
  return new TauError("INGRESS_NATS_UNAVAILABLE", `JetStream did not acknowledge the publish: ${(err as Error)?.message ?? String(err)}`, {
    hint: "check that nats-server runs with JetStream on (-js) at ingress.nats_url",
  });
}

/**
 * The ingress writer the config asks for: NDJSON files under `<state>/ingress` (`ingress.driver: files`, the default)
 * or JetStream (`nats`, connecting on the first append). Every writer of ingress — webhooks, pollers, `tau ingest`,
 * the inbox poll — is opened here.
 */
export function openConfiguredIngressWriter(config: TauConfig, stateDir: string, trustEnvelopes = false): IngressWriter {
  if (config.ingress.driver === "nats") {
    const js = lazyJetStream(jetStreamSettings(config), "publisher");
    return createJetStreamIngressWriter({
      connect: () => js.get(),
      close: () => js.close(),
      maxLineBytes: config.ingress.max_line_bytes,
      trustEnvelopes,
    });
  }
  return createIngressWriter({ ingressDir: path.join(stateDir, "ingress"), maxLineBytes: config.ingress.max_line_bytes, trustEnvelopes });
}
