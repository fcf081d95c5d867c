/** @module Tests for the policy file schemas: defaults, and error messages that name the key or path. */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  ChannelPolicyFileSchema,
  DEFAULT_CHANNEL_POLICY,
  DEFAULT_RBAC,
  DEFAULT_ROUTE_BINDINGS,
  RbacFileSchema,
  RouteBindingsFileSchema,
  channelKeyProblem,
  sessionKeyTemplateProblem,
} from "../../src/contracts/policy.ts";

/** Every issue as "path: message", so tests can assert both. */
function issuesOf(schema: z.ZodType, input: unknown): string[] {
  const r = schema.safeParse(input);
  if (r.success) return [];
  return r.error.issues.map((i) => `${i.path.map(String).join(".")}: ${i.message}`);
}

describe("defaults", () => {
  it("channel policy defaults are secure", () => {
    expect(DEFAULT_CHANNEL_POLICY).toEqual({
      schema_version: 1,
      strictMode: false,
      pairing: { silent: false, code_ttl_ms: 3_600_000, max_pending_per_channel: 3, max_attempts_per_actor_per_hour: 5 },
      email: { max_replies_per_sender_per_hour: 10 },
      defaultPolicy: { dmPolicy: "allow", allowFrom: "allowlist_or_pairing", groupPolicy: "deny", requireMention: true },
      channels: {},
    });
  });

  it("route bindings and rbac default to empty", () => {
    expect(DEFAULT_ROUTE_BINDINGS).toEqual({ schema_version: 1, bindings: [] });
    expect(DEFAULT_RBAC).toEqual({ schema_version: 1, admins: [], operators: [], capabilities: {} });
  });

  it("a partial defaultPolicy keeps the secure defaults for the fields it leaves out", () => {
    const p = ChannelPolicyFileSchema.parse({ schema_version: 1, defaultPolicy: { groupPolicy: "allow" } });
    expect(p.defaultPolicy).toEqual({ dmPolicy: "allow", allowFrom: "allowlist_or_pairing", groupPolicy: "allow", requireMention: true });
  });

  it("overrides keep only the fields they set (no defaults leak in)", () => {
    const p = ChannelPolicyFileSchema.parse({ schema_version: 1, channels: { "telegram:-100": { requireMention: false } } });
    expect(p.channels).toEqual({ "telegram:-100": { requireMention: false } });
  });

  it("a route binding gets every default", () => {
    const f = RouteBindingsFileSchema.parse({ schema_version: 1, bindings: [{ binding_id: "b1" }] });
    expect(f.bindings[0]).toEqual({
      binding_id: "b1",
      transport: "*",
      account_id: "*",
      conversation_id: "*",
      actor_id: "*",
      phase: "delegated_step",
      category_hint: "general",
      session_key_template: "{transport}:{conversation_id}",
      responder: "ack",
    });
  });

  it("defaults are fresh objects, not shared between parses", () => {
    const a = ChannelPolicyFileSchema.parse({ schema_version: 1 });
    const b = ChannelPolicyFileSchema.parse({ schema_version: 1 });
    expect(a.channels).not.toBe(b.channels);
    expect(a.defaultPolicy).not.toBe(b.defaultPolicy);
  });
});

