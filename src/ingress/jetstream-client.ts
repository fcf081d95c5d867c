/**
 * @module The NATS JetStream adapter: the only file that imports `@nats-io/*`, loaded on first use (by
 * `lazyJetStream`) so a files-ingress tau never loads the SDK. Connects (client name = node id), ensures the stream
 * (file storage, work-queue retention, subjects `tau.ingress.>`, the server's default duplicate window) and, for a
 * runner, the one durable pull consumer (explicit ack, bounded ack_wait and max_ack_pending).
 */
import { connect, createInbox, headers, type Msg, type NatsConnection } from "@nats-io/transport-node";
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type Consumer,
  type ConsumerInfo,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { TauError } from "../contracts/errors.ts";
import { INGRESS_SUBJECT_PREFIX, type JetStreamPort, type JetStreamRole, type JetStreamSettings, type StreamMessage } from "./jetstream.ts";

const NS_PER_MS = 1_000_000;

function apiCode(err: unknown): number | null {
  return err instanceof JetStreamApiError ? err.code : null;
}

async function ensureStream(jsm: JetStreamManager, s: JetStreamSettings): Promise<RetentionPolicy> {
  try {
    return (await jsm.streams.info(s.stream)).config.retention;
  } catch (err) {
    if (apiCode(err) !== JetStreamApiCodes.StreamNotFound) throw err;
  }
  try {
    const info = await jsm.streams.add({
      name: s.stream,
      subjects: [INGRESS_SUBJECT_PREFIX + ">"],
      storage: StorageType.File,
      // A message leaves the stream once a runner acknowledged it (its event is in the store from then on).
      retention: RetentionPolicy.Workqueue,
    });
    return info.config.retention;
  } catch (err) {
    // Another node created it at the same moment.
    return (await jsm.streams.info(s.stream).catch(() => Promise.reject(err))).config.retention;
  }
}

async function ensureConsumer(jsm: JetStreamManager, s: JetStreamSettings): Promise<void> {
  const ackWait = s.ackWaitMs * NS_PER_MS;
  try {
    const info = await jsm.consumers.info(s.stream, s.consumer);
    if (info.config.ack_wait !== ackWait || info.config.max_ack_pending !== s.maxAckPending) {
      await jsm.consumers.update(s.stream, s.consumer, { ack_wait: ackWait, max_ack_pending: s.maxAckPending });
    }
    return;
  } catch (err) {
    if (apiCode(err) !== JetStreamApiCodes.ConsumerNotFound) throw err;
  }
  const config = {
    durable_name: s.consumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: ackWait,
    max_ack_pending: s.maxAckPending,
  };
  try {
    await jsm.consumers.add(s.stream, config);
  } catch (err) {
    // Created by another node in between (with its own settings): use it.
    await jsm.consumers.info(s.stream, s.consumer).catch(() => Promise.reject(err));
  }
}

function toMessage(m: JsMsg): StreamMessage {
  return {
    subject: m.subject,
    seq: m.seq,
    data: m.data,
    deliveryCount: m.info.deliveryCount,
    storedAtMs: Math.floor(m.info.timestampNanos / NS_PER_MS),
    ack: () => m.ack(),
    term: () => m.term(),
  };
}

/**
 * JetStream publishes with their acks on one wildcard inbox subscription: what `js.publish` does, without its two
 * stack-captured Error objects per request (most of a publish's CPU). A message with `Nats-Msg-Id` goes to the stream
 * subject with a reply subject; the stream answers there with its PubAck (or an error, or 503: no stream listens).
 */
function pubAcks(nc: NatsConnection, timeoutMs: number) {
  type Waiter = { resolve: (a: { seq: number; duplicate: boolean }) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };
  const prefix = createInbox();
  const waiting = new Map<string, Waiter>();
  let next = 0;
  const settle = (reply: string): Waiter | null => {
    const w = waiting.get(reply);
    if (!w) return null;
    waiting.delete(reply);
    clearTimeout(w.timer);
    return w;
  };
  nc.subscribe(`${prefix}.*`, {
    callback: (err, msg: Msg) => {
      if (err) return;
      const w = settle(msg.subject);
      if (!w) return;
      if (msg.data.length === 0 && msg.headers?.code === 503) {
        w.reject(Object.assign(new Error("no JetStream stream takes this subject (503 no responders)"), { noStream: true }));
        return;
      }
      try {
        const r = msg.json<{ seq?: number; duplicate?: boolean; error?: { code: number; description: string } }>();
        if (r.error) w.reject(new Error(`JetStream error ${r.error.code}: ${r.error.description}`));
        else if (typeof r.seq !== "number") w.reject(new Error("invalid publish ack"));
        else w.resolve({ seq: r.seq, duplicate: r.duplicate === true });
      } catch (e) {
        w.reject(e as Error);
      }
    },
  });
  return {
    publish(subject: string, data: Uint8Array, msgId: string): Promise<{ seq: number; duplicate: boolean }> {
      const reply = `${prefix}.${++next}`;
      const h = headers();
      h.set("Nats-Msg-Id", msgId);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => settle(reply)?.reject(new Error(`no publish ack within ${timeoutMs} ms`)), timeoutMs);
        waiting.set(reply, { resolve, reject, timer });
        try {
          nc.publish(subject, data, { reply, headers: h });
        } catch (e) {
          settle(reply)?.reject(e as Error);
        }
      });
    },
    failAll(reason: string): void {
      for (const reply of [...waiting.keys()]) settle(reply)?.reject(new Error(reason));
    },
  };
}

