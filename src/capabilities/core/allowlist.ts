/** @module `/tau allowlist list|add|remove`: granting chat access by stable id needs a second person. */
import { z } from "zod";
import { TRANSPORTS } from "../../contracts/envelope.ts";
import { defineCapability, failed, reported } from "../capability.ts";

const ActorArg = z
  .object({
    actor: z
      .string()
      .regex(new RegExp(`^(${TRANSPORTS.join("|")}):[A-Za-z0-9._@+-]+$`), "an actor key like telegram:4242 (stable id, not a username)"),
  })
  .strict();

export const allowlistListCapability = defineCapability({
  id: "tau.allowlist.list",
  alias: ["allowlist", "list"],
  summary: "allowlisted actors (operators)",
  args: z.object({}).strict(),
  role: "operator",
  sideEffect: "read",
  approval: "none",
  run: (_a, ctx) => {
    const rows = ctx.services.store.access.listAllowlist();
    return reported(
      "command_allowlist_list",
      rows.length ? rows.map((r) => `${r.actor_key}${r.note ? ` — ${r.note}` : ""}`).join("\n") : "The allowlist is empty.",
      { allowlist: rows },
    );
  },
});

export const allowlistAddCapability = defineCapability({
  id: "tau.allowlist.add",
  alias: ["allowlist", "add"],
  summary: "allowlist an actor by stable id (makes them an operator)",
  args: ActorArg.extend({ note: z.string().max(200).default("") }),
  positional: ["actor"],
  role: "admin",
  sideEffect: "write",
  approval: "two_person",
  run: (args, ctx) => {
    const [transport, ...rest] = args.actor.split(":");
    const added = ctx.services.store.atomically(() => {
      const ok = ctx.services.store.access.addAllowlist({
        actor_key: args.actor,
        transport: transport!,
        actor_id: rest.join(":"),
        note: args.note || `added by ${ctx.principal}`,
        added_by: ctx.principal,
        added_at_ms: ctx.now,
      });
      ctx.services.audit({
        actor: ctx.principal,
        surface: ctx.surface,
        action: "allowlist.add",
        target: args.actor,
        args: {},
        outcome: ok ? "added" : "exists",
        reason_code: ok ? "allowlist_added" : "allowlist_exists",
      });
      return ok;
    });
    return added
      ? reported("allowlist_added", `Allowlisted ${args.actor}.`)
      : reported("allowlist_exists", `${args.actor} was already allowlisted.`);
  },
});

export const allowlistRemoveCapability = defineCapability({
  id: "tau.allowlist.remove",
  alias: ["allowlist", "remove"],
  summary: "remove an actor from the allowlist",
  args: ActorArg,
  positional: ["actor"],
  role: "admin",
  sideEffect: "write",
  approval: "confirm",
  run: (args, ctx) => {
    const removed = ctx.services.store.atomically(() => {
      const ok = ctx.services.store.access.removeAllowlist(args.actor);
      ctx.services.audit({
        actor: ctx.principal,
        surface: ctx.surface,
        action: "allowlist.remove",
        target: args.actor,
        args: {},
        outcome: ok ? "removed" : "absent",
        reason_code: ok ? "allowlist_removed" : "allowlist_absent",
      });
      return ok;
    });
    return removed
      ? reported("allowlist_removed", `Removed ${args.actor}.`)
      : failed("allowlist_absent", `${args.actor} was not allowlisted.`);
  },
});
