/** @module Channel policy: which rule applies to a conversation, and whether its DMs/groups are open (PRODUCT.md §5). */
import type { Decision } from "../contracts/decision.ts";
import type { Envelope } from "../contracts/envelope.ts";
import type { ChannelPolicyFile, ChannelRule, ChannelRuleOverride } from "../contracts/policy.ts";

/** Which key decided the rule: the exact channel, `<transport>:*`, `*`, or only `defaultPolicy`. */
type ChannelRuleSource = "channel" | "transport_wildcard" | "global_wildcard" | "default";

/** The effective rule for one conversation and the most specific policy key that contributed to it. */
interface ResolvedChannelRule {
  rule: ChannelRule;
  matchedBy: ChannelRuleSource;
  /** The policy key behind `matchedBy`: `telegram:-100`, `telegram:*`, `*`, or `defaultPolicy`. */
  key: string;
}

/** Layer the fields an override sets over `base`; unset fields keep the base value. */
export function layerChannelRule(base: ChannelRule, o: ChannelRuleOverride | undefined): ChannelRule {
  if (o === undefined) return base;
  return {
    dmPolicy: o.dmPolicy ?? base.dmPolicy,
    allowFrom: o.allowFrom ?? base.allowFrom,
    groupPolicy: o.groupPolicy ?? base.groupPolicy,
    requireMention: o.requireMention ?? base.requireMention,
  };
}

function own(channels: ChannelPolicyFile["channels"], key: string): ChannelRuleOverride | undefined {
  return Object.hasOwn(channels, key) ? channels[key] : undefined;
}

/**
 * The effective rule for `<transport>:<conversationId>`. Merge, per field: `defaultPolicy`, then `*`, then
 * `<transport>:*`, then `<transport>:<conversationId>`; each layer overrides only the fields it sets, so the
 * most specific key that sets a field wins that field. `matchedBy` names the most specific key present.
 */
export function resolveChannelRule(policy: ChannelPolicyFile, transport: string, conversationId: string): ResolvedChannelRule {
  const globalKey = "*";
  const transportKey = `${transport}:*`;
  // A conversation literally named "*" must not be mistaken for the transport wildcard.
  const channelKey = conversationId === "*" ? null : `${transport}:${conversationId}`;
  const g = own(policy.channels, globalKey);
  const t = own(policy.channels, transportKey);
  const c = channelKey === null ? undefined : own(policy.channels, channelKey);
  const rule = layerChannelRule(layerChannelRule(layerChannelRule(policy.defaultPolicy, g), t), c);
  if (c !== undefined && channelKey !== null) return { rule, matchedBy: "channel", key: channelKey };
  if (t !== undefined) return { rule, matchedBy: "transport_wildcard", key: transportKey };
  if (g !== undefined) return { rule, matchedBy: "global_wildcard", key: globalKey };
  return { rule, matchedBy: "default", key: "defaultPolicy" };
}

/**
 * Stage `channel_policy`: may this conversation be answered at all? DMs follow `dmPolicy`; groups and broadcast
 * channels follow `groupPolicy` and then `requireMention`. Who the actor is is decided later, by `decideAccess`.
 */
export function decideChannelPolicy(env: Envelope, policy: ChannelPolicyFile): Decision {
  const { rule, matchedBy, key } = resolveChannelRule(policy, env.transport, env.conversation_id);
  const detail = { allowFrom: rule.allowFrom, chat_type: env.chat_type, rule_source: matchedBy };
  const decide = (outcome: "allow" | "deny", reason: string): Decision => ({
    stage: "channel_policy",
    outcome,
    reason,
    matched_by: key,
    detail,
  });
  if (env.chat_type === "dm") {
    return rule.dmPolicy === "deny" ? decide("deny", "deny_channel_policy_dm") : decide("allow", "channel_policy_allow");
  }
  if (rule.groupPolicy === "deny") return decide("deny", "deny_channel_policy_group");
  if (rule.requireMention && !env.mentions_bot) return decide("deny", "deny_channel_policy_mention_required");
  return decide("allow", "channel_policy_allow");
}
