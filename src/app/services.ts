/** @module The services capabilities use over one open app: secrets, audit, health, outbound messages. */
import type { App } from "./open-app.ts";
import { createEmailConnectorFor } from "./email-connector.ts";
import { createRegistry } from "./registry.ts";
import { createModelClients, responderChecksFor } from "./responders.ts";
import { createHash } from "node:crypto";
import { appendAudit, type AuditEntry } from "../audit/audit-log.ts";
import { createPolicyManager, type PolicyManager } from "../config/policy-manager.ts";
import { CapabilityRegistry } from "../capabilities/registry.ts";
import type { Services } from "../capabilities/services.ts";
import { queueReplies } from "../outbound/outbox.ts";
import { SECRET_ENV, type SecretId } from "../config/index.ts";
import { computeHealth } from "../health/health.ts";
import { readHealthFacts } from "../health/health-facts.ts";
import type { HealthReport } from "../contracts/health.ts";
import { commsReplayPending } from "../capabilities/communications/replay-pending.ts";

/**
 * Health of this app — the one verdict `tau health`, `tau status`, `/healthz` and `/tau health` report: the facts in
 * the store plus live email/SMS sends waiting for a dead-letter replay.
 */
export function healthFor(app: App): HealthReport {
  return computeHealth(readHealthFacts(app, { commsReplayPending: commsReplayPending(app.store.comms, app.loaded.policiesDir) }));
}

/** A secret by integration id: the environment first (PRODUCT.md §8 names), then the integration store. */
export function lookupSecret(app: App, id: string): string | null {
  const envName = SECRET_ENV[id as SecretId];
  const fromEnv = envName ? app.env[envName] : undefined;
  if (fromEnv) return fromEnv;
  return app.store.secrets.get(id);
}

/** The services capabilities use, over one open app. */
export function createServices(app: App, registry: CapabilityRegistry = createRegistry(), policies?: PolicyManager): Services {
  const pm =
    policies ??
    createPolicyManager(app.loaded.policiesDir, { get: (k) => app.store.kv.get(k), put: (k, v) => app.store.kv.put(k, v) }, app.clock);
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
