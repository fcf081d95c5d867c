/**
 * @module `npm run bench`: every benchmark, each in its own process, numbers printed (and recorded by hand in
 * BENCHMARKS.md with this command). Bounded: each part stops by itself. No network but loopback.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FaultBenchResult } from "./bench-faults.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const want = (name: string) => only.length === 0 || only.includes(name);

/** Node flags tau itself runs with (bin/tau.js, `npm run tau`), so the runner is measured as it ships. */
const TAU_NODE_FLAGS = ["--max-semi-space-size=4"];

function tsx(script: string, args: string[], inherit = false): string {
  const r = spawnSync(process.execPath, [...TAU_NODE_FLAGS, "--import", "tsx", path.join(here, script), ...args], {
    encoding: "utf8",
    stdio: inherit ? "inherit" : ["ignore", "pipe", "inherit"],
    timeout: 15 * 60_000,
    env: { ...process.env, TAU_LOG_LEVEL: "silent" },
  });
  if (r.status !== 0) throw new Error(`${script} ${args.join(" ")} exited ${r.status}`);
  return r.stdout ?? "";
}
const json = (s: string) => JSON.parse(s.trim().split("\n").at(-1)!) as Record<string, unknown>;

console.log(`tau benchmarks — ${os.cpus()[0]?.model ?? "cpu"} × ${os.cpus().length}, node ${process.version}, ${new Date().toISOString()}`);

