/**
 * @module Core benchmarks, one measurement per process (so peak RSS is the measurement's own):
 *   runner   — 100,000 mixed events end to end (parse, dedupe, decide, dry-run outbox, cursor commit) with the
 *              real policies and with the permissive placeholder policy, plus a parse+validate-only pass over the
 *              same file in the same run (the ratio survives a noisy machine)
 *   ingest   — durable events/s from 8 concurrent writers, and events per fsync
 *   policy   — one policy + routing decision with 10,000 allowlist entries and 1,000 bindings: p50/p99
 * Usage: tsx scripts/bench-core.ts <prepare-runner DIR VARIANT|run-runner DIR VARIANT|ingest|policy> → one JSON line.
 */
import fs from "node:fs";
import readline from "node:readline";
import os from "node:os";
import path from "node:path";
import type { Envelope } from "../src/contracts/envelope.ts";
import { EnvelopeSchema } from "../src/contracts/envelope.ts";
import { createIngressWriter } from "../src/ingress/writer.ts";
import { createAppRunner, openApp, openIngressWriter, createRequestBuilders } from "../src/app/index.ts";
import { createLogger } from "../src/log.ts";
import { createRunner, type Runner } from "../src/runner/runner.ts";
import { createDelivery } from "../src/outbound/deliver.ts";
import { buildPipeline } from "../src/router/pipeline.ts";
import { createDedupeStage } from "../src/router/stages/dedupe.ts";
import { createSelfBotFilterStage } from "../src/router/stages/self-bot-filter.ts";
import { createEventKindStage } from "../src/router/stages/event-kind.ts";
import { createDefaultRouteStage, createPlaceholderPolicyStage } from "./bench-placeholder-stages.ts";
import { createResponderStage } from "../src/router/stages/responder.ts";
import { builtinResponders } from "../src/responders/index.ts";
import { compileRouteBindings, decideAccess, decideChannelPolicy, resolveChannelRule, resolveRoute } from "../src/policy/index.ts";
import { ChannelPolicyFileSchema, RouteBindingsFileSchema } from "../src/contracts/policy.ts";
import { acquireLifetimeLock } from "../src/store/index.ts";

/**
 * Store and ingress settings from the environment (TAU_STORE_*, TAU_DATABASE_URL, TAU_INGRESS_*), so the same code
 * measures SQLite + files and PostgreSQL / JetStream (`npm run bench -- cluster`); none set = SQLite + files.
 */
const BENCH_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([k, v]) => v !== undefined && /^TAU_(STORE_|INGRESS_|DATABASE_URL$)/.test(k)),
) as Record<string, string>;

const IDENTITY_YAML = `identity:
  telegram: { bot_id: "6112", username: "tau_ops_bot" }
  discord: { user_id: "1100000000000000001", application_id: "1100000000000000001" }
  whatsapp: { phone_number_id: "106540352242922" }
`;

/** A bench home in `dir`; writes the files when `policy` is given. */
function home(dir: string, policy: string | null): { dir: string; stateDir: string; config: string } {
  const config = path.join(dir, "tau.yaml");
  if (policy !== null) {
    fs.mkdirSync(path.join(dir, "policies"), { recursive: true });
    fs.writeFileSync(path.join(dir, "policies", "channel-policy.yaml"), policy);
    fs.writeFileSync(
      config,
      `schema_version: 1\nlog: { level: silent }\n${IDENTITY_YAML}runner: { coalesce_window_ms: 0, rotate_min_bytes: 0 }\n`,
    );
  }
  return { dir, stateDir: path.join(dir, "state"), config };
}

/** 100k mixed events: DMs, group mentions and non-mentions, edits, receipts, bots, 5% redeliveries. */
function mixedEvents(from: number, to: number): Envelope[] {
  const out: Envelope[] = [];
  const base = 1_763_712_000_000;
  for (let i = from; i < to; i++) {
    const r = i % 20;
    const dup = r === 19 && i > 20;
    const id = dup ? i - 17 : i;
    const actor = String(100_000 + (id % 5000));
    const kind = r === 7 ? "edit" : r === 11 ? "status" : "message";
    const group = r % 3 === 0;
    out.push({
      v: 1,
      event_id: `telegram:6112:u:${id}`,
      transport: "telegram",
      provider: "telegram-bot-api",
      account_id: "6112",
      kind,
      conversation_id: group ? "-1001234567890" : actor,
      thread_id: null,
      chat_type: group ? "group" : "dm",
      actor: { id: actor, display: `user${actor}`, is_bot: r === 13 },
      mentions_bot: !group || r % 2 === 0,
      text: r === 5 ? "/tau whoami" : `message ${id} about the deploy`,
      attachments: [],
      reply_to: null,
      forwarded: false,
      occurred_at_ms: base + id * 10,
      received_at_ms: base + id * 10 + 5,
      meta: { update_id: id, message_id: id },
    } as Envelope);
  }
  return out;
}

