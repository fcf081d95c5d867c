/** @module `/tau whoami`: the caller's principal, role and how it was granted. */
import { z } from "zod";
import { defineCapability, reported } from "../capability.ts";

export const whoamiCapability = defineCapability({
  id: "tau.whoami",
  alias: ["whoami"],
  summary: "show who tau thinks you are and your role",
  args: z.object({}).strict(),
  role: "viewer",
  sideEffect: "read",
  approval: "none",
  inline: true,
  run: (_args, ctx) => {
    const key = ctx.principal;
    // The runner's batch already knows the actor's admission (read ahead for the batch): no statement of its own.
    const { allowlisted, paired } = ctx.services.store.access.admission(key);
    const data = { principal: key, role: ctx.role, surface: ctx.surface, allowlisted, paired };
    return reported(
      "command_whoami",
      `You are ${key} (${ctx.role}); allowlisted: ${allowlisted ? "yes" : "no"}, paired: ${paired ? "yes" : "no"}.`,
      data,
    );
  },
});
