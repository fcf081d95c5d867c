/**
 * @module Policy file contracts: `channel-policy.yaml`, `route-bindings.yaml` and `rbac.yaml` (PRODUCT.md §5, §6).
 * Strict and fully defaulted, so the pure policy layer never sees an undefined field.
 */
import { z } from "zod";
import { TRANSPORTS } from "./envelope.ts";
import { ROLES } from "./decision.ts";

const TRANSPORT_LIST = TRANSPORTS.join(", ");
const isTransport = (s: string): boolean => (TRANSPORTS as readonly string[]).includes(s);

// ---------------------------------------------------------------------------------------------------------------
// Channel policy

const DmPolicySchema = z.enum(["allow", "deny"]);
const AllowFromSchema = z.enum(["any", "allowlist_or_pairing", "allowlist_only"]);
const GroupPolicySchema = z.enum(["allow", "deny"]);

/** Who may talk in DMs and groups of one channel. `requireMention` applies to groups/channels only; it has no effect on DMs. */
export const ChannelRuleSchema = z
  .object({
    dmPolicy: DmPolicySchema.default("allow"),
    allowFrom: AllowFromSchema.default("allowlist_or_pairing"),
    groupPolicy: GroupPolicySchema.default("deny"),
    /** Groups and broadcast channels only: the bot must be addressed. No effect on DMs (a DM always addresses the bot). */
    requireMention: z.boolean().default(true),
  })
  .strict();
export type ChannelRule = z.infer<typeof ChannelRuleSchema>;
export type AllowFrom = ChannelRule["allowFrom"];

/** A per-channel override: only the fields it sets are layered over the less specific rules. Empty `{}` is refused. */
export const ChannelRuleOverrideSchema = z
  .object({
    dmPolicy: DmPolicySchema.optional(),
    allowFrom: AllowFromSchema.optional(),
    groupPolicy: GroupPolicySchema.optional(),
    requireMention: z.boolean().optional(),
  })
  .strict()
  .refine((o) => Object.values(o).some((v) => v !== undefined), {
    message: "empty override: remove the key or set a field (dmPolicy, allowFrom, groupPolicy, requireMention)",
  });
export type ChannelRuleOverride = z.infer<typeof ChannelRuleOverrideSchema>;

/** Why a channel key is not allowed, or null when it is one of `<transport>:<conversation_id>`, `<transport>:*`, `*`. */
export function channelKeyProblem(key: string): string | null {
  const allowed = `allowed: "<transport>:<conversation_id>", "<transport>:*" or "*" with transport one of ${TRANSPORT_LIST}`;
  if (key === "*") return null;
  const colon = key.indexOf(":");
  if (colon < 0) return `channel key "${key}" has no transport prefix; ${allowed}`;
  const transport = key.slice(0, colon);
  const rest = key.slice(colon + 1);
  if (transport.includes("*") || (rest !== "*" && rest.includes("*"))) {
    return `channel key "${key}" uses a partial wildcard; ${allowed} (no partial wildcards)`;
  }
  if (!isTransport(transport)) return `channel key "${key}" names unknown transport "${transport}"; ${allowed}`;
  if (rest.length === 0 || rest.trim() !== rest) {
    return `channel key "${key}" has an empty or space-padded conversation id; ${allowed}`;
  }
  return null;
}

