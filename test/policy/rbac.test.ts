/** @module Tests for RBAC: role resolution and capability checks with overrides (PRODUCT.md §6). */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ROLES, type Role } from "../../src/contracts/decision.ts";
import { RbacFileSchema, type RbacFile } from "../../src/contracts/policy.ts";
import { decideRbac, resolveRole } from "../../src/policy/rbac.ts";

const rbac = (input: Record<string, unknown> = {}): RbacFile => RbacFileSchema.parse({ schema_version: 1, ...input });
const chat = { surface: "chat" as const, allowlisted: false, paired: false, rbac: rbac() };

describe("resolveRole", () => {
  it("the local CLI user is admin", () => {
    expect(resolveRole({ ...chat, surface: "cli", actorKey: null })).toBe("admin");
  });

  it("admins are granted explicitly in rbac.yaml", () => {
    const r = rbac({ admins: ["telegram:4242"] });
    expect(resolveRole({ ...chat, rbac: r, actorKey: "telegram:4242" })).toBe("admin");
    expect(resolveRole({ ...chat, rbac: r, actorKey: "discord:4242" })).toBe("viewer");
  });

  it("allowlisted actors are operators", () => {
    expect(resolveRole({ ...chat, actorKey: "telegram:1", allowlisted: true })).toBe("operator");
    expect(resolveRole({ ...chat, actorKey: "telegram:1", allowlisted: true, paired: true })).toBe("operator");
  });

  it("rbac.yaml operators are operators without the allowlist", () => {
    expect(resolveRole({ ...chat, rbac: rbac({ operators: ["email:ops"] }), actorKey: "email:ops" })).toBe("operator");
  });

  it("paired-only actors are viewers", () => {
    expect(resolveRole({ ...chat, actorKey: "telegram:1", paired: true })).toBe("viewer");
  });

  it("unknown actors and actors without an id are viewers; admin is never inferred", () => {
    expect(resolveRole({ ...chat, actorKey: "telegram:1" })).toBe("viewer");
    expect(resolveRole({ ...chat, actorKey: null, allowlisted: false, paired: true })).toBe("viewer");
  });

  it("admin wins over operator listings", () => {
    const r = rbac({ admins: ["telegram:1"], operators: ["telegram:1"] });
    expect(resolveRole({ ...chat, rbac: r, actorKey: "telegram:1", allowlisted: true })).toBe("admin");
  });
});

describe("decideRbac", () => {
  it("allows when the role meets the declared role", () => {
    expect(decideRbac({ capabilityId: "communications.mail.search", declaredRole: "operator", role: "operator", rbac: rbac() })).toEqual({
      stage: "rbac",
      outcome: "allow",
      reason: "command_rbac_allowed",
      matched_by: "capability.declared",
      detail: { capability: "communications.mail.search", need: "operator", have: "operator" },
    });
  });

  it("denies (fail closed) when the role is insufficient", () => {
    expect(decideRbac({ capabilityId: "communications.send.execute", declaredRole: "operator", role: "viewer", rbac: rbac() })).toEqual({
      stage: "rbac",
      outcome: "deny",
      reason: "command_rbac_denied",
      matched_by: "capability.declared",
      detail: { capability: "communications.send.execute", need: "operator", have: "viewer" },
    });
  });

  it("rbac.yaml may raise a capability's role", () => {
    const r = rbac({ capabilities: { "communications.mail.search": "admin" } });
    expect(decideRbac({ capabilityId: "communications.mail.search", declaredRole: "viewer", role: "operator", rbac: r })).toEqual({
      stage: "rbac",
      outcome: "deny",
      reason: "command_rbac_denied",
      matched_by: "rbac.capabilities",
      detail: { capability: "communications.mail.search", need: "admin", have: "operator" },
    });
  });

  it("rbac.yaml may lower a capability's role", () => {
    const r = rbac({ capabilities: { "communications.stack.status": "viewer" } });
    expect(decideRbac({ capabilityId: "communications.stack.status", declaredRole: "admin", role: "viewer", rbac: r }).outcome).toBe(
      "allow",
    );
  });

  it("an override for another capability does not apply", () => {
    const r = rbac({ capabilities: { "communications.stack.status": "viewer" } });
    expect(decideRbac({ capabilityId: "communications.mail.search", declaredRole: "admin", role: "viewer", rbac: r }).outcome).toBe("deny");
  });

  it("property: allowed exactly when role ≥ need, in the viewer < operator < admin order", () => {
    const order: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
    const roleArb = fc.constantFrom(...ROLES);
    fc.assert(
      fc.property(roleArb, roleArb, fc.option(roleArb, { nil: undefined }), (declared, have, override) => {
        const r = rbac(override === undefined ? {} : { capabilities: { "x.y": override } });
        const d = decideRbac({ capabilityId: "x.y", declaredRole: declared, role: have, rbac: r });
        const need = override ?? declared;
        expect(d.outcome).toBe(order[have] >= order[need] ? "allow" : "deny");
        expect(d.detail?.need).toBe(need);
      }),
    );
  });
});