const OPEN_POLICY = "schema_version: 1\ndefaultPolicy: { dmPolicy: allow, allowFrom: any, groupPolicy: allow, requireMention: false }\n";
const REAL_POLICY = `schema_version: 1
defaultPolicy: { dmPolicy: allow, allowFrom: allowlist_or_pairing, groupPolicy: allow, requireMention: true }
`;

/** Write the mixed events into a fresh home's ingress (in its own process, so the runner's RSS is its own). */
async function prepareRunner(dir: string, variant: string): Promise<Record<string, unknown>> {
  const N = Number(process.env.BENCH_EVENTS ?? 100_000);
  const h = home(dir, variant === "real_policies" ? REAL_POLICY : OPEN_POLICY);
  const app = openApp({
    stateDir: h.stateDir,
    configPath: h.config,
    env: BENCH_ENV,
    logger: createLogger({ level: "silent", includeIdentifiers: false }),
  });
  // Allowlist the 5,000 actors so real policies admit them (the realistic steady state).
  app.store.atomically(() => {
    for (let a = 0; a < 5000; a++) {
      const id = String(100_000 + a);
      app.store.access.addAllowlist({
        actor_key: `telegram:${id}`,
        transport: "telegram",
        actor_id: id,
        note: "",
        added_by: "bench",
        added_at_ms: 0,
      });
    }
  });
  const w = openIngressWriter(app, true);
  for (let i = 0; i < N; i += 5000) await w.append("telegram", mixedEvents(i, Math.min(N, i + 5000)));
  await w.close();
  app.close();
  return { prepared: N };
}

/** Parse + validate only over the ingress file, then the runner end to end over the same file, in this process. */
async function runRunner(dir: string, variant: string): Promise<Record<string, unknown>> {
  const h = home(dir, null);
  const app = openApp({
    stateDir: h.stateDir,
    configPath: h.config,
    env: BENCH_ENV,
    logger: createLogger({ level: "silent", includeIdentifiers: false }),
  });
  const file = path.join(h.stateDir, "ingress", "telegram.ndjson");
  const t0 = performance.now();
  let ok = 0;
  if (app.config.ingress.driver === "files") {
    // (on JetStream there is no file to parse: the parse-only figures come out NaN → null)
    const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
    for await (const line of rl) if (line && EnvelopeSchema.safeParse(JSON.parse(line)).success) ok++;
  }
  const parseMs = performance.now() - t0;
  let runner: Runner;
  let close: () => void;
  if (variant === "real_policies") {
    const r = createAppRunner(app);
    runner = r.runner;
    close = r.close;
  } else {
    const lock = acquireLifetimeLock(path.join(app.stateDir, "runner.lock"), "bench runner");
    const store = app.store;
    const rr = createRunner({
      config: app.config,
      stateDir: app.stateDir,
      store,
      clock: app.clock,
      logger: app.logger,
      delivery: createDelivery({
        store,
        senders: createRequestBuilders(app.config),
        dryRunFile: path.join(app.stateDir, "outbox", "dry-run.ndjson"),
        clock: app.clock,
      }),
      buildPipeline: (seen) =>
        buildPipeline({
          dedupe: createDedupeStage(seen),
          selfBot: createSelfBotFilterStage(app.config.identity, new Set()),
          kind: createEventKindStage(),
          policy: [createPlaceholderPolicyStage()],
          route: createDefaultRouteStage(),
          dispatch: createResponderStage({
            responders: builtinResponders(),
            coalesceWindowMs: 0,
            lastResponderAt: () => undefined,
            markResponder: () => undefined,
          }),
        }),
    });
    runner = rr;
    close = () => {
      rr.close();
      lock.release();
    };
  }
  const t1 = performance.now();
  const reports = await runner.drain();
  const runMs = performance.now() - t1;
  close();
  app.close();
  const processed = reports.reduce((a, r) => a + r.processed + r.duplicates, 0);
  return {
    variant,
    events_per_s: Math.round((processed / runMs) * 1000),
    parse_validate_only_per_s: Math.round((ok / parseMs) * 1000),
    ratio_to_parse_only: Number((processed / runMs / (ok / parseMs)).toFixed(3)),
    processed,
    replies: reports.reduce((a, r) => a + r.replies, 0),
    duplicates: reports.reduce((a, r) => a + r.duplicates, 0),
    ms: Math.round(runMs),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

async function benchIngest(): Promise<Record<string, unknown>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-bench-ingest-"));
  const w = createIngressWriter({ ingressDir: path.join(dir, "ingress"), maxLineBytes: 1 << 20, trustEnvelopes: false });
  const N = Number(process.env.BENCH_INGEST ?? 40_000);
  const events = mixedEvents(0, N);
  const WRITERS = 8;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, k) => {
      // Each writer appends one event at a time and waits for durability, like a webhook handler.
      for (let i = k; i < N; i += WRITERS) await w.append("telegram", [events[i]!]);
    }),
  );
  const ms = performance.now() - t0;
  const stats = w.stats();
  await w.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    writers: WRITERS,
    events: N,
    durable_events_per_s: Math.round((N / ms) * 1000),
    fsyncs: stats.fsyncs,
    events_per_fsync: Number((N / stats.fsyncs).toFixed(1)),
    ms: Math.round(ms),
  };
}

