/** @module The services capabilities use over one open app: secrets, audit, health, outbound messages. */
import type { App } from "./open-app.ts";
import { createEmailConnectorFor } from "./email-connector.ts";
import { createRegistry } from "./registry.ts";
import { calendarHealthFact, loadCalendarContract } from "../capabilities/calendar/index.ts";
import { createModelClients, responderChecksFor } from "./responders.ts";
import { createHash } from "node:crypto";
import { appendAudit, type AuditEntry } from "../audit/audit-log.ts";
import { createPolicyManager, type PolicyManager } from "../config/policy-manager.ts";
import { CapabilityRegistry } from "../capabilities/registry.ts";
import type { Services } from "../capabilities/services.ts";
import { queueReplies } from "../outbound/outbox.ts";
import { SECRET_ENV, type SecretId } from "../config/index.ts";
import { computeHealth, type HealthView } from "../health/health.ts";
import { readHealthFacts, type ComputedFacts } from "../health/health-facts.ts";
import { commsReplayPending } from "../capabilities/communications/replay-pending.ts";
import { commsContractsDir, loadCommsContracts } from "../capabilities/communications/contracts.ts";
import { describeError, TauError } from "../contracts/errors.ts";
import { loadPolicySet, policySetFromSources } from "../config/policy-set.ts";
import { checkResponders } from "../responders/check-config.ts";
import { nodeIdOf } from "./cluster.ts";
import fs from "node:fs";
import path from "node:path";

/** Contract validity per folder, remembered while no contract file changes (every /healthz asks). */
const commsValidity = new Map<string, { stamp: string; error: string | null }>();

/** Why the communications contracts in `policiesDir` do not load, or null; re-parsed only when a file changed. */
export function commsContractError(policiesDir: string): string | null {
  const dir = commsContractsDir(policiesDir);
  let stamp = "missing";
  try {
    stamp = fs
      .readdirSync(dir)
      .sort()
      .map((n) => {
        const st = fs.statSync(path.join(dir, n));
        return `${n}:${st.size}:${st.mtimeMs}`;
      })
      .join("|");
  } catch {
    // No folder: the loader says which contract is missing.
  }
  const hit = commsValidity.get(dir);
  if (hit && hit.stamp === stamp) return hit.error;
  let error: string | null = null;
  try {
    loadCommsContracts(dir);
  } catch (err) {
    error = describeError(err);
  }
  commsValidity.set(dir, { stamp, error });
  return error;
}

/** Responder issues per app, kept a few seconds: every /healthz asks, and the answer changes only with config or secrets. */
const responderIssueCache = new WeakMap<App, { at: number; issues: string[] }>();

/** Responder checks without building services (the policy manager writes; health must not). Names of failing responders. */
function responderIssues(app: App): string[] {
  const now = app.clock();
  const hit = responderIssueCache.get(app);
  if (hit && now - hit.at < 5000 && now >= hit.at) return hit.issues;
  const registry = createRegistry();
  let bindings = null;
  try {
    const lkg = app.store.kv.get("policy_lkg");
    const set = lkg
      ? policySetFromSources(app.loaded.policiesDir, JSON.parse(lkg) as Record<string, string>)
      : loadPolicySet(app.loaded.policiesDir, app.config.features);
    bindings = set.bindings.bindings;
  } catch {
    bindings = null; // unreadable policies show as their own health code
  }
  const checks = checkResponders(app.config, {
    hasCapability: (id) => registry.get(id) !== undefined,
    secret: (id) => {
      // A shell that may read the state but not its secrets key (a monitoring account: secrets.key is the service's,
      // 0600) cannot open stored secrets; presence is what is checked here, and the service checked values at start.
      try {
        return lookupSecret(app, id);
      } catch (err) {
        return err instanceof TauError && err.code.startsWith("SECRETS_KEY") ? "(sealed: not readable here)" : null;
      }
    },
    bindings,
  });
  const issues = [...new Set(checks.filter((c) => !c.ok).map((c) => c.key.replace(/^responder\.(binding\.)?/, "")))];
  responderIssueCache.set(app, { at: now, issues });
  return issues;
}

/** The facts only the composition can work out (contracts, responders, comms dead letters), for `readHealthFacts`. */
export function computedHealthFacts(app: App): ComputedFacts {
  return {
    commsReplayPending: commsReplayPending(app.store.comms, app.loaded.policiesDir),
    commsContractError: app.config.features.communications ? commsContractError(app.loaded.policiesDir) : null,
    respondersMisconfigured: responderIssues(app),
    calendar: calendarHealthFact(app.loaded.policiesDir, app.store.calendar),
  };
}

/**
 * Health of this app — the one verdict `tau health`, `tau status`, `/healthz`, `/readyz`, `/metrics`, `/tau health` and
 * the watchdog report: persisted facts judged with the service's recorded configuration, plus the contract and
 * responder facts worked out here. Reads only.
 */
export function healthFor(app: App): HealthView {
  return computeHealth(readHealthFacts(app, computedHealthFacts(app)));
}

/** A secret by integration id: the environment first (PRODUCT.md §8 names), then the integration store. */
export function lookupSecret(app: App, id: string): string | null {
  const envName = SECRET_ENV[id as SecretId];
  const fromEnv = envName ? app.env[envName] : undefined;
  if (fromEnv) return fromEnv;
  return app.store.secrets.get(id);
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
