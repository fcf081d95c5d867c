/**
 * @module `tau route inspect <file>`: every decision the pipeline would take for an event (or raw payload), with
 * no side effects — the real pipeline runs inside a transaction that is always rolled back.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { TRANSPORTS, type Envelope, type Transport } from "../contracts/envelope.ts";
import { TauError } from "../contracts/errors.ts";
import { readProcessEnv } from "../config/index.ts";
import { splitPayload, validateEnvelope } from "../ingress/index.ts";
import { createDecisionPipeline, createServices, normalizerFor, openApp } from "../app/index.ts";
import { createContext, type EventContext } from "../router/context.ts";
import { stateDatabaseFiles } from "../store/inspect-store.ts";
import { globals } from "./context.ts";
import { oneOf, requireInputFile } from "./options.ts";
import { emit } from "./output.ts";

/** Envelopes from a file of envelopes or raw provider payloads. */
function envelopesFrom(
  bytes: Buffer,
  transport: Transport | null,
  ctx: { identity: Parameters<NonNullable<ReturnType<typeof normalizerFor>>>[1]["identity"]; now: number },
): { envelopes: Envelope[]; refused: string[] } {
  const envelopes: Envelope[] = [];
  const refused: string[] = [];
  for (const item of splitPayload(bytes, 16 * 1024 * 1024)) {
    if (!item.ok) {
      refused.push(`line ${item.line}: ${item.code} ${item.detail}`);
      continue;
    }
    const v = item.value as Record<string, unknown>;
    if (v && typeof v === "object" && "v" in v) {
      const r = validateEnvelope(v, transport);
      if (r.ok) envelopes.push(r.envelope);
      else refused.push(`item ${item.item}: ${r.code} ${r.detail}`);
      continue;
    }
    if (!transport)
      throw new TauError("USAGE_TRANSPORT_REQUIRED", "raw provider payloads need --transport", {
        hint: "pass --transport telegram|discord|whatsapp",
      });
    const normalize = normalizerFor(transport);
    if (!normalize) throw new TauError("USAGE_TRANSPORT_NOT_INGESTIBLE", `${transport} has no file normalizer`);
    const r = normalize(item.value, { identity: ctx.identity, receivedAtMs: ctx.now });
    if (r.ok) envelopes.push(...r.envelopes);
    else refused.push(`item ${item.item}: ${r.code} ${r.detail}`);
  }
  return { envelopes, refused };
}

export function registerRoute(program: Command): void {
  program
    .command("route")
    .description("routing tools")
    .command("inspect")
    .description("show every decision for an event or raw payload, with no side effects")
    .argument("<file>", "an envelope (or NDJSON of them), or a raw payload with --transport")
    .option("--transport <t>", `transport of a raw payload: ${TRANSPORTS.join(" | ")}`, oneOf(TRANSPORTS))
    .option("--json", "one JSON object: { events, refused }")
    .action((file: string, o: { transport?: Transport }, cmd: Command) => {
      const g = globals(cmd);
      const transport = o.transport ?? null;
      requireInputFile(file, "route inspect:");
      const bytes = fs.readFileSync(file);
      const exists = fs.existsSync(stateDatabaseFiles(g.stateDir)[0]!);
      const stateDir = exists ? g.stateDir : fs.mkdtempSync(path.join(os.tmpdir(), "tau-inspect-"));
      const app = openApp({ stateDir, configPath: g.config, env: readProcessEnv() });
      try {
        const { envelopes, refused } = envelopesFrom(bytes, transport, { identity: app.config.identity, now: app.clock() });
        const results: {
          event_id: string;
          outcome: string;
          reason: string;
          role: string | null;
          decisions: EventContext["decisions"];
          route: EventContext["route"];
          replies: EventContext["replies"];
          commands: string[];
        }[] = [];
        app.store.rehearse(() => {
          const services = createServices(app); // loads policies; its bookkeeping is rolled back too
          const seen = new Set<string>();
          const pipeline = createDecisionPipeline(services, (id) => seen.has(id) || app.store.runner.hasEvent(id));
          for (const env of envelopes) {
            const ctx = createContext(env, app.clock());
            pipeline(ctx);
            seen.add(env.event_id);
            results.push({
              event_id: env.event_id,
              outcome: ctx.outcome,
              reason: ctx.reason,
              role: ctx.role,
              decisions: ctx.decisions,
              route: ctx.route,
              replies: ctx.replies,
              commands: ctx.jobs.map((j) => j.capability_id),
            });
          }
        });
        emit(g.json, { events: results, refused }, () =>
          [
            ...results.flatMap((r) => [
              `${r.event_id}: ${r.outcome} (${r.reason})${r.role ? `, role ${r.role}` : ""}`,
              ...r.decisions.map(
                (d) => `  ${d.stage.padEnd(16)} ${d.outcome.padEnd(5)} ${d.reason}${d.matched_by ? ` [${d.matched_by}]` : ""}`,
              ),
              ...(r.route
                ? [
                    `  route: ${r.route.binding_id ?? "default"} (${r.route.matched_by}), phase ${r.route.phase}, session ${r.route.session_key}, responder ${r.route.responder}`,
                  ]
                : []),
              ...r.replies.map((x) => `  would reply (${x.purpose}): ${x.text.split("\n")[0]}`),
              ...r.commands.map((c) => `  would run: ${c}`),
            ]),
            ...refused.map((x) => `refused ${x}`),
          ].join("\n"),
        );
      } finally {
        app.close();
        if (!exists) fs.rmSync(stateDir, { recursive: true, force: true });
      }
    });
}