const ChannelKeySchema = z.string().superRefine((key, ctx) => {
  const problem = channelKeyProblem(key);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** Surface the key's own message instead of zod's generic "Invalid key in record". */
const keyError = (iss: { code?: string; issues?: ReadonlyArray<{ message?: string }> }): string | undefined =>
  iss.code === "invalid_key" ? iss.issues?.[0]?.message : undefined;

export const PairingSettingsSchema = z
  .object({
    /** Issue codes but send no pairing reply. */
    silent: z.boolean().default(false),
    code_ttl_ms: z.number().int().positive().default(3_600_000),
    max_pending_per_channel: z.number().int().positive().default(3),
    max_attempts_per_actor_per_hour: z.number().int().positive().default(5),
  })
  .strict();
export type PairingSettings = z.infer<typeof PairingSettingsSchema>;

/**
 * Email loop breaker: at most this many replies to one sender per hour, whatever the headers said (auto-responders
 * that mark nothing; FreeScout's backstop is 10 per 3 h). Further mail from that sender is recorded, not answered
 * (`email_reply_rate_limited`).
 */
export const EmailReplySettingsSchema = z
  .object({
    max_replies_per_sender_per_hour: z.number().int().positive().max(1000).default(10),
  })
  .strict();
export type EmailReplySettings = z.infer<typeof EmailReplySettingsSchema>;

/** `policies/channel-policy.yaml`. */
export const ChannelPolicyFileSchema = z
  .object({
    schema_version: z.literal(1),
    /** Unsafe open-DM combinations (dmPolicy allow + allowFrom any) fail preflight and startup. */
    strictMode: z.boolean().default(false),
    pairing: PairingSettingsSchema.default(() => PairingSettingsSchema.parse({})),
    email: EmailReplySettingsSchema.default(() => EmailReplySettingsSchema.parse({})),
    defaultPolicy: ChannelRuleSchema.default(() => ChannelRuleSchema.parse({})),
    /** Overrides keyed `<transport>:<conversation_id>`, `<transport>:*` or `*`. */
    channels: z.record(ChannelKeySchema, ChannelRuleOverrideSchema, { error: keyError }).default(() => ({})),
  })
  .strict();
export type ChannelPolicyFile = z.infer<typeof ChannelPolicyFileSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Route bindings

/** Placeholders a `session_key_template` may use. */
export const SESSION_KEY_PLACEHOLDERS = [
  "transport",
  "account_id",
  "conversation_id",
  "actor_id",
  "thread_id",
  "role",
  "binding_id",
] as const;
export type SessionKeyPlaceholder = (typeof SESSION_KEY_PLACEHOLDERS)[number];

/** Why a session key template is invalid, or null. Braces only appear as `{known_placeholder}`. */
export function sessionKeyTemplateProblem(template: string): string | null {
  const known = SESSION_KEY_PLACEHOLDERS.map((p) => `{${p}}`).join(" ");
  for (const m of template.matchAll(/\{([^{}]*)\}/g)) {
    const name = m[1] ?? "";
    if (!(SESSION_KEY_PLACEHOLDERS as readonly string[]).includes(name)) {
      return `unknown placeholder "{${name}}" in "${template}"; known: ${known}`;
    }
  }
  if (/[{}]/.test(template.replace(/\{[^{}]*\}/g, ""))) return `unbalanced brace in "${template}"; known placeholders: ${known}`;
  return null;
}

const selector = (what: string) =>
  z
    .string()
    .min(1)
    .refine((s) => s === "*" || !s.includes("*"), {
      error: (iss) => `${what} "${String(iss.input)}" uses a partial wildcard; use an exact value or "*"`,
    })
    .default("*");

export const ROUTE_PHASES = ["planner", "delegated_step", "review"] as const;
export type RoutePhase = (typeof ROUTE_PHASES)[number];

/** A forward target: a chat transport tau can post to, a conversation id and an optional thread id. */
export const FORWARD_TO = /^(telegram|discord|whatsapp):([^:\s]+)(?::([^:\s]+))?$/;

/** One route binding: selectors (exact or `*`) and what a matching event gets. */
export const RouteBindingSchema = z
  .object({
    binding_id: z.string().regex(/^[A-Za-z0-9_.-]+$/, "binding_id must be non-empty and use only A-Z a-z 0-9 _ . -"),
    transport: z
      .string()
      .refine((s) => s === "*" || isTransport(s), {
        error: (iss) => `transport "${String(iss.input)}" is not "*" or one of ${TRANSPORT_LIST}`,
      })
      .default("*"),
    account_id: selector("account_id"),
    conversation_id: selector("conversation_id"),
    actor_id: selector("actor_id"),
    phase: z.enum(ROUTE_PHASES).default("delegated_step"),
    category_hint: z.string().min(1).default("general"),
    session_key_template: z
      .string()
      .min(1)
      .superRefine((t, ctx) => {
        const problem = sessionKeyTemplateProblem(t);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      })
      .default("{transport}:{conversation_id}"),
    /** A built-in (`ack`, `none`, `forward`) or a responder named under `responders:` in tau.yaml (checked when both are loaded). */
    responder: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,31}$/, "a responder name: ack, none, forward or one under responders in tau.yaml")
      .default("ack"),
    /**
     * With `responder: forward`: where to post a summary of the message instead of answering its sender,
     * `<transport>:<conversation_id>[:<thread_id>]` (e.g. `telegram:-1009876543210`), so `alerts@` mail reaches an ops chat.
     */
    forward_to: z
      .string()
      .regex(FORWARD_TO, "must be <telegram|discord|whatsapp>:<conversation_id>[:<thread_id>], e.g. telegram:-1009876543210")
      .optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.responder === "forward" && !b.forward_to)
      ctx.addIssue({ code: "custom", path: ["forward_to"], message: "responder forward needs forward_to (<transport>:<conversation_id>)" });
    if (b.responder !== "forward" && b.forward_to)
      ctx.addIssue({ code: "custom", path: ["forward_to"], message: "forward_to is only used with responder: forward" });
  });