if (want("runner")) {
  // Interleaved rounds (placeholder, real, real, placeholder, …), each variant keeping its best rate and its worst
  // peak RSS: on a shared machine one slow moment must not land on one variant only and decide the ratio.
  const ROUNDS = 2;
  const res: Record<string, Record<string, unknown>> = {};
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ["placeholder", "real_policies"] : ["real_policies", "placeholder"];
    for (const variant of order) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-bench-runner-"));
      try {
        tsx("bench-core.ts", ["prepare-runner", dir, variant]);
        const r = json(tsx("bench-core.ts", ["run-runner", dir, variant]));
        const prev = res[variant];
        const rss = Math.max(r.peak_rss_mb as number, (prev?.peak_rss_mb as number | undefined) ?? 0);
        res[variant] =
          !prev || (r.events_per_s as number) > (prev.events_per_s as number) ? { ...r, peak_rss_mb: rss } : { ...prev, peak_rss_mb: rss };
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  const p = res.placeholder!;
  const r = res.real_policies!;
  console.log(
    `\nrunner: 100,000 mixed events end to end (parse, dedupe, decide, dry-run outbox, cursor commit); best of ${ROUNDS} interleaved runs, worst RSS`,
  );
  console.log("variant         events/s  parse+validate-only/s  ratio  replies  peak RSS");
  for (const [k, v] of Object.entries(res))
    console.log(
      `${k.padEnd(15)} ${String(v.events_per_s).padStart(8)}  ${String(v.parse_validate_only_per_s).padStart(21)}  ${String(v.ratio_to_parse_only).padStart(5)}  ${String(v.replies).padStart(7)}  ${v.peak_rss_mb} MB`,
    );
  console.log(
    `real policies / placeholder: ${((r.events_per_s as number) / (p.events_per_s as number)).toFixed(3)}   (targets: ≥ 20,000 events/s, RSS < 200 MB, real within 10%)`,
  );
}

if (want("ingest")) {
  const i = json(tsx("bench-core.ts", ["ingest"]));
  console.log(
    `\ningest writer: ${i.durable_events_per_s} durable events/s from ${i.writers} concurrent writers, ${i.events_per_fsync} events per fsync (${i.fsyncs} fsyncs)   (target ≥ 20,000/s)`,
  );
}

if (want("ingest-file")) {
  // `tau ingest` of a 200 MB NDJSON file in a child, against a one-line file: throughput and peak RSS of each.
  const f = json(tsx("bench-ingest-file.ts", ["--mb", "200"]));
  console.log(
    `\ningest file: ${f.file_mb} MB NDJSON (${f.accepted} events) in ${f.events_per_s} events/s, ${f.mb_per_s} MB/s; peak RSS ${f.peak_rss_mb} MB (one-line file: ${f.baseline_peak_rss_mb} MB)   (target ≤ 100 MB for 1 GB)`,
  );
}

if (want("policy")) {
  const p = json(tsx("bench-core.ts", ["policy"]));
  console.log(
    `\npolicy + routing decision (${p.allowlist} allowlist entries, ${p.bindings} bindings): p50 ${p.p50_us} µs, p99 ${p.p99_us} µs   (target p99 < 50 µs)`,
  );
}

if (want("outbox-insert")) {
  const o = json(tsx("bench-outbox-insert.ts", []));
  console.log(
    `\noutbox insert (80,000 replies, commits included, best of 3 interleaved): partial index conditions as IN lists ${o.in_lists_us} µs, as OR-ed equalities (migration 019) ${o.or_equalities_us} µs — ratio ${o.ratio}`,
  );
}

if (want("startup")) {
  // Start-up of the packed CLI (compiled dist/, runtime dependencies only) against `node -e 0`, in one run.
  const s = json(tsx("bench-startup.ts", []));
  const c = s.commands as Record<string, { median_ms: number; ratio: number }>;
  console.log(`\nstartup (median of ${s.rounds} rounds, ratio to node -e 0 at ${c["node -e 0"]!.median_ms} ms):`);
  for (const name of ["tau --version", "tau --help", "tau health"])
    console.log(`  ${name.padEnd(14)} ${String(c[name]!.median_ms).padStart(7)} ms  ${c[name]!.ratio.toFixed(2)}×   (target ≤ 3×)`);
}

if (want("faults")) {
  // Delivery under provider faults: 300 replies per provider through the real senders against the local servers, under a seeded fault mix.
  const f = json(tsx("bench-faults.ts", ["--replies", "300", "--seed", "14"]));
  console.log(
    "\nfaults: 300 replies per provider, provider mode, seed 14; per send 20% 429 (retry after 1 s), 10% HTML 502, 4.5% dropped after processing",
  );
  console.log("provider   calls  duplicates  stranded-safe  unknown (with evidence)  verdict");
  for (const r of f.results as FaultBenchResult[]) {
    const ok =
      r.duplicates_delivered === 0 && r.stranded_safe_failures === 0 && r.unknown === r.unknown_with_evidence && r.sent_but_missing === 0;
    console.log(
      `${r.provider.padEnd(9)} ${String(r.calls).padStart(6)} ${String(r.duplicates_delivered).padStart(11)} ${String(r.stranded_safe_failures).padStart(14)} ${`${r.unknown} (${r.unknown_with_evidence})`.padStart(24)}  ${ok ? "pass" : "FAIL"}`,
    );
  }
  console.log("targets: duplicates 0, stranded safe failures 0, every unknown reply with its evidence");
}

if (want("pacing")) {
  // Outbound pacing against the local Bot API server enforcing Telegram's flood limits (1,000 chats real time; one group time-scaled ×10).
  console.log(
    "\npacing: provider mode, paced grammY sender vs a Bot API server refusing over 1/s per chat, 20/min per group, 30/s per bot",
  );
  tsx("bench-pacing.ts", ["--scale", "10"], true);
}

for (const [name, script] of [
  ["webhook", "bench-webhook.ts"],
  ["e2e", "bench-e2e.ts"],
  ["comms", "bench-comms.ts"],
  ["mail", "bench-mail.ts"],
  ["responders", "bench-responders.ts"],
  ["media", "bench-media.ts"],
  ["calendar", "bench-calendar.ts"],
  ["ingress-nats", "bench-ingress-nats.ts"],
] as const) {
  if (!want(name) || !fs.existsSync(path.join(here, script))) continue;
  console.log(`\n${name}: ${script}`);
  tsx(script, [], true);
}

if (want("cluster")) {
  // The cost of distribution (issue 15), in one run: durable webhook acks/s JetStream vs files, runner events/s
  // PostgreSQL vs SQLite (BENCH_EVENTS lowers the 100,000 for both), e2e p99 at 200/s for both setups. Needs the
  // Debian packages postgresql and nats-server; both servers run on loopback, PostgreSQL as shipped (fsync on).
  console.log("\ncluster: bench-cluster.ts");
  tsx("bench-cluster.ts", [], true);
}
