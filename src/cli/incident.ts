/**
 * @module `tau incident open|note|contain|verify|close|list|show`: incident records with the operations runbook's
 * evidence fields, the same capabilities as `/tau incident …` (role-checked, audited, linked into the audit chain).
 * Writing commands run as the local admin (typing the command is the confirmation); `list` and `show` only read.
 */
import type { Command } from "commander";
import { TauError } from "../contracts/errors.ts";
import { validateArgs } from "../capabilities/execute.ts";
import { describeIncident } from "../capabilities/communications/index.ts";
import { printResult } from "./cap.ts";
import { globals } from "./context.ts";
import { servicesFor } from "./services-for.ts";
import { emit } from "./output.ts";
import { withReadOnlyApp } from "./read-only.ts";
import { runCapabilityCli } from "./run-capability.ts";

/** Run one incident capability with words and flags, as chat would parse them. */
async function runIncident(cmd: Command, id: string, words: string[], flags: Record<string, string | true | undefined>) {
  const { app, services } = servicesFor(cmd);
  try {
    const cap = services.registry.get(id)!;
    const given = Object.fromEntries(Object.entries(flags).filter((e): e is [string, string | true] => e[1] !== undefined));
    const args = validateArgs(cap, words, given);
    if (!args.ok) throw new TauError("USAGE_ARGS_INVALID", `${id}: ${args.detail} (reason command_args_invalid)`);
    printResult(globals(cmd).json, await runCapabilityCli(services, cap, args.args, { yes: true }));
  } finally {
    app.close();
  }
}

export function registerIncident(program: Command): void {
  const inc = program.command("incident").description("incident records: the runbook's evidence for every intervention");
  inc
    .command("open")
    .description("open an incident (captures health, kill switches and alerts firing now)")
    .argument("<failure_mode...>", "the observed failure mode")
    .option("--scope <scope>", "what is affected (a transport, a capability, the service)", "service")
    .option("--trigger <source>", "what raised it: an alert key (alert:runner_stale), a report, manual", "manual")
    .option("--severity <sev>", "SEV-1, SEV-2 or SEV-3", "SEV-2")
    .option("--follow-up <text>", "the follow-up requirement, if known now")
    .option("--json", "machine-readable")
    .action((words: string[], o: { scope: string; trigger: string; severity: string; followUp?: string }, cmd: Command) =>
      runIncident(cmd, "communications.alerts.incident.open", words, {
        scope: o.scope,
        trigger: o.trigger,
        severity: o.severity,
        follow_up: o.followUp,
      }),
    );
  inc
    .command("note")
    .description("add a note to an incident's log")
    .argument("<id>")
    .argument("<text...>")
    .option("--json", "machine-readable")
    .action((id: string, words: string[], _o, cmd: Command) => runIncident(cmd, "communications.alerts.incident.note", [id, ...words], {}));
  inc
    .command("contain")
    .description("record the containment action and the kill switch or rollback used")
    .argument("<id>")
    .argument("<action...>")
    .option("--kill-switch <scope>", "the kill switch used (its recorded state is captured)")
    .option("--rollback <text>", "the rollback done (e.g. tau policy rollback to <sha>)")
    .option("--json", "machine-readable")
    .action((id: string, words: string[], o: { killSwitch?: string; rollback?: string }, cmd: Command) =>
      runIncident(cmd, "communications.alerts.incident.contain", [id, ...words], { kill_switch: o.killSwitch, rollback: o.rollback }),
    );
  inc
    .command("verify")
    .description("record the verification and its result (the health verdict is captured)")
    .argument("<id>")
    .argument("<result...>")
    .option("--outcome <pass|fail>", "pass or fail", "pass")
    .option("--json", "machine-readable")
    .action((id: string, words: string[], o: { outcome: string }, cmd: Command) =>
      runIncident(cmd, "communications.alerts.incident.verify", [id, ...words], { outcome: o.outcome }),
    );
  inc
    .command("close")
    .description("close a verified incident with its follow-up requirement")
    .argument("<id>")
    .option("--follow-up <text>", "the follow-up requirement (or none)")
    .option("--force", "close without a passing verification")
    .option("--json", "machine-readable")
    .action((id: string, o: { followUp?: string; force?: boolean }, cmd: Command) =>
      runIncident(cmd, "communications.alerts.incident.close", [id], { follow_up: o.followUp, force: o.force ? "true" : undefined }),
    );
  inc
    .command("list")
    .description("incidents not closed (--all: the 50 most recent)")
    .option("--all", "closed ones too")
    .option("--json", "machine-readable")
    .action((o: { all?: boolean }, cmd: Command) =>
      withReadOnlyApp(cmd, (app) => {
        const rows = o.all ? app.store.incidents.recent(50) : app.store.incidents.open();
        emit(globals(cmd).json, rows, () =>
          rows.length
            ? rows.map((i) => `${i.incident_id}  ${i.severity}  ${i.status}  ${i.scope}: ${i.failure_mode}`).join("\n")
            : "no incidents",
        );
      }),
    );
  inc
    .command("show")
    .description("one incident's evidence record and action log")
    .argument("<id>")
    .option("--json", "machine-readable")
    .action((id: string, _o, cmd: Command) =>
      withReadOnlyApp(cmd, (app) => {
        const i = app.store.incidents.get(id);
        if (!i) throw new TauError("USAGE_INCIDENT_UNKNOWN", `no incident ${id}`, { hint: "tau incident list --all" });
        const log = app.store.incidents.logOf(id);
        emit(globals(cmd).json, { incident: i, log: log.map((l) => ({ ...l, detail: JSON.parse(l.detail) as unknown })) }, () =>
          describeIncident(i, log),
        );
      }),
    );
}
