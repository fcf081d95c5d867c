/**
 * @module Run a scenario through the whole pipeline in an isolated temporary state: ingest → runner → outbox
 * (dry-run by default), with a fixed clock and seeded randomness, and return a deterministic summary of every
 * decision and reply.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Envelope } from "../contracts/envelope.ts";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { loadYamlFile } from "../config/index.ts";
import { ingestPayload, ingressFile } from "../ingress/index.ts";
import { createAppRunner, normalizerFor, openApp, openIngressWriter } from "../app/index.ts";
import { createLogger } from "../log.ts";
import { expandTg, ScenarioSchema, type Scenario } from "./scenario.ts";

interface EventSummary {
  event_id: string;
  transport: string;
  chat_type: string;
  actor: string;
  text: string;
  outcome: string;
  reason: string;
  decisions: string[];
  route: string | null;
}

interface ReplySummary {
  event_id: string | null;
  outbox_id: string;
  purpose: string;
  status: string;
  reason: string | null;
  chunks: number;
  text: string;
  requests: { method: string; url: string; body: unknown }[];
  /** In dry-run, the request a responder would have sent to its model or webhook to produce this reply (not sent). */
  responder_request?: { responder: string; method: string; url: string; body: unknown };
}

type StepResult =
  | { step: number; kind: "say"; text: string }
  | { step: number; kind: "ingest"; transport: string; accepted: number; event_ids: string[]; refused: string[]; ignored: string[] }
  | { step: number; kind: "process"; events: EventSummary[]; replies: ReplySummary[]; quarantined: number; duplicates: number }
  | { step: number; kind: "operator"; capability: string; principal: string; status: string; reason_code: string; text: string };

export interface ReplayResult {
  scenario: string;
  description: string;
  outbound: string;
  steps: StepResult[];
  totals: { events: number; replies: number; quarantined: number; duplicates: number };
}

/** A seeded byte source (mulberry32): the same scenario always gets the same pairing codes. */
export function seededBytes(seed: number): (n: number) => Uint8Array {
  let a = seed >>> 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      out[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
    }
    return out;
  };
}

const REPLAY_CONFIG = `schema_version: 1
log: { level: silent }
identity:
  telegram: { bot_id: "6112", username: "tau_ops_bot" }
  discord: { user_id: "1100000000000000001", application_id: "1100000000000000001" }
  whatsapp: { phone_number_id: "106540352242922" }
  email: { account_id: ops }
`;

