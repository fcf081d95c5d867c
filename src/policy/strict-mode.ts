/** @module Strict mode: find unsafe open-DM rules for `tau policy check`, preflight and startup (PRODUCT.md §5). */
import type { ChannelPolicyFile, ChannelRule, ChannelRuleOverride } from "../contracts/policy.ts";
import { layerChannelRule as layer } from "./channel-policy.ts";

/** One finding. `error` fails preflight and startup (strictMode on); `warning` is reported only (strictMode off). */
interface PolicyIssue {
  /** `defaultPolicy` or the channel key whose effective rule is unsafe. */
  key: string;
  code: "strict_mode_open_dm";
  severity: "error" | "warning";
  message: string;
}

/**
 * Check the effective rule of `defaultPolicy` and of every override key (the key layered over its less specific
 * keys, as `resolveChannelRule` does). Every conversation's rule equals one of these, so nothing is missed.
 * Issues come in a stable order: `defaultPolicy`, then keys sorted.
 */
export function checkChannelPolicy(policy: ChannelPolicyFile): PolicyIssue[] {
  const channels = policy.channels;
  const get = (k: string): ChannelRuleOverride | undefined => (Object.hasOwn(channels, k) ? channels[k] : undefined);
  const effective = (key: string): ChannelRule => {
    let rule = policy.defaultPolicy;
    if (key === "defaultPolicy") return rule;
    rule = layer(rule, get("*"));
    if (key === "*") return rule;
    const transport = key.slice(0, key.indexOf(":"));
    rule = layer(rule, get(`${transport}:*`));
    return key.endsWith(":*") ? rule : layer(rule, get(key));
  };
  const severity = policy.strictMode ? "error" : "warning";
  const issues: PolicyIssue[] = [];
  for (const key of ["defaultPolicy", ...Object.keys(channels).sort()]) {
    const rule = effective(key);
    if (rule.dmPolicy === "allow" && rule.allowFrom === "any") {
      issues.push({
        key,
        code: "strict_mode_open_dm",
        severity,
        message: `${key}: dmPolicy "allow" with allowFrom "any" lets anyone DM the bot; set allowFrom to "allowlist_or_pairing" or dmPolicy to "deny"`,
      });
    }
  }
  return issues;
}
