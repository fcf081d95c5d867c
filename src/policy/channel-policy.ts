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
  // Remembered per policy file (a reload brings a new one) and conversation: every event asks, twice.
  let byTransport = RESOLVED.get(policy);
  if (!byTransport) RESOLVED.set(policy, (byTransport = new Map()));
  let byConversation = byTransport.get(transport);
  if (!byConversation) byTransport.set(transport, (byConversation = new Map()));
  let r = byConversation.get(conversationId);
  if (!r) {
    if (byConversation.size >= RESOLVED_PER_TRANSPORT) byConversation.clear();
    r = Object.freeze(resolve(policy, transport, conversationId));
    byConversation.set(conversationId, r);
  }
  return r;
}

/** Resolved rules by policy file, transport and conversation (bounded per transport: cleared when full). */
const RESOLVED = new WeakMap<ChannelPolicyFile, Map<string, Map<string, ResolvedChannelRule>>>();
const RESOLVED_PER_TRANSPORT = 50_000;

function resolve(policy: ChannelPolicyFile, transport: string, conversationId: string): ResolvedChannelRule {
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
  const resolved = resolveChannelRule(policy, env.transport, env.conversation_id);
  // The decision depends on the rule, the chat type and (in groups) the mention only: one frozen decision per case,
  // shared by the events that meet it (fewer objects per event, and the trace encodes it once).
  let byChatType = DECIDED.get(resolved);
  if (!byChatType) DECIDED.set(resolved, (byChatType = new Map()));
  let pair = byChatType.get(env.chat_type);
  if (!pair) byChatType.set(env.chat_type, (pair = [undefined, undefined]));
  const i = env.mentions_bot ? 1 : 0;
  return (pair[i] ??= deepFreeze(channelDecision(resolved, env.chat_type, env.mentions_bot)));
}

/** Channel decisions per resolved rule: by chat type, then [not mentioned, mentioned]. */
const DECIDED = new WeakMap<ResolvedChannelRule, Map<string, [Decision | undefined, Decision | undefined]>>();

function channelDecision({ rule, matchedBy, key }: ResolvedChannelRule, chatType: Envelope["chat_type"], mentionsBot: boolean): Decision {
  const detail = { allowFrom: rule.allowFrom, chat_type: chatType, rule_source: matchedBy };
  const decision = (outcome: "allow" | "deny", reason: string): Decision => ({
    stage: "channel_policy",
    outcome,
    reason,
    matched_by: key,
    detail,
  });
  if (chatType === "dm") {
    return rule.dmPolicy === "deny" ? decision("deny", "deny_channel_policy_dm") : decision("allow", "channel_policy_allow");
  }
  if (rule.groupPolicy === "deny") return decision("deny", "deny_channel_policy_group");
  if (rule.requireMention && !mentionsBot) return decision("deny", "deny_channel_policy_mention_required");
  return decision("allow", "channel_policy_allow");
}

/** Freeze a decision and its detail (shared decisions must not change under the events holding them). */
export function deepFreeze(d: Decision): Decision {
  if (d.detail) Object.freeze(d.detail);
  return Object.freeze(d);
}
