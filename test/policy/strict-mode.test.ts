/** @module Tests for strict mode: open-DM combinations are errors under strictMode, warnings otherwise. */
import { describe, expect, it } from "vitest";
import { ChannelPolicyFileSchema, type ChannelPolicyFile } from "../../src/contracts/policy.ts";
import { checkChannelPolicy } from "../../src/policy/strict-mode.ts";

const policy = (input: Record<string, unknown>): ChannelPolicyFile => ChannelPolicyFileSchema.parse({ schema_version: 1, ...input });

describe("checkChannelPolicy", () => {
  it("the secure defaults have no issues", () => {
    expect(checkChannelPolicy(policy({ strictMode: true }))).toEqual([]);
  });

  it("an open default is an error under strictMode", () => {
    expect(checkChannelPolicy(policy({ strictMode: true, defaultPolicy: { dmPolicy: "allow", allowFrom: "any" } }))).toEqual([
      {
        key: "defaultPolicy",
        code: "strict_mode_open_dm",
        severity: "error",
        message:
          'defaultPolicy: dmPolicy "allow" with allowFrom "any" lets anyone DM the bot; set allowFrom to "allowlist_or_pairing" or dmPolicy to "deny"',
      },
    ]);
  });

  it("the same finding is a warning when strictMode is off", () => {
    const issues = checkChannelPolicy(policy({ defaultPolicy: { allowFrom: "any" } }));
    expect(issues.map((i) => [i.key, i.severity])).toEqual([["defaultPolicy", "warning"]]);
  });

  it("checks effective rules: an override setting only allowFrom any inherits dmPolicy allow", () => {
    const p = policy({ strictMode: true, channels: { "telegram:42": { allowFrom: "any" } } });
    expect(checkChannelPolicy(p).map((i) => i.key)).toEqual(["telegram:42"]);
  });

  it("a wildcard that opens DMs is reported for itself and every key it reaches", () => {
    const p = policy({
      strictMode: true,
      channels: { "*": { allowFrom: "any" }, "telegram:*": { groupPolicy: "allow" }, "discord:1": { dmPolicy: "deny" } },
    });
    expect(checkChannelPolicy(p).map((i) => i.key)).toEqual(["*", "telegram:*"]);
  });

  it("an open default closed by every override is still reported (it applies to unkeyed conversations)", () => {
    const p = policy({ strictMode: true, defaultPolicy: { allowFrom: "any" }, channels: { "*": { dmPolicy: "deny" } } });
    expect(checkChannelPolicy(p).map((i) => i.key)).toEqual(["defaultPolicy"]);
  });

  it("open groups with allowFrom any are not an open-DM issue when DMs are denied", () => {
    const p = policy({ strictMode: true, channels: { "discord:ops-room": { dmPolicy: "deny", allowFrom: "any", groupPolicy: "allow" } } });
    expect(checkChannelPolicy(p)).toEqual([]);
  });

  it("reports in a stable order: defaultPolicy, then keys sorted", () => {
    const p = policy({
      defaultPolicy: { allowFrom: "any" },
      channels: { "whatsapp:1": { requireMention: false }, "discord:2": { requireMention: false }, "*": { requireMention: false } },
    });
    expect(checkChannelPolicy(p).map((i) => i.key)).toEqual(["defaultPolicy", "*", "discord:2", "whatsapp:1"]);
  });
});
