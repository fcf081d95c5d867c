/**
 * @module Bench: `communications.delivery.anomaly.status` over a 100,000-row delivery log (target < 100 ms).
 * Reports p50/p99 of 20 runs for the whole capability (contracts load + aggregate) and for the aggregate alone.
 * Run: `tsx scripts/bench-comms.ts` (or `npm run bench`, which calls `runCommsBench`).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { anomalyReport, COMMS_SEND_CAPABILITIES, loadCommsContracts } from "../src/capabilities/communications/index.ts";
import { createRegistry, createServices, openApp } from "../src/app/index.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ROWS = 100_000;
const RUNS = 20;
const TARGET_MS = 100;
const STATUSES = ["sent", "sent", "sent", "sent", "delivered", "delivered", "failed", "policy_blocked", "timeout", "simulated"] as const;

export interface CommsBenchResult {
  name: string;
  rows: number;
  runs: number;
  capability_ms: { p50: number; p99: number; max: number };
  aggregate_ms: { p50: number; p99: number; max: number };
  target_ms: number;
  pass: boolean;
}

function quantile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
  return Math.round(sorted[Math.max(0, i)]! * 100) / 100;
}
const summary = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: Math.round(s.at(-1)! * 100) / 100 };
};

/** Seed a temp state with 100,000 deliveries in the last hour and time the anomaly status. */
export async function runCommsBench(): Promise<CommsBenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-bench-comms-"));
  try {
    fs.mkdirSync(path.join(dir, "policies", "communications"), { recursive: true });
    for (const f of fs.readdirSync(path.join(ROOT, "policies", "communications"))) {
      if (f.endsWith(".yaml"))
        fs.copyFileSync(path.join(ROOT, "policies", "communications", f), path.join(dir, "policies", "communications", f));
    }
    fs.writeFileSync(path.join(dir, "tau.yaml"), "schema_version: 1\nlog:\n  level: error\n");
    const now = Date.parse("2026-02-23T15:00:00Z");
    const app = openApp({ stateDir: path.join(dir, "state"), configPath: path.join(dir, "tau.yaml"), env: {}, clock: () => now });
    try {
      const store = app.store.comms;
      app.store.atomically(() => {
        for (let i = 0; i < ROWS; i++) {
          const at = now - 3_600_000 + Math.floor((3_600_000 * i) / ROWS);
          const sms = i % 3 === 0;
          store.insertDelivery(
            {
              delivery_id: `dl_b${i}`,
              preview_id: null,
              channel: sms ? "sms" : "email",
              provider: sms ? "twilio" : "resend",
              message_type: "transactional",
              recipient_hash: `h${i % 5000}`,
              recipient_masked: "+1***0000",
              live: 1,
              status: STATUSES[i % STATUSES.length]!,
              reason_code: "bench",
              provider_id: null,
              idempotency_key: `k${i}`,
              latency_ms: 42,
              attempts: 1,
            },
            at,
          );
        }
      });
      const services = {
        ...createServices(app, createRegistry().register(...COMMS_SEND_CAPABILITIES)),
        policiesDir: app.loaded.policiesDir,
      };
      const cap = services.registry.get("communications.delivery.anomaly.status")!;
      const cfg = loadCommsContracts(path.join(dir, "policies", "communications")).delivery.anomaly;
      const capRuns: number[] = [];
      const aggRuns: number[] = [];
      let last: unknown = null;
      for (let i = 0; i < RUNS + 2; i++) {
        const t0 = performance.now();
        last = await cap.run({}, { principal: "cli:bench", role: "admin", surface: "cli", now, services, origin: null });
        const t1 = performance.now();
        anomalyReport(store, cfg, now);
        const t2 = performance.now();
        if (i >= 2) {
          capRuns.push(t1 - t0);
          aggRuns.push(t2 - t1);
        }
      }
      const counts = (last as { data: { counts: { total: number } } }).data.counts;
      if (counts.total !== ROWS) throw new Error(`bench: expected ${ROWS} rows in the window, saw ${counts.total}`);
      const capability_ms = summary(capRuns);
      return {
        name: "comms.anomaly_status",
        rows: ROWS,
        runs: RUNS,
        capability_ms,
        aggregate_ms: summary(aggRuns),
        target_ms: TARGET_MS,
        pass: capability_ms.p99 < TARGET_MS,
      };
    } finally {
      app.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await runCommsBench();
  console.log(JSON.stringify(r));
  console.log(
    `comms anomaly status over ${r.rows} rows (${r.runs} runs): capability p50 ${r.capability_ms.p50} ms, p99 ${r.capability_ms.p99} ms; aggregate p50 ${r.aggregate_ms.p50} ms, p99 ${r.aggregate_ms.p99} ms; target < ${r.target_ms} ms: ${r.pass ? "PASS" : "FAIL"}`,
  );
  if (!r.pass) process.exitCode = 1;
}
