/** @module Tests for access: allowFrom, allowlist, DM-only pairing and missing actor ids (PRODUCT.md §5, §10). */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ChannelRule } from "../../src/contracts/policy.ts";
import { decideAccess } from "../../src/policy/access.ts";
import { makeDm, makeEnvelope } from "../helpers/envelope-factory.ts";

const rule = (allowFrom: ChannelRule["allowFrom"]): ChannelRule => ({
  dmPolicy: "allow",
  allowFrom,
  groupPolicy: "allow",
  requireMention: true,
});
const dm = makeDm("4242");
const group = makeEnvelope({ chat_type: "group" });

describe("decideAccess", () => {
  it("allowFrom any admits anyone, even without an actor id", () => {
    expect(decideAccess({ env: makeDm(null), rule: rule("any"), allowlisted: false, paired: false })).toEqual({
      stage: "access",
      outcome: "allow",
      reason: "allow_channel_policy_allow_from_any",
      matched_by: "allowFrom:any",
      detail: { allowFrom: "any", chat_type: "dm" },
    });
    expect(decideAccess({ env: group, rule: rule("any"), allowlisted: false, paired: false }).reason).toBe(
      "allow_channel_policy_allow_from_any",
    );
  });

  it("a missing actor id is denied under allowlist_or_pairing and allowlist_only", () => {
    for (const allowFrom of ["allowlist_or_pairing", "allowlist_only"] as const) {
      expect(decideAccess({ env: makeDm(null), rule: rule(allowFrom), allowlisted: true, paired: true })).toEqual({
        stage: "access",
        outcome: "deny",
        reason: "deny_actor_id_missing",
        matched_by: `allowFrom:${allowFrom}`,
        detail: { allowFrom, chat_type: "dm", pairing_eligible: false },
      });
    }
  });

  it("allowlisted and paired in a DM under allowlist_or_pairing", () => {
    expect(decideAccess({ env: dm, rule: rule("allowlist_or_pairing"), allowlisted: true, paired: true })).toEqual({
      stage: "access",
      outcome: "allow",
      reason: "allow_allowlist_and_pairing",
      matched_by: "allowlist+pairing",
      detail: { allowFrom: "allowlist_or_pairing", chat_type: "dm" },
    });
  });

  it("allowlisted only", () => {
    expect(decideAccess({ env: dm, rule: rule("allowlist_or_pairing"), allowlisted: true, paired: false }).reason).toBe("allow_allowlist");
    expect(decideAccess({ env: dm, rule: rule("allowlist_only"), allowlisted: true, paired: false }).reason).toBe("allow_allowlist");
    expect(decideAccess({ env: group, rule: rule("allowlist_or_pairing"), allowlisted: true, paired: false }).reason).toBe(
      "allow_allowlist",
    );
  });

  it("paired only admits in a DM under allowlist_or_pairing", () => {
    expect(decideAccess({ env: dm, rule: rule("allowlist_or_pairing"), allowlisted: false, paired: true })).toEqual({
      stage: "access",
      outcome: "allow",
      reason: "allow_pairing",
      matched_by: "pairing",
      detail: { allowFrom: "allowlist_or_pairing", chat_type: "dm" },
    });
  });

  it("pairing does not admit in groups: groups need the allowlist", () => {
    expect(decideAccess({ env: group, rule: rule("allowlist_or_pairing"), allowlisted: false, paired: true })).toEqual({
      stage: "access",
      outcome: "deny",
      reason: "deny_actor_not_allowlisted",
      matched_by: "allowFrom:allowlist_or_pairing",
      detail: { allowFrom: "allowlist_or_pairing", chat_type: "group", pairing_eligible: false },
    });
    const channel = makeEnvelope({ chat_type: "channel" });
    expect(decideAccess({ env: channel, rule: rule("allowlist_or_pairing"), allowlisted: false, paired: true }).reason).toBe(
      "deny_actor_not_allowlisted",
    );
  });

  it("in a group an allowlisted, paired actor is admitted by the allowlist alone", () => {
    expect(decideAccess({ env: group, rule: rule("allowlist_or_pairing"), allowlisted: true, paired: true }).reason).toBe(
      "allow_allowlist",
    );
  });

  it("pairing does not admit under allowlist_only", () => {
    expect(decideAccess({ env: dm, rule: rule("allowlist_only"), allowlisted: false, paired: true })).toEqual({
      stage: "access",
      outcome: "deny",
      reason: "deny_actor_not_allowlisted",
      matched_by: "allowFrom:allowlist_only",
      detail: { allowFrom: "allowlist_only", chat_type: "dm", pairing_eligible: false },
    });
    expect(decideAccess({ env: dm, rule: rule("allowlist_only"), allowlisted: true, paired: true }).reason).toBe("allow_allowlist");
  });

  it("an unknown actor in a DM under allowlist_or_pairing is denied and pairing-eligible", () => {
    expect(decideAccess({ env: dm, rule: rule("allowlist_or_pairing"), allowlisted: false, paired: false })).toEqual({
      stage: "access",
      outcome: "deny",
      reason: "deny_actor_not_paired_or_allowlisted",
      matched_by: "allowFrom:allowlist_or_pairing",
      detail: { allowFrom: "allowlist_or_pairing", chat_type: "dm", pairing_eligible: true },
    });
  });

  it("an unknown actor in a group under allowlist_or_pairing is not pairing-eligible", () => {
    const d = decideAccess({ env: group, rule: rule("allowlist_or_pairing"), allowlisted: false, paired: false });
    expect(d.reason).toBe("deny_actor_not_allowlisted");
    expect(d.detail?.pairing_eligible).toBe(false);
  });

  it("an unknown actor under allowlist_only is denied as not allowlisted", () => {
    expect(decideAccess({ env: dm, rule: rule("allowlist_only"), allowlisted: false, paired: false }).reason).toBe(
      "deny_actor_not_allowlisted",
    );
  });
});

