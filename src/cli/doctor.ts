/**
 * @module `tau doctor [--online] [--json]`: one report over everything an operator would otherwise check one command at
 * a time — connectors (the `tau preflight` transport checks), policy, responders (`responders` config checks, online an
 * authenticated probe), communications (the `/tau doctor` contract, credential, route and webhook checks) and state
 * (present, writable, health). Each check is pass / warn / fail with a reason code and a fix. Exit 0 when every check
 * passes, 1 with warnings only, 2 with any failure (like `tau health`). A missing state folder is reported, not created.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { createServices, healthFor, openApp, preflightFor, type App } from "../app/index.ts";
import type { Services } from "../capabilities/services.ts";
import { readProcessEnv } from "../config/index.ts";
import { stateDatabaseFiles } from "../store/inspect-store.ts";
import { globals } from "./context.ts";
import { emit } from "./output.ts";
import { cliPrincipal } from "./run-capability.ts";

/** One line of the report. */
export interface DoctorCheck {
  section: "connectors" | "policy" | "responders" | "communications" | "state";
  check: string;
  status: "pass" | "warn" | "fail";
  reason_code: string;
  detail: string;
  fix: string | null;
}

export interface DoctorReport {
  state: "ok" | "warnings" | "failing";
  /** Reason codes of the checks that did not pass, failures first. */
  reason_codes: string[];
  online: boolean;
  checks: DoctorCheck[];
}

const EXIT = { ok: 0, warnings: 1, failing: 2 } as const;

/** The fix for a preflight check that failed, by its key. */
function preflightFix(key: string, code: string): string {
  if (code.startsWith("missing_"))
    return `set the secret: echo … | tau secrets set ${code.slice(8).replace(/_/g, "-")} (or its TAU_* variable)`;
  if (code === "logout_requested") return `tau channel login ${key.split(".")[0]}`;
  if (key.startsWith("policy.")) return "tau policy check, then fix the file named";
  if (key.startsWith("state.")) return "check the state folder's owner and permissions";
  return "tau preflight shows the check; tau channel probe <transport> --online tests the credentials";
}

/** Connectors, policy and state writability: the preflight gate's checks, sorted into sections. */
async function preflightChecks(app: App, services: Services, online: boolean): Promise<DoctorCheck[]> {
  const report = await preflightFor(app, services.policies.current(), { online });
  const checks: DoctorCheck[] = report.checks.map((c) => ({
    section: c.key.startsWith("policy.")
      ? "policy"
      : c.key.startsWith("state.") || c.key.startsWith("credentials.")
        ? "state"
        : "connectors",
    check: c.key,
    status: c.ok ? "pass" : "fail",
    reason_code: c.code,
    detail: c.detail ?? c.code,
    fix: c.ok ? null : preflightFix(c.key, c.code),
  }));
  if (!checks.some((c) => c.section === "connectors"))
    checks.unshift({
      section: "connectors",
      check: "connectors",
      status: "pass",
      reason_code: "connectors_none_enabled",
      detail: "no connector is enabled (connectors.<transport>.mode in tau.yaml)",
      fix: null,
    });
  return checks;
}

/** Responders: configuration, and online an authenticated probe of each llm responder's provider. */
async function responderChecks(services: Services, online: boolean): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = services.responders.checks().map((c) => ({
    section: "responders",
    check: c.key,
    status: c.ok ? "pass" : "fail",
    reason_code: c.code === "ready" ? "responder_ready" : c.code,
    detail: c.detail ?? c.code,
    fix: c.ok ? null : "fix the tau.yaml path named in the detail",
  }));
  if (online)
    for (const [name, r] of Object.entries(services.config.responders)) {
      if (r.kind !== "llm") continue;
      const p = await services.responders.probe(name);
      checks.push({
        section: "responders",
        check: `responder.${name}.online`,
        status: p.ok ? "pass" : "fail",
        reason_code: p.ok ? "probe_ok" : p.reason,
        detail: p.detail ?? p.reason,
        fix: p.ok ? null : `check the ${r.provider} key and base_url (tau auth status ${r.provider})`,
      });
    }
  return checks;
}

