/** @module Approvals: may this principal approve (or deny) this pending request now? Pure (PRODUCT.md §6). */
import { roleAtLeast, type Decision, type Role } from "../contracts/decision.ts";

interface ApprovalFacts {
  id: string;
  status: string;
  approval: "confirm" | "two_person" | string;
  requester: string;
  expires_at_ms: number;
  args_hash: string;
  /** Hash recomputed from the stored arguments: differs when the row was changed after the request. */
  recomputed_hash: string;
}

/**
 * Stage `approval_use`, in order: unknown id → already decided (replay) → expired → arguments changed (stored
 * hash, or the hash prefix the approver quoted) → approver's role below the capability's → same principal for
 * `two_person` → allowed.
 */
export function decideApprovalUse(input: {
  approval: ApprovalFacts | null;
  approver: string;
  approverRole: Role;
  requiredRole: Role;
  now: number;
  quotedHash: string | null;
  action: "approve" | "deny";
}): Decision {
  const a = input.approval;
  const deny = (reason: string, detail: Decision["detail"] = {}): Decision => ({ stage: "approval_use", outcome: "deny", reason, detail });
  if (!a) return deny("approval_unknown");
  const detail = { id: a.id, kind: a.approval };
  if (a.status !== "pending") return deny("approval_replayed", { ...detail, status: a.status });
  if (input.now >= a.expires_at_ms) return deny("approval_expired", { ...detail, expires_at_ms: a.expires_at_ms });
  if (a.recomputed_hash !== a.args_hash) return deny("approval_args_mismatch", detail);
  if (input.quotedHash !== null && !a.args_hash.startsWith(input.quotedHash.toLowerCase()))
    return deny("approval_args_mismatch", { ...detail, quoted: input.quotedHash });
  if (!roleAtLeast(input.approverRole, input.requiredRole))
    return deny("approval_rbac_denied", { ...detail, need: input.requiredRole, have: input.approverRole });
  if (input.action === "approve" && a.approval === "two_person" && input.approver === a.requester)
    return deny("approval_same_principal", detail);
  return {
    stage: "approval_use",
    outcome: "allow",
    reason: input.action === "approve" ? "approval_granted" : "approval_denied_by_operator",
    detail,
  };
}