describe("access properties", () => {
  const ruleArb = fc.record({
    dmPolicy: fc.constantFrom("allow", "deny") as fc.Arbitrary<"allow" | "deny">,
    allowFrom: fc.constantFrom("any", "allowlist_or_pairing", "allowlist_only") as fc.Arbitrary<ChannelRule["allowFrom"]>,
    groupPolicy: fc.constantFrom("allow", "deny") as fc.Arbitrary<"allow" | "deny">,
    requireMention: fc.boolean(),
  });
  const envArb = fc
    .record({
      chat_type: fc.constantFrom("dm", "group", "channel") as fc.Arbitrary<"dm" | "group" | "channel">,
      id: fc.option(fc.constantFrom("1", "4242"), { nil: null }),
    })
    .map(({ chat_type, id }) => makeEnvelope({ chat_type, actor: { id } }));

  it("is deterministic, and being allowlisted never turns an allow into a deny", () => {
    fc.assert(
      fc.property(envArb, ruleArb, fc.boolean(), (env, r, paired) => {
        const without = decideAccess({ env, rule: r, allowlisted: false, paired });
        expect(decideAccess({ env, rule: r, allowlisted: false, paired })).toEqual(without);
        if (without.outcome === "allow") expect(decideAccess({ env, rule: r, allowlisted: true, paired }).outcome).toBe("allow");
      }),
    );
  });

  it("outside DMs, pairing never changes the decision", () => {
    fc.assert(
      fc.property(envArb, ruleArb, fc.boolean(), (env, r, allowlisted) => {
        fc.pre(env.chat_type !== "dm");
        expect(decideAccess({ env, rule: r, allowlisted, paired: true })).toEqual(
          decideAccess({ env, rule: r, allowlisted, paired: false }),
        );
      }),
    );
  });
});
