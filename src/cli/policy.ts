/**
 * @module `tau policy check|apply|rollback`: validate the policy folder, activate it (recording a version and
 * keeping it as last known good), or roll back to the previous applied version (rewriting the files).
 */
import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { ConfigError, TauError, describeError } from "../contracts/errors.ts";
import { loadPolicySet, POLICY_FILES, type PolicySet } from "../config/policy-set.ts";
import { checkChannelPolicy } from "../policy/index.ts";
import { cliPrincipal } from "./run-capability.ts";
import { appFor, globals, servicesFor } from "./context.ts";
import { emit } from "./output.ts";

interface PolicyVersion {
  sha256: string;
  sources: Record<string, string>;
  applied_at_ms: number;
  applied_by: string;
}

const HISTORY_KEY = "policy_history";

/** Validate a policy folder: parse errors, strict-mode violations (errors) and warnings, shadowed bindings. */
function checkPolicies(dir: string): {
  ok: boolean;
  set: PolicySet | null;
  issues: { key: string; code: string; severity: string; message: string }[];
} {
  let set: PolicySet;
  try {
    set = loadPolicySet(dir);
  } catch (err) {
    const file = err instanceof ConfigError ? String(err.details.file ?? dir) : dir;
    return { ok: false, set: null, issues: [{ key: file, code: "policy_invalid", severity: "error", message: describeError(err) }] };
  }
  const issues = [
    ...checkChannelPolicy(set.channel).map((i) => ({ key: i.key, code: i.code, severity: i.severity, message: i.message })),
    ...set.routes.shadowed.map((s) => ({
      key: `binding:${s.binding_id}`,
      code: "route_binding_shadowed",
      severity: "warning",
      message: `binding ${s.binding_id} can never win: ${s.shadowed_by} has the same selectors and comes first`,
    })),
  ];
  return { ok: !issues.some((i) => i.severity === "error"), set, issues };
}

export function registerPolicy(program: Command): void {
  const policy = program.command("policy").description("channel policy, route bindings and RBAC files");
  policy
    .command("check")
    .description("validate policies/ (exit 1 on errors, incl. strict-mode open DMs)")
    .option("--json", "machine-readable")
    .action((_o, cmd: Command) => {
      const app = appFor(cmd);
      try {
        const r = checkPolicies(app.loaded.policiesDir);
        const out = { ok: r.ok, dir: app.loaded.policiesDir, sha256: r.set?.sha256 ?? null, issues: r.issues };
        emit(globals(cmd).json, out, () =>
          [
            r.ok ? `policies ok (${out.sha256?.slice(0, 12)})` : "policies FAILED",
            ...r.issues.map((i) => `  ${i.severity} ${i.key}: ${i.code} — ${i.message}`),
          ].join("\n"),
        );
        if (!r.ok) process.exitCode = 1;
      } finally {
        app.close();
      }
    });
  policy
    .command("apply")
    .description("check, then record this version as active and last known good (a running tau reloads on SIGHUP or file change)")
    .option("--json", "machine-readable")
    .action((_o, cmd: Command) => {
      const { app, services } = servicesFor(cmd);
      try {
        const r = checkPolicies(app.loaded.policiesDir);
        if (!r.ok || !r.set) {
          services.audit({
            actor: cliPrincipal(),
            surface: "cli",
            action: "policy.apply",
            target: app.loaded.policiesDir,
            args: {},
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
        const history = JSON.parse(app.store.kv.get(HISTORY_KEY) ?? "[]") as PolicyVersion[];
        const set = r.set;
        app.store.atomically(() => {
          if (history.at(-1)?.sha256 !== set.sha256)
            history.push({ sha256: set.sha256, sources: set.sources, applied_at_ms: app.clock(), applied_by: cliPrincipal() });
          app.store.kv.put(HISTORY_KEY, JSON.stringify(history.slice(-20)));
          services.policies.reload();
          services.audit({
            actor: cliPrincipal(),
            surface: "cli",
            action: "policy.apply",
            target: app.loaded.policiesDir,
            args: { sha256: set.sha256 },
            outcome: "applied",
            reason_code: "policy_applied",
          });
        });
        emit(
          globals(cmd).json,
          { applied: set.sha256, versions: history.length },
          () => `applied ${set.sha256.slice(0, 12)} (version ${history.length})`,
        );
      } finally {
        app.close();
      }
    });
  policy
    .command("rollback")
    .description("restore the previously applied version into policies/")
    .option("--yes", "confirm overwriting the policy files")
    .option("--json", "machine-readable")
    .action((o: { yes?: boolean }, cmd: Command) => {
      const { app, services } = servicesFor(cmd);
      try {
        const history = JSON.parse(app.store.kv.get(HISTORY_KEY) ?? "[]") as PolicyVersion[];
        const prev = history.at(-2);
        if (!prev)
          throw new TauError("POLICY_NO_PREVIOUS", "no previous applied policy version to roll back to", {
            hint: "`tau policy apply` records versions",
          });
        if (!o.yes) throw new TauError("USAGE_CONFIRM", "rollback rewrites the policy files", { hint: "pass --yes" });
        for (const name of Object.values(POLICY_FILES)) {
          const text = prev.sources[name] ?? "";
          const file = path.join(app.loaded.policiesDir, name);
          if (text === "") fs.rmSync(file, { force: true });
          else fs.writeFileSync(file, text, { mode: 0o600 });
        }
        app.store.atomically(() => {
          history.pop();
          app.store.kv.put(HISTORY_KEY, JSON.stringify(history));
          services.policies.reload();
          services.audit({
            actor: cliPrincipal(),
            surface: "cli",
            action: "policy.rollback",
            target: app.loaded.policiesDir,
            args: { to: prev.sha256 },
            outcome: "rolled_back",
            reason_code: "policy_rolled_back",
          });
        });
        emit(globals(cmd).json, { rolled_back_to: prev.sha256 }, () => `rolled back to ${prev.sha256.slice(0, 12)}`);
      } finally {
        app.close();
      }
    });
}
