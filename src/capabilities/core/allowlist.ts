/** @module `/tau allowlist list|add|remove`: granting chat access by stable id needs a second person. */
import { z } from "zod";
import { TRANSPORTS, type Transport } from "../../contracts/envelope.ts";
import { defineCapability, failed, reported } from "../capability.ts";

/**
 * The stable id of an actor per transport (PRODUCT.md §5): what inbound envelopes carry as `actor.id`, never a
 * username (mutable, reusable by someone else). WhatsApp: the phone (`wa_id`) or, for users whose phone Meta
 * withholds, the business-scoped user id `CC.` + up to 128 alphanumerics (PROVIDERS.md §10.3.3). Email: the
 * address, lower-cased as the email connector keys senders. Chat (`/tau allowlist add`) and CLI share this rule.
 */
export const STABLE_ACTOR_IDS: Record<Transport, { pattern: RegExp; what: string }> = {
  telegram: { pattern: /^[1-9]\d{0,15}$/, what: "a Telegram user id (a positive number, e.g. telegram:4242)" },
  discord: { pattern: /^\d{17,20}$/, what: "a Discord user id (a snowflake of 17–20 digits)" },
  whatsapp: {
    pattern: /^(\d{6,16}|[A-Z]{2}\.[A-Za-z0-9]{1,128})$/,
    what: "a WhatsApp phone id (wa_id, 6–16 digits) or business-scoped user id (e.g. whatsapp:US.13491208655302741918)",
  },
  email: { pattern: /^[^\s@:]+@[^\s@]+\.[^\s@]+$/, what: "an email address (e.g. email:ana@example.com)" },
};

const FIND_IT = "use the stable id, not a username; find it with /tau whoami";

/** Why `key` cannot be allowlisted (a sentence naming the key and the fix), or null when it is `<transport>:<stable id>`. */
export function actorKeyProblem(key: string): string | null {
  const i = key.indexOf(":");
  const transport = i < 0 ? "" : key.slice(0, i);
  if (!(TRANSPORTS as readonly string[]).includes(transport))
    return `"${key}" is not <transport>:<stable id> with transport one of ${TRANSPORTS.join(", ")} (e.g. telegram:4242); ${FIND_IT}`;
  const id = key.slice(i + 1);
  const rule = STABLE_ACTOR_IDS[transport as Transport];
  if (transport === "whatsapp" && /^[A-Z]{2}\.ENT\./.test(id))
    return `"${key}" is a parent business-scoped id (CC.ENT.…), which messages never come from: use the user's own id (CC.…); find it with /tau whoami`;
  if (!rule.pattern.test(id)) return `"${key}" is not ${rule.what}: ${FIND_IT}`;
  return null;
}

/** The key as inbound envelopes spell it: email senders are lower-cased by the email connector. */
const canonicalActorKey = (key: string): string => (key.startsWith("email:") ? key.toLowerCase() : key);

/** `allowlist add`: only a stable id (the rule above). */
const StableActorArg = z
  .object({
    actor: z.string().superRefine((v, ctx) => {
      const problem = actorKeyProblem(v);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
  })
  .strict();

/** `allowlist remove`: any stored key, so an entry made before the stable-id rule can still be removed. */
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
  args: StableActorArg.extend({ note: z.string().max(200).default("") }),
  positional: ["actor"],
  role: "admin",
  sideEffect: "write",
  approval: "two_person",
  run: (args, ctx) => {
    const actor = canonicalActorKey(args.actor);
    const [transport, ...rest] = actor.split(":");
    const added = ctx.services.store.atomically(() => {
      const ok = ctx.services.store.access.addAllowlist({
        actor_key: actor,
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
        target: actor,
        args: {},
        outcome: ok ? "added" : "exists",
        reason_code: ok ? "allowlist_added" : "allowlist_exists",
      });
      return ok;
    });
    return added ? reported("allowlist_added", `Allowlisted ${actor}.`) : reported("allowlist_exists", `${actor} was already allowlisted.`);
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