describe("channel policy file errors", () => {
  it("requires schema_version 1", () => {
    expect(issuesOf(ChannelPolicyFileSchema, {})).toHaveLength(1);
    expect(issuesOf(ChannelPolicyFileSchema, { schema_version: 2 })[0]).toMatch(/^schema_version: /);
  });

  it("rejects unknown keys at every level, naming them", () => {
    expect(issuesOf(ChannelPolicyFileSchema, { schema_version: 1, strict: true })).toEqual([': Unrecognized key: "strict"']);
    expect(issuesOf(ChannelPolicyFileSchema, { schema_version: 1, defaultPolicy: { dmpolicy: "deny" } })).toEqual([
      'defaultPolicy: Unrecognized key: "dmpolicy"',
    ]);
    expect(issuesOf(ChannelPolicyFileSchema, { schema_version: 1, pairing: { ttl: 5 } })).toEqual(['pairing: Unrecognized key: "ttl"']);
    expect(
      issuesOf(ChannelPolicyFileSchema, { schema_version: 1, channels: { "telegram:1": { dmPolicy: "deny", mention: true } } }),
    ).toEqual(['channels.telegram:1: Unrecognized key: "mention"']);
  });

  it("rejects bad enum values with the path", () => {
    const issues = issuesOf(ChannelPolicyFileSchema, { schema_version: 1, channels: { "discord:9": { allowFrom: "everyone" } } });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^channels\.discord:9\.allowFrom: /);
  });

  it.each([
    ["tele*:1", "partial wildcard"],
    ["telegram:12*", "partial wildcard"],
    ["*:123", "partial wildcard"],
    ["telegram:*1", "partial wildcard"],
    ["*:*", "partial wildcard"],
    ["slack:1", 'unknown transport "slack"'],
    ["Telegram:1", 'unknown transport "Telegram"'],
    ["telegram", "no transport prefix"],
    ["telegram:", "empty or space-padded conversation id"],
    ["telegram: 1", "empty or space-padded conversation id"],
  ])("rejects channel key %s (%s), naming the key and what is allowed", (key, what) => {
    const issues = issuesOf(ChannelPolicyFileSchema, { schema_version: 1, channels: { [key]: { dmPolicy: "deny" } } });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toContain(`channels.${key}: channel key "${key}"`);
    expect(issues[0]).toContain(what);
    expect(issues[0]).toContain('"<transport>:<conversation_id>", "<transport>:*" or "*"');
    expect(issues[0]).toContain("telegram, discord, whatsapp, email");
  });

  it.each(["*", "telegram:*", "telegram:-1001234", "whatsapp:phone-55:15551234567", "email:*", "discord:ops-room"])(
    "accepts channel key %s",
    (key) => {
      expect(channelKeyProblem(key)).toBeNull();
      expect(issuesOf(ChannelPolicyFileSchema, { schema_version: 1, channels: { [key]: { dmPolicy: "deny" } } })).toEqual([]);
    },
  );

  it("rejects an empty override and says to remove the key or set a field", () => {
    expect(issuesOf(ChannelPolicyFileSchema, { schema_version: 1, channels: { "telegram:1": {} } })).toEqual([
      "channels.telegram:1: empty override: remove the key or set a field (dmPolicy, allowFrom, groupPolicy, requireMention)",
    ]);
  });

  it("accepts an override that sets allowFrom while denying both DMs and groups (a harmless no-op)", () => {
    const input = { schema_version: 1, channels: { "telegram:1": { allowFrom: "any", dmPolicy: "deny", groupPolicy: "deny" } } };
    expect(issuesOf(ChannelPolicyFileSchema, input)).toEqual([]);
  });

  it("reports a bad key and a bad value in the same file", () => {
    const issues = issuesOf(ChannelPolicyFileSchema, {
      schema_version: 1,
      channels: { "tele*:1": { dmPolicy: "deny" }, "telegram:2": { dmPolicy: "maybe" } },
    });
    expect(issues).toHaveLength(2);
    expect(issues[0]).toMatch(/^channels\.tele\*:1: channel key "tele\*:1" uses a partial wildcard/);
    expect(issues[1]).toMatch(/^channels\.telegram:2\.dmPolicy: /);
  });

  it("rejects non-positive pairing limits", () => {
    expect(issuesOf(ChannelPolicyFileSchema, { schema_version: 1, pairing: { max_pending_per_channel: 0 } })[0]).toMatch(
      /^pairing\.max_pending_per_channel: /,
    );
  });
});

