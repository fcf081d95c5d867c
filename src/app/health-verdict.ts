/**
 * @module The health verdict of one open app — `healthFor` (src/app/services.ts) for the service, `/healthz`, the
 * watchdog and chat; {@link healthForCommand} for `tau health` / `tau status`. Both judge the same facts; this module
 * loads only what those facts need, so a monitoring `tau health` starts fast: the capability registry (every
 * capability module) is needed only to check responder `tools`, and is loaded only when some responder lists any.
 */
import fs from "node:fs";
import path from "node:path";
import type { App } from "./open-app.ts";
import { calendarHealthFact } from "../capabilities/calendar/health-fact.ts";
import { commsReplayPending } from "../capabilities/communications/replay-pending.ts";
import { commsContractsDir, loadCommsContracts } from "../capabilities/communications/contracts.ts";
import { SECRET_ENV, type SecretId, type TauConfig } from "../config/index.ts";
import { loadPolicySet, policySetFromSources } from "../config/policy-set.ts";
import { describeError, TauError } from "../contracts/errors.ts";
import { computeHealth, type HealthView } from "../health/health.ts";
import { readHealthFacts, type ComputedFacts } from "../health/health-facts.ts";
import { checkResponders } from "../responders/check-config.ts";

/** Which capability ids exist: the registry's lookup (`createRegistry().get`), asked only for responder tools. */
export type CapabilityLookup = () => { get(id: string): unknown };

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

/** A secret by integration id: the environment first (PRODUCT.md §8 names), then the integration store. */
export function lookupSecret(app: App, id: string): string | null {
  const envName = SECRET_ENV[id as SecretId];
  const fromEnv = envName ? app.env[envName] : undefined;
  if (fromEnv) return fromEnv;
  return app.store.secrets.get(id);
}

/** True when some LLM responder lists `tools`: only then does the verdict need the capability registry. */
export function responderToolsListed(config: TauConfig): boolean {
  return Object.values(config.responders).some((r) => r.kind === "llm" && r.tools.length > 0);
}

/** Responder issues per app, kept a few seconds: every /healthz asks, and the answer changes only with config or secrets. */
const responderIssueCache = new WeakMap<App, { at: number; issues: string[] }>();

/** Responder checks without building services (the policy manager writes; health must not). Names of failing responders. */
function responderIssues(app: App, capabilities: CapabilityLookup): string[] {
  const now = app.clock();
  const hit = responderIssueCache.get(app);
  if (hit && now - hit.at < 5000 && now >= hit.at) return hit.issues;
  let registry: { get(id: string): unknown } | null = null;
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
    hasCapability: (id) => (registry ??= capabilities()).get(id) !== undefined,
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
export function computedHealthFacts(app: App, capabilities: CapabilityLookup): ComputedFacts {
  return {
    commsReplayPending: commsReplayPending(app.store.comms, app.loaded.policiesDir),
    commsContractError: app.config.features.communications ? commsContractError(app.loaded.policiesDir) : null,
    respondersMisconfigured: responderIssues(app, capabilities),
    calendar: calendarHealthFact(app.loaded.policiesDir, app.store.calendar),
  };
}

/** The verdict over this app's persisted and computed facts, capability ids looked up through `capabilities`. */
export function healthWith(app: App, capabilities: CapabilityLookup): HealthView {
  return computeHealth(readHealthFacts(app, computedHealthFacts(app, capabilities)));
}

/**
 * The verdict for a CLI command (`tau health`, `tau status`): the same as `healthFor`, with the capability registry
 * imported only when some responder lists `tools` (the only check that asks it).
 */
export async function healthForCommand(app: App): Promise<HealthView> {
  const registry = responderToolsListed(app.config) ? await import("./registry.ts") : null;
  return healthWith(app, () => {
    if (!registry) throw new TauError("INTERNAL", "capability lookup without responder tools");
    return registry.createRegistry();
  });
}
