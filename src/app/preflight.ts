/**
 * @module The readiness gate over an opened app: credentials from env and the integration store, provider ports for
 * the online probes. `tau preflight` and `tau doctor` run the same checks through this.
 */
import type { PolicySet } from "../config/policy-set.ts";
import { createCredentialReader, runPreflight, type ChannelDeps, type PreflightReport } from "../lifecycle/index.ts";
import type { App } from "./open-app.ts";
import { createProviderPorts } from "./provider-ports.ts";

/** What every lifecycle command needs from an open app (the CLI adds its audit, actor and command plan). */
export function lifecycleDepsFor(app: App): Omit<ChannelDeps, "audit" | "actor"> {
  return {
    config: app.config,
    stateDir: app.stateDir,
    credentials: createCredentialReader(app.env, app.store.secrets),
    kv: app.store.kv,
    ports: createProviderPorts(app.config),
    clock: app.clock,
  };
}

export function preflightFor(app: App, policies: PolicySet | null, opts: { online: boolean }): Promise<PreflightReport> {
  return runPreflight(lifecycleDepsFor(app), policies, opts);
}
