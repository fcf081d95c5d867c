/**
 * @module `tau preflight` (and `/readyz`): the readiness gate over *enabled* transports (credentials, ingress
 * file, not logged out; with `online`, the provider probe), plus state, credential store and policy (loaded,
 * strict mode). One `key:code` per check; the gate passes only when every check is `ready`.
 */
import type { PolicySet } from "../config/policy-set.ts";
import { onlineCheck, type ChannelDeps } from "./channel.ts";
import { enabledTransports, policyChecks, stateChecks, summarize, transportChecks, type Check } from "./readiness.ts";

export interface PreflightReport {
  ok: boolean;
  /** `ready` or the first failing code. */
  reason: string;
  transports: string[];
  checks: Check[];
}

export async function runPreflight(
  deps: Omit<ChannelDeps, "audit" | "actor">,
  policies: PolicySet | null,
  opts: { online: boolean },
): Promise<PreflightReport> {
  const transports = enabledTransports(deps.config);
  const checks: Check[] = [];
  for (const t of transports) {
    checks.push(...transportChecks(t, deps));
    if (opts.online) {
      const c = await onlineCheck(t, { ...deps, audit: () => undefined, actor: "preflight" });
      if (c) checks.push(c);
    }
  }
  checks.push(...stateChecks(deps), ...policyChecks(policies));
  return { ...summarize(checks), transports, checks };
}