function benchPolicy(): Record<string, unknown> {
  const channel = ChannelPolicyFileSchema.parse({
    schema_version: 1,
    defaultPolicy: { dmPolicy: "allow", allowFrom: "allowlist_or_pairing", groupPolicy: "allow", requireMention: true },
    channels: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`telegram:-100${i}`, { requireMention: false }])),
  });
  const bindings = RouteBindingsFileSchema.parse({
    schema_version: 1,
    bindings: Array.from({ length: 1000 }, (_, i) => ({
      binding_id: `b${i}`,
      transport: "telegram",
      conversation_id: i % 2 ? `-100${i}` : "*",
      actor_id: i % 3 ? String(100_000 + i) : "*",
      account_id: "*",
    })),
  });
  const routes = compileRouteBindings(bindings.bindings);
  const allow = new Set(Array.from({ length: 10_000 }, (_, i) => `telegram:${100_000 + i}`));
  const events = mixedEvents(0, 20_000).filter((e) => e.kind === "message");
  const samples: number[] = [];
  let sink = 0;
  for (let round = 0; round < 3; round++) {
    for (const env of events) {
      const t = process.hrtime.bigint();
      const d = decideChannelPolicy(env, channel);
      const { rule } = resolveChannelRule(channel, env.transport, env.conversation_id);
      const key = `${env.transport}:${env.actor.id}`;
      const a = decideAccess({ env, rule, allowlisted: allow.has(key), paired: false });
      const r = resolveRoute(routes, env, { isCommand: false, role: "operator" });
      samples.push(Number(process.hrtime.bigint() - t));
      sink += d.reason.length + a.reason.length + r.session_key.length;
    }
  }
  samples.sort((x, y) => x - y);
  const q = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]! / 1000;
  return {
    decisions: samples.length,
    allowlist: allow.size,
    bindings: 1000,
    p50_us: Number(q(0.5).toFixed(2)),
    p99_us: Number(q(0.99).toFixed(2)),
    max_us: Number(q(1).toFixed(1)),
    sink: sink > 0,
  };
}

const [mode, dir, variant] = process.argv.slice(2);
const out =
  mode === "prepare-runner"
    ? await prepareRunner(dir!, variant!)
    : mode === "run-runner"
      ? await runRunner(dir!, variant!)
      : mode === "ingest"
        ? await benchIngest()
        : mode === "policy"
          ? benchPolicy()
          : null;
if (!out) {
  process.stderr.write(
    "usage: bench-core.ts prepare-runner <dir> <placeholder|real_policies> | run-runner <dir> <variant> | ingest | policy\n",
  );
  process.exit(2);
}
process.stdout.write(JSON.stringify({ bench: mode, ...out }) + "\n");
