/** @module `/tau help`: the commands the caller may run, filtered by role. */
import { z } from "zod";
import { roleAtLeast } from "../../contracts/decision.ts";
import { defineCapability, reported } from "../capability.ts";

export const helpCapability = defineCapability({
  id: "tau.help",
  alias: ["help"],
  summary: "list the commands you may run",
  args: z.object({}).strict(),
  role: "viewer",
  sideEffect: "read",
  approval: "none",
  run: (_args, ctx) => {
    const prefix = ctx.services.config.commands.prefix;
    const rbac = ctx.services.policies.current()?.rbac.capabilities ?? {};
    const visible = ctx.services.registry
      .list()
      .filter((c) => roleAtLeast(ctx.role, (rbac[c.id] as typeof c.role | undefined) ?? c.role))
      .sort((a, b) => a.alias.join(" ").localeCompare(b.alias.join(" ")));
    const lines = visible.map(
      (c) =>
        `${prefix} ${c.alias.join(" ")}${c.positional?.length ? " " + c.positional.map((p) => `<${p}>`).join(" ") : ""} — ${c.summary}${c.approval !== "none" ? ` (${c.approval})` : ""}`,
    );
    return reported("command_help", [`Commands for your role (${ctx.role}):`, ...lines].join("\n"), {
      role: ctx.role,
      commands: visible.map((c) => c.id),
    });
  },
});