export type RouteBinding = z.infer<typeof RouteBindingSchema>;

/** `policies/route-bindings.yaml`. Binding ids are unique; order matters (ties go to the earlier binding). */
export const RouteBindingsFileSchema = z
  .object({
    schema_version: z.literal(1),
    bindings: z.array(RouteBindingSchema).default(() => []),
  })
  .strict()
  .superRefine((file, ctx) => {
    const firstIndex = new Map<string, number>();
    file.bindings.forEach((b, i) => {
      const first = firstIndex.get(b.binding_id);
      if (first === undefined) firstIndex.set(b.binding_id, i);
      else {
        ctx.addIssue({
          code: "custom",
          path: ["bindings", i, "binding_id"],
          message: `duplicate binding_id "${b.binding_id}" at bindings[${first}] and bindings[${i}]`,
        });
      }
    });
  });
export type RouteBindingsFile = z.infer<typeof RouteBindingsFileSchema>;

// ---------------------------------------------------------------------------------------------------------------
// RBAC

/** A local operator in rbac.yaml: `cli:<os user name>` (what `tau … --as cli:<user>` and the OS user resolve to). */
const CLI_PRINCIPAL = /^cli:[A-Za-z0-9_][A-Za-z0-9_.@-]*$/;
/** A browser operator of the web control page: `web:<name>` (`tau ui login --as web:<name>`). */
const WEB_PRINCIPAL = /^web:[A-Za-z0-9_][A-Za-z0-9_.@-]*$/;

const ActorKeySchema = z.string().superRefine((key, ctx) => {
  const colon = key.indexOf(":");
  const transport = colon < 0 ? "" : key.slice(0, colon);
  const id = colon < 0 ? "" : key.slice(colon + 1);
  if (transport === "cli" && CLI_PRINCIPAL.test(key)) return;
  if (transport === "web" && WEB_PRINCIPAL.test(key)) return;
  if (!isTransport(transport) || id.length === 0 || id.includes("*") || id.trim() !== id) {
    ctx.addIssue({
      code: "custom",
      message: `actor key "${key}" must be "<transport>:<actor_id>" with a stable id (no wildcards), transport one of ${TRANSPORT_LIST}, or cli:<os user> for a local operator, or web:<name> for the web control page`,
    });
  }
});

const CapabilityIdSchema = z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/, "capability id like communications.mail.search");

/** `policies/rbac.yaml`: explicit admins, extra operators, and per-capability role overrides. */
export const RbacFileSchema = z
  .object({
    schema_version: z.literal(1),
    admins: z.array(ActorKeySchema).default(() => []),
    /** Operator grants beyond the allowlist (allowlisted actors are operators already). */
    operators: z.array(ActorKeySchema).default(() => []),
    /** Capability id → required role, overriding what the capability declares. */
    capabilities: z.record(CapabilityIdSchema, z.enum(ROLES), { error: keyError }).default(() => ({})),
  })
  .strict();
export type RbacFile = z.infer<typeof RbacFileSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Defaults and reason codes

/** Secure defaults: DMs by allowlist or pairing, groups denied, mention required, not strict. */
export const DEFAULT_CHANNEL_POLICY: ChannelPolicyFile = ChannelPolicyFileSchema.parse({ schema_version: 1 });
/** No bindings: every event gets the deterministic default route. */
export const DEFAULT_ROUTE_BINDINGS: RouteBindingsFile = RouteBindingsFileSchema.parse({ schema_version: 1 });
/** No admins, no extra operators, no overrides. */
export const DEFAULT_RBAC: RbacFile = RbacFileSchema.parse({ schema_version: 1 });

/**
 * Reason codes the policy layer emits beyond `POLICY_CODES` in reason-codes.ts (candidates to move there).
 */
export const POLICY_LAYER_CODES = [
  "channel_policy_allow",
  "pairing_rate_limited",
  "pairing_channel_full",
  "pairing_approved",
  "pairing_code_malformed",
  "pairing_code_unknown",
  "pairing_code_expired",
  "pairing_code_already_used",
  "route_binding_matched",
  "route_default",
  "command_rbac_allowed",
  "command_rbac_denied",
  "strict_mode_open_dm",
] as const;
export type PolicyLayerCode = (typeof POLICY_LAYER_CODES)[number];