function loadScenario(file: string): Scenario {
  return loadYamlFile(file, ScenarioSchema);
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      prev && v && typeof prev === "object" && typeof v === "object" && !Array.isArray(v)
        ? deepMerge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

function expand(s: string, vars: Record<string, string>): string {
  return s.replace(/\{\{(\w+)\}\}/g, (_, k: string) => vars[k] ?? `{{${k}}}`);
}

/** Replay `file` in a temp state; the state is deleted afterwards unless `keepState`. */
export async function runScenario(
  file: string,
  opts: { outbound?: "dry-run" | "channel-store"; keepState?: string } = {},
): Promise<ReplayResult> {
  const scenario = loadScenario(file);
  const baseDir = path.dirname(path.resolve(file));
  const home = opts.keepState ?? fs.mkdtempSync(path.join(os.tmpdir(), "tau-replay-"));
  fs.mkdirSync(path.join(home, "policies"), { recursive: true });
  const outbound = opts.outbound ?? "dry-run";
  const base = parseYaml(`${REPLAY_CONFIG}outbound: { mode: ${outbound} }\n`) as Record<string, unknown>;
  const extra = (parseYaml(scenario.config || "{}") ?? {}) as Record<string, unknown>;
  fs.writeFileSync(path.join(home, "tau.yaml"), stringifyYaml(deepMerge(base, extra)));
  for (const [name, text] of Object.entries(scenario.policies)) fs.writeFileSync(path.join(home, "policies", name), text);
  let now = scenario.start_ms;
  const app = openApp({
    stateDir: path.join(home, "state"),
    configPath: path.join(home, "tau.yaml"),
    env: {},
    clock: () => now,
    randomBytes: seededBytes(0x7a0),
    logger: createLogger({ level: "silent", includeIdentifiers: false }),
  });
  const steps: StepResult[] = [];
  const totals = { events: 0, replies: 0, quarantined: 0, duplicates: 0 };
  const { runner, services, close } = createAppRunner(app);
  try {
    for (const a of scenario.allowlist) {
      const [transport, ...rest] = a.split(":");
      services.store.access.addAllowlist({
        actor_key: a,
        transport: transport!,
        actor_id: rest.join(":"),
        note: "scenario",
        added_by: "scenario",
        added_at_ms: now,
      });
    }
    const writer = openIngressWriter(app);
    const commands = app.store.commands;
    // The most recent approval and pairing code, for {{approval_id}}, {{approval_hash}}, {{pairing_code}}.
    const currentVars = () => {
      const approval = commands.listApprovals()[0];
      const code = services.store.access.listPairings().find((p) => p.status === "pending")?.code ?? "";
      // The latest approval prompt's buttons, for presses (`{{approve_button}}`, `{{deny_button}}`).
      const buttons = approval ? app.store.buttons.forTarget(approval.id) : [];
      return {
        pairing_code: code,
        approval_id: approval?.id ?? "",
        approval_hash: approval?.args_hash.slice(0, 8) ?? "",
        approve_button: buttons.find((b) => b.action === "approve")?.token ?? "",
        deny_button: buttons.find((b) => b.action === "deny")?.token ?? "",
      };
    };
    let lastSeq = 0;
    let lastOutbox = 0;
    for (const [i, step] of scenario.steps.entries()) {
      const n = i + 1;
      now += step.advance_ms ?? 1000;
      if (step.say) steps.push({ step: n, kind: "say", text: step.say });
      const vars = currentVars();
      if (step.tg || step.ingest) {
        const transport = step.tg ? "telegram" : step.ingest!.transport;
        if (step.ingest?.raw_line !== undefined) {
          fs.mkdirSync(path.join(app.stateDir, "ingress"), { recursive: true });
          fs.appendFileSync(ingressFile(path.join(app.stateDir, "ingress"), transport), step.ingest.raw_line + "\n");
          steps.push({
            step: n,
            kind: "ingest",
            transport,
            accepted: 0,
            event_ids: [],
            refused: [],
            ignored: ["raw line written to ingress as-is"],
          });
        } else {
          const payload = step.tg
            ? expandTg({ ...step.tg, text: expand(step.tg.text, vars) }, now)
            : step.ingest!.file
              ? JSON.parse(expand(fs.readFileSync(path.join(baseDir, step.ingest!.file), "utf8"), vars))
              : JSON.parse(expand(JSON.stringify(step.ingest!.payload ?? null), vars));
          const report = await ingestPayload({
            bytes: Buffer.from(JSON.stringify(payload)),
            transport,
            normalize: normalizerFor(transport)!,
            ctx: { identity: app.config.identity, receivedAtMs: now },
            writer,
            maxLineBytes: app.config.ingress.max_line_bytes,
          });
          steps.push({
            step: n,
            kind: "ingest",
            transport,
            accepted: report.accepted,
            event_ids: report.event_ids,
            refused: report.refused.map((r) => `${r.code}: ${r.detail}`),
            ignored: report.ignored.map((r) => r.code),
          });
        }
      }
      if (step.process) {
        const reports = await runner.drain();
        const events = app.store.inspect.tracesAfter(lastSeq).map((r) => {
          lastSeq = r.seq;
          const route = r.route ? (JSON.parse(r.route) as { binding_id: string | null; session_key: string; phase: string }) : null;
          return {
            event_id: r.event_id,
            transport: r.transport,
            chat_type: r.chat_type,
            actor: r.actor_id ?? "(none)",
            text: "",
            outcome: r.outcome,
            reason: r.reason,
            decisions: (JSON.parse(r.decisions) as { stage: string; reason: string }[]).map((d) => `${d.stage}:${d.reason}`),
            route: route ? `${route.binding_id ?? "default"} → ${route.phase}, session ${route.session_key}` : null,
          };
        });
        const texts = readIngressTexts(app.stateDir);
        for (const e of events) e.text = texts.get(e.event_id) ?? "";
        const { receipts, responderRequests } = readDryRun(path.join(app.stateDir, "outbox", "dry-run.ndjson"));
        const replies = app.store.inspect.repliesAfter(lastOutbox).map((r) => {
          lastOutbox = r.id;
          const chunks = app.store.outbox.chunksOf(r.outbox_id);
          return {
            event_id: r.event_id,
            outbox_id: r.outbox_id,
            purpose: r.purpose,
            status: r.status,
            reason: r.reason,
            chunks: r.chunk_count,
            text: chunks.map((c) => c.body).join("\n"),
            requests: receipts.get(r.outbox_id) ?? [],
            ...(responderRequests.has(r.outbox_id) ? { responder_request: responderRequests.get(r.outbox_id)! } : {}),
          };
        });
        const quarantined = reports.reduce((a, r) => a + r.quarantined, 0);
        const duplicates = reports.reduce((a, r) => a + r.duplicates, 0);
        totals.events += events.length;
        totals.replies += replies.length;
        totals.quarantined += quarantined;
        totals.duplicates += duplicates;
        steps.push({ step: n, kind: "process", events, replies, quarantined, duplicates });
      }
      if (step.operator) {
        const cap = services.registry.get(step.operator.capability);
        if (!cap) throw new Error(`${file}: step ${n}: unknown capability ${step.operator.capability}`);
        const args = Object.fromEntries(Object.entries(step.operator.args).map(([k, v]) => [k, expand(v, vars)]));
        const parsed = cap.args.parse(args) as Record<string, unknown>;
        const surface = step.operator.principal.startsWith("cli:") ? "cli" : "chat";
        const result = await cap.run(parsed, {
          principal: step.operator.principal,
          role: step.operator.role,
          surface,
          now,
          services,
          origin: null,
        });
        services.audit({
          actor: step.operator.principal,
          surface,
          action: "command",
          target: cap.id,
          args: parsed,
          outcome: result.status,
          reason_code: result.reason_code,
        });
        steps.push({
          step: n,
          kind: "operator",
          capability: cap.id,
          principal: step.operator.principal,
          status: result.status,
          reason_code: result.reason_code,
          text: result.text,
        });
      }
    }
    await writer.close();
  } finally {
    close();
    app.close();
    if (!opts.keepState) fs.rmSync(home, { recursive: true, force: true });
  }
  return { scenario: scenario.name, description: scenario.description, outbound, steps, totals };
}

function readIngressTexts(stateDir: string): Map<string, string> {
  const out = new Map<string, string>();
  const dirs = [path.join(stateDir, "ingress"), path.join(stateDir, "ingress", "archive")];
  for (const dir of dirs) {
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith(".ndjson"))) {
      for (const line of fs.readFileSync(path.join(dir, f), "utf8").split("\n")) {
        try {
          const e = JSON.parse(line) as Envelope;
          if (e.event_id) out.set(e.event_id, e.text.length > 160 ? `${e.text.slice(0, 157)}…` : e.text);
        } catch {
          // malformed lines are the quarantine's business
        }
      }
    }
  }
  return out;
}

/** Dry-run receipts by outbox id, and the responder requests (model or webhook) recorded with the replies they made. */
function readDryRun(file: string) {
  const receipts = new Map<string, { method: string; url: string; body: unknown }[]>();
  const responderRequests = new Map<string, { responder: string; method: string; url: string; body: unknown }>();
  if (!fs.existsSync(file)) return { receipts, responderRequests };
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line) continue;
    const r = JSON.parse(line) as {
      outbox_id: string;
      kind?: string;
      responder?: string;
      request: { method: string; url: string; body: unknown };
    };
    if (r.kind === "responder_request") {
      responderRequests.set(r.outbox_id, {
        responder: r.responder ?? "",
        method: r.request.method,
        url: r.request.url,
        body: r.request.body,
      });
      continue;
    }
    const list = receipts.get(r.outbox_id) ?? [];
    list.push({ method: r.request.method, url: r.request.url, body: r.request.body });
    receipts.set(r.outbox_id, list);
  }
  return { receipts, responderRequests };
}
