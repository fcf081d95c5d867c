/**
 * @module `/tau help`: the commands the caller may run, filtered by role and grouped by area. Optional arguments are
 * shown `[like this]`, required ones `<like this>`.
 */
import { z } from "zod";
import { roleAtLeast } from "../../contracts/decision.ts";
import { defineCapability, reported } from "../capability.ts";
import type { AnyCapability } from "../registry.ts";

/** Help areas, in the order shown; the first whose test matches a capability id wins. */
const AREAS: { name: string; test: (id: string) => boolean }[] = [
  { name: "Basics", test: (id) => ["tau.help", "tau.whoami", "tau.status", "tau.health", "tau.forget"].includes(id) },
  { name: "Approvals", test: (id) => id === "tau.approve" || id === "tau.deny" },
  { name: "Access", test: (id) => id.startsWith("tau.allowlist.") || id.startsWith("tau.pairing.") },
  { name: "Kill switches", test: (id) => id.startsWith("tau.killswitch.") },
  {
    name: "Alerts and incidents",
    test: (id) => id.startsWith("communications.alerts.") || id.startsWith("communications.delivery.anomaly."),
  },
  { name: "Mail and messages", test: (id) => id.startsWith("communications.") },
  { name: "Calendar and contacts", test: (id) => id.startsWith("calendar.") || id.startsWith("contacts.") },
];

/** The area a capability is listed under. */
export function helpAreaOf(id: string): string {
  return AREAS.find((a) => a.test(id))?.name ?? "Other";
}

/** True when the capability's arguments accept the field missing. */
function isOptional(cap: AnyCapability, name: string): boolean {
  const shape = (cap.args as unknown as { shape?: Record<string, z.ZodType> }).shape;
  const field = shape?.[name];
  return field ? field.safeParse(undefined).success : false;
}

/** `/tau pairing approve <code>`, `/tau approve <id> [hash]`. */
export function usageOf(prefix: string, cap: AnyCapability): string {
  const args = (cap.positional ?? []).map((p) => (isOptional(cap, p) ? `[${p}]` : `<${p}>`));
  return [prefix, ...cap.alias, ...args].join(" ");
}

export const helpCapability = defineCapability({
  id: "tau.help",
  alias: ["help"],
  summary: "list the commands you may run",
  args: z.object({}).strict(),
  role: "viewer",
  sideEffect: "read",
  approval: "none",
  inline: true,
  run: (_args, ctx) => {
    const prefix = ctx.services.config.commands.prefix;
    const rbac = ctx.services.policies.current()?.rbac.capabilities ?? {};
    const visible = ctx.services.registry
      .list()
      .filter((c) => roleAtLeast(ctx.role, (rbac[c.id] as typeof c.role | undefined) ?? c.role))
      .sort((a, b) => a.alias.join(" ").localeCompare(b.alias.join(" ")));
    const lines: string[] = [`Commands for your role (${ctx.role}). <required> [optional]`];
    const names = [...AREAS.map((a) => a.name), "Other"];
    for (const area of names) {
      const caps = visible.filter((c) => helpAreaOf(c.id) === area);
      if (caps.length === 0) continue;
      lines.push("", `${area}:`);
      for (const c of caps)
        lines.push(
          `${usageOf(prefix, c)} — ${c.summary}${c.approval !== "none" ? ` (needs approval: ${c.approval === "two_person" ? "two people" : "confirm"})` : ""}`,
        );
    }
    return reported("command_help", lines.join("\n"), {
      role: ctx.role,
      commands: visible.map((c) => c.id),
    });
  },
});
