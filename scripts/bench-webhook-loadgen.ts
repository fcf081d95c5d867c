/**
 * @module Load generator for scripts/bench-webhook.ts, run in its own process: `c` concurrent keep-alive
 * connections POSTing pre-built (and, for WhatsApp, pre-signed) unique bodies for a fixed time; prints one
 * JSON line with the count and latency percentiles. Loopback only.
 */
import crypto from "node:crypto";
import http from "node:http";

interface Spec {
  url: string;
  kind: "bare" | "whatsapp" | "telegram";
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  secret: string;
  /** Distinguishes runs so event ids never repeat across runs against the same ingress. */
  runId: string;
}

const spec = JSON.parse(process.argv[2]!) as Spec;
const target = new URL(spec.url);
const POOL = 40_000;

/** A unique, realistic body and its headers for request `i`. */
function build(i: number): { body: Buffer; headers: Record<string, string> } {
  if (spec.kind === "whatsapp") {
    const id = `wamid.BENCH_${spec.runId}_${i}`;
    // Meta signs "an escaped unicode version of the payload": non-ASCII arrives as \uXXXX.
    const raw = JSON.stringify({
      object: "whatsapp_business_account",
      entry: [
        {
          id: "102290129340398",
          changes: [
            {
              field: "messages",
              value: {
                messaging_product: "whatsapp",
                metadata: { display_phone_number: "15550783881", phone_number_id: "106540352242922" },
                contacts: [{ profile: { name: "Bench User" }, wa_id: "16505551234" }],
                messages: [
                  { from: "16505551234", id, timestamp: "1763712000", type: "text", text: { body: `load test message ${i} café` } },
                ],
              },
            },
          ],
        },
      ],
    }).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
    const body = Buffer.from(raw);
    const sig = `sha256=${crypto.createHmac("sha256", spec.secret).update(body).digest("hex")}`;
    return { body, headers: { "content-type": "application/json", "x-hub-signature-256": sig } };
  }
  const update = {
    update_id: 100_000_000 + i,
    message: {
      message_id: i + 1,
      from: { id: 4242, is_bot: false, first_name: "Ana", username: "ana" },
      chat: { id: 4242, first_name: "Ana", username: "ana", type: "private" },
      date: 1763712000,
      text: `load test message ${i} ${spec.runId}`,
    },
  };
  const body = Buffer.from(JSON.stringify(update));
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (spec.kind === "telegram") headers["x-telegram-bot-api-secret-token"] = spec.secret;
  return { body, headers };
}

const pool = Array.from({ length: POOL }, (_, i) => build(i));
const agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency });
let next = 0;

function once(): Promise<number> {
  const { body, headers } = pool[next++ % POOL]!;
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        agent,
        headers: { ...headers, "content-length": String(body.length) },
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - t0) / 1e6) : reject(new Error(`status ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

let sent = 0;
async function run(ms: number, record: number[] | null): Promise<number> {
  const end = Date.now() + ms;
  let errors = 0;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      while (Date.now() < end) {
        try {
          const ms = await once();
          sent += 1;
          record?.push(ms);
        } catch {
          errors += 1;
        }
      }
    }),
  );
  return errors;
}

await run(spec.warmupMs, null);
const latencies: number[] = [];
const t0 = Date.now();
const errors = await run(spec.durationMs, latencies);
const elapsed = Date.now() - t0;
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
agent.destroy();
process.stdout.write(
  JSON.stringify({
    count: latencies.length,
    total: sent,
    errors,
    elapsed_ms: elapsed,
    rps: (latencies.length * 1000) / elapsed,
    p50_ms: pct(50),
    p99_ms: pct(99),
  }) + "\n",
);
