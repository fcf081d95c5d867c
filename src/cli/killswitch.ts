/**
 * @module `tau killswitch status|on|off <scope> [--reason …] [--json]`. Scopes: `outbound`, `responders`,
 * `transport:<name>`. No `--yes`: an emergency stop must be one command; every change is audited. A running
 * service picks a change up within a second.
 */
import type { Command } from "commander";
import { appendAudit } from "../audit/audit-log.ts";
import { KILLSWITCH_SCOPES, describeKillSwitches, listKillSwitches, parseScope, setKillSwitch } from "../capabilities/killswitch/index.ts";
import { appFor, globals } from "./context.ts";
import { emit, table } from "./output.ts";
import { cliPrincipal } from "./run-capability.ts";

export function registerKillswitch(program: Command): void {
  const ks = program.command("killswitch").description(`kill switches (${KILLSWITCH_SCOPES.join(", ")})`);
  ks.command("status")
    .description("which switches are on, who set them and why")
    .argument("[scope]", "one scope")
    .option("--json", "machine-readable")
    .action((scopeArg: string | undefined, _o, cmd: Command) => {
      const scope = scopeArg ? parseScope(scopeArg) : null;
      const app = appFor(cmd);
      try {
        const rows = listKillSwitches(app.store.killswitches);
        const switches = KILLSWITCH_SCOPES.filter((s) => !scope || s === scope).map((s) => {
          const r = rows.find((x) => x.scope === s);
          return { scope: s, on: r?.is_on ?? false, reason: r?.reason ?? "", changed_by: r?.changed_by ?? null, at_ms: r?.at_ms ?? null };
        });
        emit(globals(cmd).json, { active: switches.filter((s) => s.on).map((s) => s.scope), switches }, () =>
          [
            table([
              ["scope", "state", "changed_by", "at", "reason"],
              ...switches.map((s) => [
                s.scope,
                s.on ? "ON" : "off",
                s.changed_by,
                s.at_ms ? new Date(s.at_ms).toISOString() : null,
                s.reason || null,
              ]),
            ]),
            describeKillSwitches(rows.filter((r) => !scope || r.scope === scope)),
          ].join("\n"),
        );
      } finally {
        app.close();
      }
    });
  for (const on of [true, false]) {
    ks.command(on ? "on" : "off")
      .description(on ? "turn a switch on (replies held, responders silent or a transport not answered)" : "turn a switch off")
      .argument("<scope>", KILLSWITCH_SCOPES.join(" | "))
      .option("--reason <text>", "why (kept with the switch and in the audit log)", "")
      .option("--json", "machine-readable")
      .action((scopeArg: string, o: { reason: string }, cmd: Command) => {
        const scope = parseScope(scopeArg);
        const app = appFor(cmd);
        try {
          const now = app.clock();
          const { changed, row } = setKillSwitch(
            app.store,
            { scope, on, reason: o.reason, actor: cliPrincipal(), surface: "cli" },
            now,
            (e) => void appendAudit(app.store, e, now),
          );
          emit(globals(cmd).json, { scope, on, changed, switch: row }, () =>
            changed ? `kill switch ${scope} is now ${on ? "ON" : "off"}` : `kill switch ${scope} was already ${on ? "on" : "off"}`,
          );
        } finally {
          app.close();
        }
      });
  }
}