/** Connect and ensure the stream (and, for a consumer, the durable consumer). Rejects with INGRESS_NATS_UNAVAILABLE. */
export async function connectJetStream(s: JetStreamSettings, role: JetStreamRole): Promise<JetStreamPort> {
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: s.servers,
      name: s.name,
      timeout: s.requestTimeoutMs,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      // No stack captured per request "for async traces": two Error objects per publish were most of its CPU.
      noAsyncTraces: true,
    });
  } catch (err) {
    throw new TauError("INGRESS_NATS_UNAVAILABLE", `cannot connect to NATS at ${s.servers.join(",")}: ${(err as Error).message}`, {
      hint: "start nats-server with JetStream on (-js), or fix ingress.nats_url",
    });
  }
  let up = true;
  const acks = pubAcks(nc, s.requestTimeoutMs);
  void (async () => {
    for await (const st of nc.status()) {
      if (st.type === "disconnect") {
        up = false;
        acks.failAll("disconnected from the NATS server before the stream acknowledged");
      } else if (st.type === "reconnect") up = true;
    }
  })().catch(() => {});
  let consumer: Consumer | null = null;
  let retention: RetentionPolicy;
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc, { timeout: s.requestTimeoutMs });
    retention = await ensureStream(jsm, s);
    if (role === "consumer") {
      await ensureConsumer(jsm, s);
      consumer = await jetstream(nc, { timeout: s.requestTimeoutMs }).consumers.get(s.stream, s.consumer);
    }
  } catch (err) {
    await nc.close().catch(() => {});
    const message = (err as Error).message;
    throw new TauError(
      "INGRESS_NATS_UNAVAILABLE",
      `JetStream at ${s.servers.join(",")}: cannot ensure stream ${s.stream}${role === "consumer" ? ` and consumer ${s.consumer}` : ""}: ${message}`,
      {
        hint: /overlap/i.test(message)
          ? `another stream already takes ${INGRESS_SUBJECT_PREFIX}>: set ingress.stream to its name, or delete it`
          : "is JetStream enabled on the server (nats-server -js)? does the account allow streams?",
      },
    );
  }
  const needConsumer = (): Consumer => {
    if (!consumer) throw new Error("this JetStream connection was opened for publishing only");
    return consumer;
  };

  /** The consumer's info; a stream or consumer deleted under us (by an operator) is made again, as at start. */
  async function consumerInfo(): Promise<ConsumerInfo> {
    try {
      return await needConsumer().info();
    } catch (err) {
      const code = apiCode(err);
      if (code !== JetStreamApiCodes.ConsumerNotFound && code !== JetStreamApiCodes.StreamNotFound) throw err;
      retention = await ensureStream(jsm, s);
      await ensureConsumer(jsm, s);
      consumer = await jetstream(nc, { timeout: s.requestTimeoutMs }).consumers.get(s.stream, s.consumer);
      return consumer.info();
    }
  }

  return {
    publish: (subject, data, msgId) =>
      acks.publish(subject, data, msgId).catch(async (err: unknown) => {
        // The stream was deleted under us: make it again (as at start) and publish once more (same Nats-Msg-Id).
        if (!(err as { noStream?: boolean }).noStream) throw err;
        await ensureStream(jsm, s);
        return acks.publish(subject, data, msgId);
      }),
    async fetch(max, expiresMs, signal) {
      const c = needConsumer();
      if (signal?.aborted) return [];
      const expires = Math.max(1000, expiresMs);
      const iter = await c.fetch({ max_messages: max, expires });
      const stop = () => iter.stop();
      signal?.addEventListener("abort", stop, { once: true });
      // The server ends the pull at `expires`; if it went away meanwhile nothing would, so the client ends it too.
      const guard = setTimeout(stop, expires + s.requestTimeoutMs);
      const out: StreamMessage[] = [];
      try {
        for await (const m of iter) out.push(toMessage(m));
      } finally {
        clearTimeout(guard);
        signal?.removeEventListener("abort", stop);
      }
      return out;
    },
    async lag() {
      const info = await consumerInfo();
      return { pending: info.num_pending, ackPending: info.num_ack_pending };
    },
    async backlog() {
      if (retention === RetentionPolicy.Workqueue) {
        // Acknowledged (or terminated) messages leave a work queue: what is left is what is not yet acknowledged, and the
        // first one left is the oldest.
        const st = (await jsm.streams.info(s.stream)).state;
        return { queued: st.messages, oldestMs: st.messages > 0 ? Date.parse(st.first_ts) : null };
      }
      const info = await consumerInfo();
      const queued = info.num_pending + info.num_ack_pending;
      if (queued === 0) return { queued, oldestMs: null };
      const m = await jsm.streams.getMessage(s.stream, { seq: info.ack_floor.stream_seq + 1 }).catch(() => null);
      return { queued, oldestMs: m ? m.time.getTime() : null };
    },
    flush: () => nc.flush(),
    connected: () => up && !nc.isClosed(),
    async close() {
      acks.failAll("the JetStream connection is closed");
      await nc.close();
    },
  };
}