/** Communications: the `/tau doctor` capability's checks (contracts, credentials, routes, webhooks, calendar). */
async function communicationsChecks(services: Services, online: boolean, now: number): Promise<DoctorCheck[]> {
  if (!services.config.features.communications)
    return [
      {
        section: "communications",
        check: "communications",
        status: "pass",
        reason_code: "comms_disabled",
        detail: "features.communications is false",
        fix: null,
      },
    ];
  const cap = services.registry.get("communications.doctor");
  if (!cap) return [];
  const result = await cap.run({ online }, { principal: cliPrincipal(), role: "admin", surface: "cli", now, services, origin: null });
  const data = result.data as { checks?: Omit<DoctorCheck, "section">[] } | undefined;
  // Its responder lines are the responders section's.
  return (data?.checks ?? [])
    .filter((c) => !c.check.startsWith("responder.") && !c.check.startsWith("probe.responder."))
    .map((c) => ({ section: "communications", ...c }));
}

/** State: present, and the health verdict of what it records. */
function stateChecks(app: App | null, stateDir: string): DoctorCheck[] {
  if (!app)
    return [
      {
        section: "state",
        check: "state.present",
        status: "fail",
        reason_code: "state_missing",
        detail: `no tau state at ${stateDir}`,
        fix: "pass --state-dir (or TAU_STATE_DIR) pointing at the service's state, or start tau run / tau process once",
      },
    ];
  const h = healthFor(app);
  return [
    { section: "state", check: "state.present", status: "pass", reason_code: "ready", detail: stateDir, fix: null },
    {
      section: "state",
      check: "state.health",
      status: h.state === "healthy" ? "pass" : h.state === "degraded" ? "warn" : "fail",
      reason_code: h.state === "healthy" ? "healthy" : (h.reason_codes[0] ?? h.state),
      detail: `${h.state}: ${h.reason_codes.join(", ")}`,
      fix: h.state === "healthy" ? null : "tau status shows why; tau events and tau logs show when",
    },
  ];
}

/** Summarize checks into the report's state and reason codes. */
export function summarizeDoctor(checks: DoctorCheck[], online: boolean): DoctorReport {
  const fails = checks.filter((c) => c.status === "fail");
  const warns = checks.filter((c) => c.status === "warn");
  return {
    state: fails.length ? "failing" : warns.length ? "warnings" : "ok",
    reason_codes: [...new Set([...fails, ...warns].map((c) => c.reason_code))],
    online,
    checks,
  };
}

function human(r: DoctorReport): string {
  const mark = { pass: "✓", warn: "!", fail: "✗" } as const;
  const sections = [...new Set(r.checks.map((c) => c.section))];
  return [
    ...sections.flatMap((s) => [
      `${s}:`,
      ...r.checks
        .filter((c) => c.section === s)
        .map((c) => `  ${mark[c.status]} ${c.check}: ${c.detail}${c.fix ? ` — fix: ${c.fix}` : ""}`),
    ]),
    `doctor: ${r.state}${r.reason_codes.length ? ` (${r.reason_codes.join(", ")})` : ""}`,
  ].join("\n");
}

export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description("check connectors, policy, responders, communications and state in one report; exit 0 ok / 1 warnings / 2 failing")
    .option("--online", "also probe the providers with the credentials")
    .option("--json", "one JSON object: { state, reason_codes, checks }")
    .action(async (o: { online?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const online = o.online ?? false;
      // Never create state here: with none, the checks run over a throw-away folder and state.present fails.
      const exists = fs.existsSync(stateDatabaseFiles(g.stateDir)[0]!);
      const stateDir = exists ? g.stateDir : fs.mkdtempSync(path.join(os.tmpdir(), "tau-doctor-"));
      const app = openApp({ stateDir, configPath: g.config, env: readProcessEnv() });
      try {
        const services = createServices(app);
        const checks = [
          ...(await preflightChecks(app, services, online)).filter((c) => exists || c.section !== "state"),
          ...(await responderChecks(services, online)),
          ...(await communicationsChecks(services, online, app.clock())),
          ...stateChecks(exists ? app : null, path.resolve(g.stateDir)),
        ];
        const order = ["connectors", "policy", "responders", "communications", "state"];
        checks.sort((a, b) => order.indexOf(a.section) - order.indexOf(b.section));
        const report = summarizeDoctor(checks, online);
        emit(g.json, report, () => human(report));
        process.exitCode = EXIT[report.state];
      } finally {
        app.close();
        if (!exists) fs.rmSync(stateDir, { recursive: true, force: true });
      }
    });
}
