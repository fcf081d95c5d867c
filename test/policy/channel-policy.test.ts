/** @module Tests for channel policy: key precedence, field layering, DM/group/mention rules, and monotonicity properties. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TRANSPORTS } from "../../src/contracts/envelope.ts";
import type { Envelope } from "../../src/contracts/envelope.ts";
import { ChannelPolicyFileSchema, type ChannelPolicyFile, type ChannelRule, type ChannelRuleOverride } from "../../src/contracts/policy.ts";
import { decideAccess } from "../../src/policy/access.ts";
import { decideChannelPolicy, layerChannelRule, resolveChannelRule } from "../../src/policy/channel-policy.ts";
import { makeDm, makeEnvelope } from "../helpers/envelope-factory.ts";

const policy = (input: Record<string, unknown>): ChannelPolicyFile => ChannelPolicyFileSchema.parse({ schema_version: 1, ...input });

describe("resolveChannelRule", () => {
  const p = policy({
    defaultPolicy: { dmPolicy: "allow", allowFrom: "allowlist_or_pairing", groupPolicy: "deny", requireMention: true },
    channels: {
      "*": { allowFrom: "allowlist_only" },
      "telegram:*": { groupPolicy: "allow" },
      "telegram:-100": { requireMention: false },
    },
  });

  it("the exact channel key layers over transport wildcard, global wildcard and default", () => {
    expect(resolveChannelRule(p, "telegram", "-100")).toEqual({
      rule: { dmPolicy: "allow", allowFrom: "allowlist_only", groupPolicy: "allow", requireMention: false },
      matchedBy: "channel",
      key: "telegram:-100",
    });
  });

  it("falls back to the transport wildcard", () => {
    expect(resolveChannelRule(p, "telegram", "-200")).toEqual({
      rule: { dmPolicy: "allow", allowFrom: "allowlist_only", groupPolicy: "allow", requireMention: true },
      matchedBy: "transport_wildcard",
      key: "telegram:*",
    });
  });

  it("falls back to the global wildcard", () => {
    expect(resolveChannelRule(p, "discord", "1")).toEqual({
      rule: { dmPolicy: "allow", allowFrom: "allowlist_only", groupPolicy: "deny", requireMention: true },
      matchedBy: "global_wildcard",
      key: "*",
    });
  });

  it("falls back to defaultPolicy when no key matches", () => {
    const q = policy({ channels: { "telegram:-100": { dmPolicy: "deny" } } });
    expect(resolveChannelRule(q, "discord", "-100")).toEqual({
      rule: { dmPolicy: "allow", allowFrom: "allowlist_or_pairing", groupPolicy: "deny", requireMention: true },
      matchedBy: "default",
      key: "defaultPolicy",
    });
  });

  it("a more specific key wins a field both set", () => {
    const q = policy({ channels: { "*": { dmPolicy: "deny" }, "email:*": { dmPolicy: "allow" }, "email:ops": { dmPolicy: "deny" } } });
    expect(resolveChannelRule(q, "email", "ops").rule.dmPolicy).toBe("deny");
    expect(resolveChannelRule(q, "email", "other").rule.dmPolicy).toBe("allow");
    expect(resolveChannelRule(q, "whatsapp", "1").rule.dmPolicy).toBe("deny");
  });

  it("a conversation literally named * is not the transport wildcard match", () => {
    const q = policy({ channels: { "telegram:*": { dmPolicy: "deny" } } });
    expect(resolveChannelRule(q, "telegram", "*").matchedBy).toBe("transport_wildcard");
  });

  it("keys are matched exactly, not by prefix", () => {
    const q = policy({ channels: { "telegram:-100": { dmPolicy: "deny" } } });
    expect(resolveChannelRule(q, "telegram", "-1001").matchedBy).toBe("default");
    expect(resolveChannelRule(q, "telegram", "-10").matchedBy).toBe("default");
  });
});

describe("decideChannelPolicy", () => {
  it("allows a DM under the secure defaults, with matched_by and allowFrom", () => {
    expect(decideChannelPolicy(makeDm("4242"), policy({}))).toEqual({
      stage: "channel_policy",
      outcome: "allow",
      reason: "channel_policy_allow",
      matched_by: "defaultPolicy",
      detail: { allowFrom: "allowlist_or_pairing", chat_type: "dm", rule_source: "default" },
    });
  });

  it("denies groups under the secure defaults", () => {
    expect(decideChannelPolicy(makeEnvelope({ chat_type: "group" }), policy({}))).toEqual({
      stage: "channel_policy",
      outcome: "deny",
      reason: "deny_channel_policy_group",
      matched_by: "defaultPolicy",
      detail: { allowFrom: "allowlist_or_pairing", chat_type: "group", rule_source: "default" },
    });
  });

  it("dmPolicy deny denies DMs with deny_channel_policy_dm", () => {
    const p = policy({ channels: { "telegram:4242": { dmPolicy: "deny" } } });
    const d = decideChannelPolicy(makeDm("4242"), p);
    expect(d.outcome).toBe("deny");
    expect(d.reason).toBe("deny_channel_policy_dm");
    expect(d.matched_by).toBe("telegram:4242");
  });

  it("dmPolicy deny does not affect groups", () => {
    const p = policy({ defaultPolicy: { dmPolicy: "deny", groupPolicy: "allow", requireMention: false } });
    expect(decideChannelPolicy(makeEnvelope({ chat_type: "group", mentions_bot: false }), p).reason).toBe("channel_policy_allow");
  });

  it("groupPolicy deny does not affect DMs", () => {
    const p = policy({ defaultPolicy: { dmPolicy: "allow", groupPolicy: "deny" } });
    expect(decideChannelPolicy(makeDm("1"), p).reason).toBe("channel_policy_allow");
  });

  it("groupPolicy applies to broadcast channels too", () => {
    const d = decideChannelPolicy(makeEnvelope({ chat_type: "channel" }), policy({}));
    expect(d.reason).toBe("deny_channel_policy_group");
  });

  it("requireMention denies an unaddressed group message", () => {
    const p = policy({ channels: { "telegram:*": { groupPolicy: "allow", requireMention: true } } });
    const d = decideChannelPolicy(makeEnvelope({ chat_type: "group", mentions_bot: false }), p);
    expect(d).toEqual({
      stage: "channel_policy",
      outcome: "deny",
      reason: "deny_channel_policy_mention_required",
      matched_by: "telegram:*",
      detail: { allowFrom: "allowlist_or_pairing", chat_type: "group", rule_source: "transport_wildcard" },
    });
  });

  it("requireMention admits an addressed group message", () => {
    const p = policy({ channels: { "telegram:*": { groupPolicy: "allow", requireMention: true } } });
    expect(decideChannelPolicy(makeEnvelope({ chat_type: "group", mentions_bot: true }), p).outcome).toBe("allow");
  });

  it("requireMention false admits unaddressed group messages", () => {
    const p = policy({ channels: { "telegram:-1001234": { groupPolicy: "allow", requireMention: false } } });
    expect(decideChannelPolicy(makeEnvelope({ chat_type: "group", mentions_bot: false }), p).outcome).toBe("allow");
  });

  it("requireMention has no effect on DMs", () => {
    const p = policy({ defaultPolicy: { dmPolicy: "allow", requireMention: true } });
    expect(decideChannelPolicy(makeDm("7", { mentions_bot: false }), p).outcome).toBe("allow");
  });

  it("groupPolicy deny is reported before requireMention", () => {
    const d = decideChannelPolicy(makeEnvelope({ chat_type: "group", mentions_bot: false }), policy({}));
    expect(d.reason).toBe("deny_channel_policy_group");
  });

  it("looks up the key by the envelope's own transport", () => {
    const p = policy({ channels: { "discord:-1001234": { groupPolicy: "allow", requireMention: false } } });
    expect(decideChannelPolicy(makeEnvelope({ transport: "telegram", conversation_id: "-1001234" }), p).outcome).toBe("deny");
    expect(decideChannelPolicy(makeEnvelope({ transport: "discord", conversation_id: "-1001234" }), p).outcome).toBe("allow");
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Properties

const transportArb = fc.constantFrom(...TRANSPORTS);
const convArb = fc.constantFrom("1", "2", "-100");
const overrideArb: fc.Arbitrary<ChannelRuleOverride> = fc
  .record(
    {
      dmPolicy: fc.constantFrom("allow", "deny") as fc.Arbitrary<"allow" | "deny">,
      allowFrom: fc.constantFrom("any", "allowlist_or_pairing", "allowlist_only") as fc.Arbitrary<
        ChannelRuleOverride["allowFrom"] & string
      >,
      groupPolicy: fc.constantFrom("allow", "deny") as fc.Arbitrary<"allow" | "deny">,
      requireMention: fc.boolean(),
    },
    { requiredKeys: [] },
  )
  .filter((o) => Object.keys(o).length > 0);
const keyArb = fc.oneof(
  fc.constant("*"),
  transportArb.map((t) => `${t}:*`),
  fc.tuple(transportArb, convArb).map(([t, c]) => `${t}:${c}`),
);
const policyArb = fc
  .record({
    defaultPolicy: overrideArb,
    channels: fc.dictionary(keyArb, overrideArb, { maxKeys: 6 }),
  })
  .map((p) => policy(p));
const envArb = fc
  .record({
    transport: transportArb,
    conversation_id: convArb,
    chat_type: fc.constantFrom("dm", "group", "channel") as fc.Arbitrary<"dm" | "group" | "channel">,
    mentions_bot: fc.boolean(),
  })
  .map((o) => makeEnvelope(o));

describe("channel policy properties", () => {
  it("is deterministic: the same policy and event give the same decision", () => {
    fc.assert(
      fc.property(policyArb, envArb, (p, env) => {
        const copy = structuredClone(p);
        expect(decideChannelPolicy(env, p)).toEqual(decideChannelPolicy(env, copy));
      }),
    );
  });

  /** Channel policy, then access, as the pipeline runs them. */
  const decideBoth = (env: Envelope, p: ChannelPolicyFile, allowlisted: boolean, paired: boolean) => {
    const ch = decideChannelPolicy(env, p);
    if (ch.outcome === "deny") return ch;
    const { rule } = resolveChannelRule(p, env.transport, env.conversation_id);
    return decideAccess({ env, rule, allowlisted, paired });
  };
  const fullRuleArb = fc.record({
    dmPolicy: fc.constantFrom("allow", "deny") as fc.Arbitrary<"allow" | "deny">,
    allowFrom: fc.constantFrom("any", "allowlist_or_pairing", "allowlist_only") as fc.Arbitrary<ChannelRule["allowFrom"]>,
    groupPolicy: fc.constantFrom("allow", "deny") as fc.Arbitrary<"allow" | "deny">,
    requireMention: fc.boolean(),
  });
  const COMPLETIONS: ChannelRule[] = [];
  for (const dmPolicy of ["allow", "deny"] as const)
    for (const allowFrom of ["any", "allowlist_or_pairing", "allowlist_only"] as const)
      for (const groupPolicy of ["allow", "deny"] as const)
        for (const requireMention of [true, false]) COMPLETIONS.push({ dmPolicy, allowFrom, groupPolicy, requireMention });

  it("a specific key that fully sets a denying rule keeps the exact decision whatever wider key is added", () => {
    fc.assert(
      fc.property(
        policyArb,
        envArb,
        fullRuleArb,
        overrideArb,
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        (base, env, own, added, global, al, pa) => {
          const key = `${env.transport}:${env.conversation_id}`;
          const before = policy({ ...base, channels: { ...base.channels, [key]: own } });
          const d0 = decideBoth(env, before, al, pa);
          if (d0.outcome !== "deny") return;
          const after = policy({ ...before, channels: { ...before.channels, [global ? "*" : `${env.transport}:*`]: added } });
          expect(decideBoth(env, after, al, pa)).toEqual(d0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a denial forced by the fields the specific key sets is never turned into an allowance by a wider key", () => {
    // "Forced": the key's fields deny whatever the unset fields are (checked over all 24 completions).
    const denyingArb = fc.constantFrom<ChannelRuleOverride>(
      { dmPolicy: "deny" },
      { groupPolicy: "deny" },
      { groupPolicy: "allow", requireMention: true },
      { allowFrom: "allowlist_only", dmPolicy: "allow" },
      { allowFrom: "allowlist_or_pairing", groupPolicy: "allow", requireMention: false },
    );
    let exercised = 0;
    fc.assert(
      fc.property(
        policyArb,
        envArb,
        fc.oneof(denyingArb, overrideArb),
        overrideArb,
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        (base, env, own, added, global, al, pa) => {
          const key = `${env.transport}:${env.conversation_id}`;
          const forced = COMPLETIONS.every(
            (c) => decideBoth(env, policy({ defaultPolicy: layerChannelRule(c, own) }), al, pa).outcome === "deny",
          );
          if (!forced) return;
          exercised++;
          const before = policy({ ...base, channels: { ...base.channels, [key]: own } });
          expect(decideBoth(env, before, al, pa).outcome).toBe("deny");
          const after = policy({ ...before, channels: { ...before.channels, [global ? "*" : `${env.transport}:*`]: added } });
          expect(decideBoth(env, after, al, pa).outcome).toBe("deny");
        },
      ),
      { numRuns: 300 },
    );
    expect(exercised).toBeGreaterThan(30);
  });

  it("a channel with its own key is decided by that key", () => {
    fc.assert(
      fc.property(policyArb, envArb, overrideArb, (base, env, own) => {
        const key = `${env.transport}:${env.conversation_id}`;
        const p = policy({ ...base, channels: { ...base.channels, [key]: own } });
        expect(decideChannelPolicy(env, p).matched_by).toBe(key);
      }),
    );
  });
});