describe("route bindings file errors", () => {
  const file = (bindings: unknown[]) => ({ schema_version: 1, bindings });

  it("rejects duplicate binding ids, naming both indexes", () => {
    const issues = issuesOf(RouteBindingsFileSchema, file([{ binding_id: "ops" }, { binding_id: "x" }, { binding_id: "ops" }]));
    expect(issues).toEqual(['bindings.2.binding_id: duplicate binding_id "ops" at bindings[0] and bindings[2]']);
  });

  it.each([
    ["account_id", "acc*"],
    ["conversation_id", "-100*"],
    ["actor_id", "*42"],
  ])("rejects a partial wildcard in %s", (field, value) => {
    const issues = issuesOf(RouteBindingsFileSchema, file([{ binding_id: "b", [field]: value }]));
    expect(issues).toEqual([`bindings.0.${field}: ${field} "${value}" uses a partial wildcard; use an exact value or "*"`]);
  });

  it("rejects an unknown transport selector and partial wildcards in it", () => {
    expect(issuesOf(RouteBindingsFileSchema, file([{ binding_id: "b", transport: "slack" }]))).toEqual([
      'bindings.0.transport: transport "slack" is not "*" or one of telegram, discord, whatsapp, email',
    ]);
    expect(issuesOf(RouteBindingsFileSchema, file([{ binding_id: "b", transport: "tele*" }]))).toHaveLength(1);
  });

  it("rejects empty selectors", () => {
    expect(issuesOf(RouteBindingsFileSchema, file([{ binding_id: "b", actor_id: "" }]))[0]).toMatch(/^bindings\.0\.actor_id: /);
  });

  it("rejects unknown placeholders in session_key_template, naming the placeholder and the known ones", () => {
    const issues = issuesOf(RouteBindingsFileSchema, file([{ binding_id: "b", session_key_template: "s-{user}-{role}" }]));
    expect(issues).toEqual([
      'bindings.0.session_key_template: unknown placeholder "{user}" in "s-{user}-{role}"; known: {transport} {account_id} {conversation_id} {actor_id} {thread_id} {role} {binding_id}',
    ]);
  });

  it("rejects unbalanced braces and accepts every known placeholder", () => {
    expect(sessionKeyTemplateProblem("s-{role")).toMatch(/^unbalanced brace in "s-\{role"/);
    expect(sessionKeyTemplateProblem("s-role}")).toMatch(/^unbalanced brace/);
    expect(sessionKeyTemplateProblem("{}")).toMatch(/^unknown placeholder "\{\}"/);
    expect(sessionKeyTemplateProblem("{transport}/{account_id}/{conversation_id}/{actor_id}/{thread_id}/{role}/{binding_id}")).toBeNull();
    expect(sessionKeyTemplateProblem("session-{role}")).toBeNull();
  });

  it("rejects bad binding ids, unknown fields and bad enums with paths", () => {
    expect(issuesOf(RouteBindingsFileSchema, file([{ binding_id: "has space" }]))[0]).toMatch(/^bindings\.0\.binding_id: binding_id must/);
    expect(issuesOf(RouteBindingsFileSchema, file([{ binding_id: "" }]))[0]).toMatch(/^bindings\.0\.binding_id: /);
    expect(issuesOf(RouteBindingsFileSchema, file([{ binding_id: "b", agent: "x" }]))).toEqual(['bindings.0: Unrecognized key: "agent"']);
    expect(issuesOf(RouteBindingsFileSchema, file([{ binding_id: "b", phase: "plan" }]))[0]).toMatch(/^bindings\.0\.phase: /);
    expect(issuesOf(RouteBindingsFileSchema, file([{ binding_id: "b", responder: "Not A Name" }]))[0]).toMatch(/^bindings\.0\.responder: /);
    // A configured responder's name passes the schema; that it exists is checked against tau.yaml (checkResponders).
    expect(issuesOf(RouteBindingsFileSchema, file([{ binding_id: "b", responder: "assistant" }]))).toEqual([]);
  });

  it("accepts the runbook example", () => {
    const f = RouteBindingsFileSchema.parse(
      file([
        {
          binding_id: "discord-ops",
          transport: "discord",
          account_id: "discord-main",
          conversation_id: "ops-room",
          actor_id: "*",
          phase: "delegated_step",
          category_hint: "incident",
          session_key_template: "session-{role}",
        },
      ]),
    );
    expect(f.bindings[0]?.responder).toBe("ack");
  });
});

describe("rbac file errors", () => {
  it("accepts actor keys and capability overrides", () => {
    const f = RbacFileSchema.parse({
      schema_version: 1,
      admins: ["telegram:4242"],
      operators: ["discord:80351110224678912"],
      capabilities: { "communications.mail.search": "viewer" },
    });
    expect(f.capabilities).toEqual({ "communications.mail.search": "viewer" });
  });

  it.each(["4242", "telegram:", "slack:1", "telegram:*", "telegram:12*"])("rejects actor key %s in admins", (key) => {
    const issues = issuesOf(RbacFileSchema, { schema_version: 1, admins: [key] });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toContain(`admins.0: actor key "${key}" must be "<transport>:<actor_id>"`);
  });

  it("rejects bad capability ids and roles, naming the key", () => {
    expect(issuesOf(RbacFileSchema, { schema_version: 1, capabilities: { "Mail Search": "viewer" } })).toEqual([
      "capabilities.Mail Search: capability id like communications.mail.search",
    ]);
    expect(issuesOf(RbacFileSchema, { schema_version: 1, capabilities: { "communications.mail.search": "root" } })[0]).toMatch(
      /^capabilities\.communications\.mail\.search: /,
    );
    expect(issuesOf(RbacFileSchema, { schema_version: 1, owners: [] })).toEqual([': Unrecognized key: "owners"']);
  });
});
