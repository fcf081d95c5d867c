/**
 * @module Durable ingress appends/s, JetStream vs files, in one run (issue 15, "the cost of distribution"): the same
 * mixed Telegram envelopes, each writer appending one event at a time and waiting for it to be durable — as a webhook
 * handler does before its 200 — through the file writer (lock + append + group fdatasync) and through the JetStream
 * writer (publish with `Nats-Msg-Id`, wait for the PubAck) against a local nats-server (`-js`, file storage, temp dir).
 * Interleaved rounds (files, nats, nats, files, …), best rate of each kept: the machine is shared.
 * Usage: tsx scripts/bench-ingress-nats.ts [events=20000] [writers=8,64]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Envelope } from "../src/contracts/envelope.ts";
import { createIngressWriter, createJetStreamIngressWriter, lazyJetStream, type IngressWriter } from "../src/ingress/index.ts";
import { natsServerBinary, startNats } from "../test/helpers/nats.ts";

const N = Number(process.argv[2] ?? 20_000);
const WRITERS = (process.argv[3] ?? "8,64").split(",").map(Number);
const ROUNDS = 2;

function events(n: number, round: number): Envelope[] {
  const base = 1_763_712_000_000;
  return Array.from({ length: n }, (_, i) => {
    const id = round * 10_000_000 + i;
    const actor = String(100_000 + (i % 5000));
    const group = i % 3 === 0;
    return {
      v: 1,
      event_id: `telegram:6112:u:${id}`,
      transport: "telegram",
      provider: "telegram-bot-api",
      account_id: "6112",
      kind: "message",
      conversation_id: group ? "-1001234567890" : actor,
      thread_id: null,
      chat_type: group ? "group" : "dm",
      actor: { id: actor, display: `user${actor}`, is_bot: false },
      mentions_bot: !group,
      text: i % 20 === 5 ? "/tau whoami" : `message ${id} about the deploy`,
      attachments: [],
      reply_to: null,
      forwarded: false,
      occurred_at_ms: base + i * 10,
      received_at_ms: base + i * 10 + 5,
      meta: { update_id: id, message_id: id },
    } as Envelope;
  });
}

async function drive(w: IngressWriter, evs: Envelope[], writers: number): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, k) => {
      for (let i = k; i < evs.length; i += writers) await w.append("telegram", [evs[i]!]);
    }),
  );
  return performance.now() - t0;
}

async function main(): Promise<void> {
  if (!natsServerBinary()) throw new Error("nats-server not found (Debian package nats-server)");
  const nats = await startNats();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-bench-ingress-"));
  const best: Record<string, number> = {};
  let round = 0;
  try {
    for (const writers of WRITERS) {
      for (let r = 0; r < ROUNDS; r++) {
        const order = r % 2 === 0 ? ["files", "nats"] : ["nats", "files"];
        for (const kind of order) {
          const evs = events(N, round++);
          let w: IngressWriter;
          if (kind === "files") {
            w = createIngressWriter({ ingressDir: path.join(dir, `ingress-${round}`), maxLineBytes: 1 << 20, trustEnvelopes: false });
          } else {
            const js = lazyJetStream(
              {
                servers: [nats.url],
                name: "bench",
                stream: "TAU_INGRESS",
                consumer: "tau-runner",
                ackWaitMs: 30_000,
                maxAckPending: 4000,
                requestTimeoutMs: 10_000,
              },
              "publisher",
            );
            await js.get(); // connect and ensure the stream outside the measurement, as a running node has
            w = createJetStreamIngressWriter({ connect: () => js.get(), close: () => js.close(), maxLineBytes: 1 << 20 });
          }
          const ms = await drive(w, evs, writers);
          await w.close();
          const rate = Math.round((N / ms) * 1000);
          const key = `${kind}@${writers}`;
          best[key] = Math.max(best[key] ?? 0, rate);
          console.error(`  ${key}: ${rate} durable appends/s (${Math.round(ms)} ms)`);
        }
      }
    }
  } finally {
    await nats.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\ningress: ${N} events, one per append, each awaited (webhook style); best of ${ROUNDS} interleaved runs`);
  console.log("writers  files/s  jetstream/s  jetstream ÷ files");
  const rows: Record<string, unknown>[] = [];
  for (const writers of WRITERS) {
    const f = best[`files@${writers}`]!;
    const j = best[`nats@${writers}`]!;
    console.log(`${String(writers).padStart(7)}  ${String(f).padStart(7)}  ${String(j).padStart(11)}  ${(j / f).toFixed(2)}`);
    rows.push({ writers, files_per_s: f, jetstream_per_s: j, ratio: Number((j / f).toFixed(3)) });
  }
  console.log(JSON.stringify({ events: N, rounds: ROUNDS, rows }));
}

await main();
