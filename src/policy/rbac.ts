/** @module RBAC: an actor's role and whether it may run a capability (PRODUCT.md §6). */
import { roleAtLeast, type Decision, type Role } from "../contracts/decision.ts";
import type { RbacFile } from "../contracts/policy.ts";

/** Who is asking: actor key `<transport>:<actor id>` (null without an id), allowlist/pairing facts, and the surface. */
interface RoleInput {
  actorKey: string | null;
  allowlisted: boolean;
  paired: boolean;
  rbac: RbacFile;
  surface: "cli" | "chat";
}

/**
 * The caller's role, first match: local CLI → admin; listed in `admins` → admin; allowlisted or listed in
 * `operators` → operator; anyone else (paired-only included) → viewer. Admin is never inferred from chat facts.
 */
export function resolveRole(input: RoleInput): Role {
  if (input.surface === "cli") return "admin";
  const key = input.actorKey;
  if (key !== null && input.rbac.admins.includes(key)) return "admin";
  if (input.allowlisted || (key !== null && input.rbac.operators.includes(key))) return "operator";
  return "viewer";
}

/** What the RBAC stage needs: the capability, the role it declares, the caller's role, and the overrides. */
interface RbacInput {
  capabilityId: string;
  declaredRole: Role;
  role: Role;
  rbac: RbacFile;
}

/**
 * Stage `rbac`: the required role is `rbac.capabilities[capabilityId]` when set (it may lower or raise the
 * declared role), else the declared role; the caller needs at least that role (viewer < operator < admin).
 */
export function decideRbac(input: RbacInput): Decision {
  const { capabilityId, declaredRole, role, rbac } = input;
  const overridden = Object.hasOwn(rbac.capabilities, capabilityId);
  const need = (overridden ? rbac.capabilities[capabilityId] : undefined) ?? declaredRole;
  const allowed = roleAtLeast(role, need);
  return {
    stage: "rbac",
    outcome: allowed ? "allow" : "deny",
    reason: allowed ? "command_rbac_allowed" : "command_rbac_denied",
    matched_by: overridden ? "rbac.capabilities" : "capability.declared",
    detail: { capability: capabilityId, need, have: role },
  };
}
