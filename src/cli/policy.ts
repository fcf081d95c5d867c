/**
 * @module `tau policy check|apply|rollback` over the whole configuration: the policy files, the communications
 * contracts (`policies/communications/*`), the responders and tau.yaml. `check` validates all of it — a required file
 * or folder that is missing is an error unless tau.yaml turns its feature off — without creating state; `apply`
 * records a version of every file and makes it the last known good; `rollback --yes` writes the previous version of
 * every file back in one command.
 */
import fs from "node:fs";
import type { Command } from "commander";
import { ConfigError, TauError, describeError } from "../contracts/errors.ts";
import { loadConfig, readProcessEnv, SECRET_ENV, type LoadedConfig, type SecretId } from "../config/index.ts";
import { loadPolicySet, type PolicySet } from "../config/policy-set.ts";
import { readConfigSnapshot, snapshotFiles, writeConfigFiles, type SnapshotOptions } from "../config/config-snapshot.ts";
import { checkChannelPolicy } from "../policy/index.ts";
import { commsContractsDir, loadCommsContracts } from "../capabilities/communications/contracts.ts";
import { createRegistry, openAppReadOnly } from "../app/index.ts";
import { checkResponders } from "../responders/check-config.ts";
import { cliPrincipal } from "./run-capability.ts";
import { globals } from "./context.ts";
import { servicesFor } from "./services-for.ts";
import { emit } from "./output.ts";
import { createHash } from "node:crypto";

interface PolicyVersion {
  sha256: string;
  /** Every configuration file of the version: policy files, `communications/*`, `tau.yaml` (older versions: policies only). */
  sources: Record<string, string>;
  applied_at_ms: number;
  applied_by: string;
}

interface Issue {
  key: string;
  code: string;
  severity: "error" | "warning";
  message: string;
}

const HISTORY_KEY = "policy_history";

function snapshotOptions(loaded: LoadedConfig): SnapshotOptions {
  return {
    policiesDir: loaded.policiesDir,
    configFile: loaded.file,
    features: loaded.config.features,
    validateComms: (dir) => void loadCommsContracts(dir),
  };
}

/** A secret lookup for responder checks without creating state: the environment, then the store if it exists. */
function secretLookup(loaded: LoadedConfig, stateDir: string): { secret: (id: string) => string | null; close: () => void } {
  const env = readProcessEnv();
  let app: ReturnType<typeof openAppReadOnly> | null = null;
  try {
    app = openAppReadOnly({ stateDir, configPath: loaded.file ?? undefined, env });
  } catch {
    app = null; // no state yet: the environment alone
  }
  return {
    secret: (id) => env[SECRET_ENV[id as SecretId] ?? ""] ?? app?.store.secrets.get(id) ?? null,
    close: () => app?.close(),
  };
}

/** Validate the whole configuration. */
function checkConfiguration(loaded: LoadedConfig, stateDir: string): { ok: boolean; set: PolicySet | null; issues: Issue[] } {
  const dir = loaded.policiesDir;
  const issues: Issue[] = [];
  const featureOff = (f: string) => `create it (tau init writes a starter), or set features.${f}: false in tau.yaml`;
  if (!fs.existsSync(dir))
    issues.push({
      key: dir,
      code: "policies_dir_missing",
      severity: "error",
      message: `${dir}: policies folder missing (policies_dir in ${loaded.file ?? "tau.yaml"})`,
    });
  let set: PolicySet | null = null;
  try {
    set = loadPolicySet(dir, loaded.config.features);
    for (const f of set.missing)
      issues.push({
        key: `${dir}/${f}`,
        code: "policy_file_missing",
        severity: "error",
        message: `${dir}/${f}: required policy file missing; ${f === "channel-policy.yaml" ? "create it (tau init writes a starter)" : featureOff(f === "rbac.yaml" ? "rbac" : "route_bindings")}`,
      });
    issues.push(
      ...checkChannelPolicy(set.channel).map((i) => ({
        key: i.key,
        code: i.code,
        severity: i.severity as Issue["severity"],
        message: i.message,
      })),
      ...set.routes.shadowed.map((s) => ({
        key: `binding:${s.binding_id}`,
        code: "route_binding_shadowed",
        severity: "warning" as const,
        message: `binding ${s.binding_id} can never win: ${s.shadowed_by} has the same selectors and comes first`,
      })),
    );
  } catch (err) {
    const file = err instanceof ConfigError ? String(err.details.file ?? dir) : dir;
    issues.push({ key: file, code: "policy_invalid", severity: "error", message: describeError(err) });
  }
  if (loaded.config.features.communications) {
    const commsDir = commsContractsDir(dir);
    try {
      loadCommsContracts(commsDir);
    } catch (err) {
      const file = err instanceof ConfigError ? String(err.details.file ?? commsDir) : commsDir;
      issues.push({
        key: file,
        code: fs.existsSync(file) ? "comms_contract_invalid" : "comms_contract_missing",
        severity: "error",
        message: `${describeError(err)}${fs.existsSync(file) ? "" : `; or set features.communications: false in tau.yaml`}`,
      });
    }
  }
  const registry = createRegistry();
  const secrets = secretLookup(loaded, stateDir);
  try {
    for (const c of checkResponders(loaded.config, {
      hasCapability: (id) => registry.get(id) !== undefined,
      secret: secrets.secret,
      bindings: set?.bindings.bindings ?? null,
    }))
      if (!c.ok) issues.push({ key: c.key, code: c.code, severity: "error", message: c.detail ?? c.code });
  } finally {
    secrets.close();
  }
  return { ok: !issues.some((i) => i.severity === "error"), set, issues };
}

