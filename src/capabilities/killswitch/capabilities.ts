/**
 * @module `/tau killswitch status|on|off <scope> [reason…]`, also behind `tau killswitch`. Both changes are admin-only
 * and audited. Turning a switch ON is an emergency stop and runs at once on every surface (it only holds replies,
 * nothing is lost); turning it OFF releases what was held, so it is confirmed (`--yes` on the CLI, `/tau approve <id>`
 * in chat).
 */
import { z } from "zod";
import { defineCapability, reported, type CapabilityContext } from "../capability.ts";
import type { AnyCapability } from "../registry.ts";
import { KILLSWITCH_SCOPE_PATTERN, KILLSWITCH_SCOPES, listKillSwitches, setKillSwitch, type KillSwitchScope } from "./switches.ts";

const Scope = z
  .string()
  .transform((s) => s.trim().toLowerCase())
  .pipe(z.string().regex(KILLSWITCH_SCOPE_PATTERN, `a scope: ${KILLSWITCH_SCOPES.join(", ")}`));

/** One line per switch that was ever set. */
export function describeKillSwitches(rows: ReturnType<typeof listKillSwitches>): string {
  const on = rows.filter((r) => r.is_on);
  if (on.length === 0) return "No kill switch is on.";
  return [
    "Kill switches on:",
    ...on.map((r) => `${r.scope} — by ${r.changed_by} at ${new Date(r.at_ms).toISOString()}${r.reason ? `: ${r.reason}` : ""}`),
  ].join("\n");
}

export const killswitchStatusCapability = defineCapability({
  id: "tau.killswitch.status",
  alias: ["killswitch", "status"],
  summary: "which kill switches are on (outbound, responders, transport:<name>)",
  args: z.object({ scope: Scope.optional() }).strict(),
  positional: ["scope"],
  role: "operator",
  sideEffect: "read",
  approval: "none",
  run: (args, ctx) => {
    const rows = listKillSwitches(ctx.services.store.killswitches).filter((r) => !args.scope || r.scope === args.scope);
    const switches = KILLSWITCH_SCOPES.filter((s) => !args.scope || s === args.scope).map((scope) => {
      const r = rows.find((x) => x.scope === scope);
      return { scope, on: r?.is_on ?? false, reason: r?.reason ?? "", changed_by: r?.changed_by ?? null, at_ms: r?.at_ms ?? null };
    });
    return reported("killswitch_status", describeKillSwitches(rows), { switches });
  },
});

function change(on: boolean) {
  return (args: { scope: string; reason: string }, ctx: CapabilityContext) => {
    const scope = args.scope as KillSwitchScope;
    const { changed } = setKillSwitch(
      ctx.services.store,
      { scope, on, reason: args.reason, actor: ctx.principal, surface: ctx.surface },
      ctx.now,
      (e) => ctx.services.audit(e),
    );
    const code = on ? "killswitch_on" : "killswitch_off";
    const text = changed
      ? `Kill switch ${scope} is now ${on ? "ON" : "off"}${args.reason ? ` (${args.reason})` : ""}.`
      : `Kill switch ${scope} was already ${on ? "on" : "off"}.`;
    return reported(code, text, { scope, on, changed });
  };
}

const ChangeArgs = z.object({ scope: Scope, reason: z.string().max(500).default("") }).strict();

export const killswitchOnCapability = defineCapability({
  id: "tau.killswitch.on",
  alias: ["killswitch", "on"],
  summary: "turn a kill switch on: outbound holds replies, responders go quiet, transport:<name> stops answering it",
  args: ChangeArgs,
  positional: ["scope", "reason"],
  role: "admin",
  sideEffect: "write",
  // An emergency stop must be one step: confirming it would only delay containment.
  approval: "none",
  run: change(true),
});

export const killswitchOffCapability = defineCapability({
  id: "tau.killswitch.off",
  alias: ["killswitch", "off"],
  summary: "turn a kill switch off (held replies are then delivered)",
  args: ChangeArgs,
  positional: ["scope", "reason"],
  role: "admin",
  sideEffect: "write",
  approval: "confirm",
  run: change(false),
});

/** Register with `registry.register(...KILLSWITCH_CAPABILITIES)`. */
export const KILLSWITCH_CAPABILITIES: AnyCapability[] = [killswitchStatusCapability, killswitchOnCapability, killswitchOffCapability];
