/** @module The services capabilities use over one open app: secrets, audit, health, outbound messages. */
import type { App } from "./open-app.ts";
import { createEmailConnectorFor } from "./email-connector.ts";
import { createRegistry } from "./registry.ts";
import { loadCalendarContract } from "../capabilities/calendar/index.ts";
import { createModelClients, responderChecksFor } from "./responders.ts";
import { createHash } from "node:crypto";
import { appendAudit, type AuditEntry } from "../audit/audit-log.ts";
import { createPolicyManager, type PolicyManager } from "../config/policy-manager.ts";
import { CapabilityRegistry } from "../capabilities/registry.ts";
import type { Services } from "../capabilities/services.ts";
import { queueReplies } from "../outbound/outbox.ts";
import type { HealthView } from "../health/health.ts";
import { loadCommsContracts } from "../capabilities/communications/contracts.ts";
import { healthWith, lookupSecret } from "./health-verdict.ts";
import { nodeIdOf } from "./cluster.ts";

export { commsContractError, lookupSecret } from "./health-verdict.ts";

/**
 * Health of this app — the one verdict `tau health`, `tau status`, `/healthz`, `/readyz`, `/metrics`, `/tau health` and
 * the watchdog report: persisted facts judged with the service's recorded configuration, plus the contract and
 * responder facts worked out in src/app/health-verdict.ts (which `tau health` calls without loading this module).
 * Reads only.
 */
export function healthFor(app: App): HealthView {
  return healthWith(app, createRegistry);
}

/** The policy manager over this app's policies, its known-good snapshot covering communications contracts and tau.yaml. */
export function createPolicyManagerFor(app: App): PolicyManager {
  return createPolicyManager(
    app.loaded.policiesDir,
    { get: (k) => app.store.kv.get(k), put: (k, v) => app.store.kv.put(k, v) },
    app.clock,
    {
      features: app.config.features,
      snapshot: {
        policiesDir: app.loaded.policiesDir,
        configFile: app.loaded.file,
        features: app.config.features,
        validateComms: (dir) => {
          loadCommsContracts(dir);
          loadCalendarContract(dir);
        },
      },
      // Several nodes share a PostgreSQL store: policies live in its control documents (a reload reaches every node).
      shared: app.config.store.driver === "postgres" ? { control: app.store.control, node: nodeIdOf(app.config) } : undefined,
    },
  );
}

/** The services capabilities use, over one open app. */
export function createServices(app: App, registry: CapabilityRegistry = createRegistry(), policies?: PolicyManager): Services {
  const pm = policies ?? createPolicyManagerFor(app);
  const clients = createModelClients(app, (id) => lookupSecret(app, id));
  const services: Services = {
    config: app.config,
    stateDir: app.stateDir,
    policiesDir: app.loaded.policiesDir,
    store: app.store,
    registry,
    policies: pm,
    clock: app.clock,
    audit: (entry: AuditEntry) => void appendAudit(app.store, entry, app.clock()),
    health: () => healthFor(app),
    randomBytes: app.randomBytes,
    secret: (id) => lookupSecret(app, id),
    emailConnector: (deps, opts) => createEmailConnectorFor(app, deps, opts),
    responders: {
      checks: () => responderChecksFor(app, services),
      probe: async (name) => {
        const r = app.config.responders[name];
        if (!r) return { ok: false, reason: "responder_unknown", detail: `no responder named ${name}` };
        if (r.kind !== "llm") return { ok: true, reason: "probe_skipped", detail: `webhook ${r.url} (not probed: a POST would run it)` };
        const client = await clients(name);
        const p = await client.probe(AbortSignal.timeout(Math.min(r.timeout_ms, 10_000)));
        return p.ok
          ? { ok: true, reason: "probe_ok", detail: `${r.provider} ${p.detail}` }
          : { ok: false, reason: p.reason, detail: p.detail };
      },
    },
    queueMessage: (target, text, purpose, idempotencyKey) => {
      const id = "ob_" + createHash("sha256").update(`msg\u0000${idempotencyKey}`).digest("hex").slice(0, 24);
      app.store.atomically(() => {
        if (app.store.outbox.get(id)) return;
        queueReplies(
          app.store,
          null,
          target,
          [{ purpose, text }],
          { mode: app.config.outbound.mode, maxChars: app.config.outbound.max_chars, now: app.clock() },
          () => id,
        );
      });
      return id;
    },
  };
  return services;
}
