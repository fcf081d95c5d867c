/**
 * @module `tau killswitch status|on|off <scope> [--reason …] [--json]`. Scopes: `outbound`, `responders`,
 * `transport:<name>`. `on` and `off` run their capabilities through the shared CLI path: `on` is an emergency stop and
 * runs at once, `off` releases held replies and is confirmed (`--yes`). Every change is audited; a running service
 * picks it up within a second.
 */
import type { Command } from "commander";
import { KILLSWITCH_SCOPES, describeKillSwitches, listKillSwitches, parseScope } from "../capabilities/killswitch/index.ts";
import { appFor, globals } from "./context.ts";
import { emit, table } from "./output.ts";
import { runNamedCapability, withRunOptions } from "./run-capability.ts";

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
    withRunOptions(
      ks
        .command(on ? "on" : "off")
        .description(
          on
            ? "turn a switch on (replies held, responders silent or a transport not answered); runs at once"
            : "turn a switch off: held replies go out (confirm: --yes, or y at a terminal)",
        )
        .argument("<scope>", KILLSWITCH_SCOPES.join(" | "))
        .option("--reason <text>", "why (kept with the switch and in the audit log)", ""),
    )
      .option("--json", "machine-readable")
      .action((scopeArg: string, o: { reason: string; yes?: boolean; as?: string }, cmd: Command) => {
        const scope = parseScope(scopeArg);
        return runNamedCapability(
          cmd,
          on ? "tau.killswitch.on" : "tau.killswitch.off",
          [scope],
          { reason: o.reason },
          o,
          (result, services) => {
            if (result.status !== "reported" || !result.reason_code.startsWith("killswitch_")) return null;
            const { changed } = result.data as { changed: boolean };
            const row = listKillSwitches(services.store.killswitches).find((r) => r.scope === scope) ?? null;
            return {
              json: { scope, on, changed, switch: row },
              human: changed ? `kill switch ${scope} is now ${on ? "ON" : "off"}` : `kill switch ${scope} was already ${on ? "on" : "off"}`,
            };
          },
        );
      });
  }
}
