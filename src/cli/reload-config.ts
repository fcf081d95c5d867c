/**
 * @module A configuration reload in the running service (SIGHUP): the policies (kept last-known-good by the policy
 * manager), the communications contracts and tau.yaml, each validated. A rejected part keeps what runs, is audited
 * and written as a runtime event, and shows in health (`policy_reload_rejected`, `comms_contract_invalid`,
 * `config_reload_rejected`); a valid tau.yaml that differs from the running one is reported as `restart_required`.
 */
import type { App } from "../app/index.ts";
import { commsContractError } from "../app/services.ts";
import type { Services } from "../capabilities/services.ts";
import { loadConfig } from "../config/index.ts";
import { recordConfigStatus, type ConfigStatus } from "../config/policy-manager.ts";
import { describeError } from "../contracts/errors.ts";

export interface ReloadOutcome {
  policy: string;
  tau_yaml: ConfigStatus["state"];
  communications: "ok" | "invalid" | "off";
  errors: string[];
}

export function reloadConfig(app: App, services: Services, trigger: string): ReloadOutcome {
  const errors: string[] = [];
  const before = services.policies.status().active_sha256;
  const st = services.policies.reload(trigger);
  if (st.error) errors.push(st.error);
  let tau: ConfigStatus = { state: "ok", error: null, at_ms: app.clock() };
  try {
    const next = loadConfig({ configPath: app.loaded.file ?? undefined, env: app.env });
    if (JSON.stringify(next.config) !== JSON.stringify(app.config))
      tau = { state: "restart_required", error: "tau.yaml changed; restart tau run to apply it", at_ms: app.clock() };
  } catch (err) {
    tau = { state: "reload_rejected", error: describeError(err), at_ms: app.clock() };
    errors.push(tau.error!);
  }
  const commsError = app.config.features.communications ? commsContractError(app.loaded.policiesDir) : null;
  if (commsError) errors.push(commsError);
  const outcome: ReloadOutcome = {
    policy: st.state,
    tau_yaml: tau.state,
    communications: !app.config.features.communications ? "off" : commsError ? "invalid" : "ok",
    errors,
  };
  const rejected = st.state !== "ok" || tau.state === "reload_rejected" || commsError !== null;
  app.store.atomically(() => {
    recordConfigStatus(app.store.kv, tau);
    services.audit({
      actor: "system",
      surface: "system",
      action: "config.reload",
      target: app.loaded.file ?? app.loaded.policiesDir,
      args: { trigger, sha256: st.active_sha256, changed: st.active_sha256 !== before, ...outcome },
      outcome: rejected ? "rejected" : "ok",
      reason_code:
        st.state !== "ok"
          ? "policy_reload_rejected"
          : tau.state === "reload_rejected"
            ? "config_reload_rejected"
            : commsError
              ? "comms_contract_invalid"
              : "config_reloaded",
    });
    app.store.runner.insertRuntimeEvent(
      app.clock(),
      "config.reload",
      rejected ? "degraded" : "healthy",
      [
        st.state === "ok" ? "policy_reloaded" : "policy_reload_rejected",
        ...(tau.state === "reload_rejected" ? ["config_reload_rejected"] : tau.state === "restart_required" ? ["restart_required"] : []),
        ...(commsError ? ["comms_contract_invalid"] : []),
      ],
      { trigger, ...outcome },
    );
  });
  app.logger[rejected ? "warn" : "info"]({ event: "config.reloaded", trigger, ...outcome }, "configuration reloaded");
  return outcome;
}