/** The config as the command was asked to load it (tau.yaml is validated here: a broken one exits 3). */
function loadedFor(cmd: Command): { loaded: LoadedConfig; stateDir: string } {
  const g = globals(cmd);
  return { loaded: loadConfig({ configPath: g.config, env: readProcessEnv() }), stateDir: g.stateDir };
}

const hashOf = (files: Record<string, string>) =>
  createHash("sha256")
    .update(JSON.stringify(Object.entries(files).sort()))
    .digest("hex");

export function registerPolicy(program: Command): void {
  const policy = program.command("policy").description("the configuration: policy files, communications contracts, responders, tau.yaml");
  policy
    .command("check")
    .description("validate policies/, policies/communications/, responders and tau.yaml (exit 1 on errors, incl. missing files)")
    .option("--json", "machine-readable")
    .action((_o, cmd: Command) => {
      const { loaded, stateDir } = loadedFor(cmd);
      const r = checkConfiguration(loaded, stateDir);
      const out = {
        ok: r.ok,
        dir: loaded.policiesDir,
        sha256: r.set?.sha256 ?? null,
        config_file: loaded.file,
        features: loaded.config.features,
        issues: r.issues,
      };
      emit(globals(cmd).json, out, () =>
        [
          r.ok ? `configuration ok (policies ${out.sha256?.slice(0, 12)})` : "configuration FAILED",
          ...r.issues.map((i) => `  ${i.severity} ${i.key}: ${i.code} — ${i.message}`),
        ].join("\n"),
      );
      if (!r.ok) process.exitCode = 1;
    });
  policy
    .command("apply")
    .description("check everything, then record this version of every file as active and last known good (tau run reloads on SIGHUP)")
    .option("--json", "machine-readable")
    .action((_o, cmd: Command) => {
      const { app, services } = servicesFor(cmd);
      try {
        const r = checkConfiguration(app.loaded, app.stateDir);
        if (!r.ok || !r.set) {
          services.audit({
            actor: cliPrincipal(),
            surface: "cli",
            action: "policy.apply",
            target: app.loaded.policiesDir,
            args: { errors: r.issues.filter((i) => i.severity === "error").map((i) => i.code) },
            outcome: "rejected",
            reason_code: "policy_reload_rejected",
          });
          throw new TauError(
            "POLICY_INVALID",
            `not applied: ${r.issues
              .filter((i) => i.severity === "error")
              .map((i) => i.message)
              .join("; ")}`,
            { hint: "run `tau policy check` and fix the files" },
          );
        }
        const files = snapshotFiles(readConfigSnapshot(snapshotOptions(app.loaded)));
        const sha256 = hashOf(files);
        const history = JSON.parse(app.store.kv.get(HISTORY_KEY) ?? "[]") as PolicyVersion[];
        app.store.atomically(() => {
          if (history.at(-1)?.sha256 !== sha256)
            history.push({ sha256, sources: files, applied_at_ms: app.clock(), applied_by: cliPrincipal() });
          app.store.kv.put(HISTORY_KEY, JSON.stringify(history.slice(-20)));
          services.policies.reload("policy_apply");
          services.audit({
            actor: cliPrincipal(),
            surface: "cli",
            action: "policy.apply",
            target: app.loaded.policiesDir,
            args: { sha256, policies_sha256: r.set!.sha256, files: Object.keys(files) },
            outcome: "applied",
            reason_code: "policy_applied",
          });
        });
        emit(
          globals(cmd).json,
          { applied: sha256, policies_sha256: r.set.sha256, files: Object.keys(files), versions: history.length },
          () => `applied ${sha256.slice(0, 12)} (version ${history.length}: ${Object.keys(files).length} files)`,
        );
      } finally {
        app.close();
      }
    });
  policy
    .command("rollback")
    .description("restore the previously applied version of every file (policies, communications contracts, tau.yaml)")
    .option("--yes", "confirm overwriting the files")
    .option("--json", "machine-readable")
    .action((o: { yes?: boolean }, cmd: Command) => {
      const { app, services } = servicesFor(cmd);
      try {
        const history = JSON.parse(app.store.kv.get(HISTORY_KEY) ?? "[]") as PolicyVersion[];
        const prev = history.at(-2);
        if (!prev)
          throw new TauError("POLICY_NO_PREVIOUS", "no previous applied version to roll back to", {
            hint: "`tau policy apply` records versions",
          });
        if (!o.yes) throw new TauError("USAGE_CONFIRM", "rollback rewrites the configuration files", { hint: "pass --yes" });
        const written = writeConfigFiles(snapshotOptions(app.loaded), prev.sources);
        app.store.atomically(() => {
          history.pop();
          app.store.kv.put(HISTORY_KEY, JSON.stringify(history));
          services.policies.reload("policy_rollback");
          services.audit({
            actor: cliPrincipal(),
            surface: "cli",
            action: "policy.rollback",
            target: app.loaded.policiesDir,
            args: { to: prev.sha256, files: written },
            outcome: "rolled_back",
            reason_code: "policy_rolled_back",
          });
        });
        emit(
          globals(cmd).json,
          { rolled_back_to: prev.sha256, files: written },
          () => `rolled back to ${prev.sha256.slice(0, 12)} (${written.length} files); a running tau run picks it up on SIGHUP`,
        );
      } finally {
        app.close();
      }
    });
}
