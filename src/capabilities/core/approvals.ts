/**
 * @module `/tau approve <id> [hash]` and `/tau deny <id>`: run an approved request exactly once, on behalf of its
 * requester; refuse unknown, replayed, expired, changed or self-approved (two_person) requests with reason codes.
 */
import { z } from "zod";
import type { Role } from "../../contracts/decision.ts";
import { decideApprovalUse } from "../../policy/index.ts";
import { argsHash } from "../args.ts";
import { defineCapability, failed, reported, type CapabilityContext, type CapabilityResult } from "../capability.ts";
import { executeCapability } from "../execute.ts";

const IdArgs = z
  .object({
    id: z.string().regex(/^ap_[a-z0-9]+$/i, "an approval id like ap_1a2b3c4d5e"),
    hash: z
      .string()
      .regex(/^[0-9a-f]{4,64}$/i)
      .optional(),
  })
  .strict();

/** Why an approval was refused, in words (chat shows the sentence table of src/commands/reason-sentences.ts instead). */
const REFUSED: Record<string, string> = {
  approval_unknown: "there is no such request",
  approval_replayed: "it was already decided",
  approval_expired: "it expired before anyone decided; ask again",
  approval_args_mismatch: "the arguments changed since it was asked for (or the quoted hash does not match)",
  approval_rbac_denied: "your role may not decide it",
  approval_same_principal: "you asked for it, and a second person must approve it (two_person)",
};

async function use(args: z.infer<typeof IdArgs>, ctx: CapabilityContext, action: "approve" | "deny"): Promise<CapabilityResult> {
  const s = ctx.services;
  const commands = s.store.commands;
  const row = commands.approval(args.id);
  const cap = row ? s.registry.get(row.capability_id) : undefined;
  const required = ((row && s.policies.current()?.rbac.capabilities[row.capability_id]) ?? cap?.role ?? "admin") as Role;
  const d = decideApprovalUse({
    approval: row
      ? {
          id: row.id,
          status: row.status,
          approval: row.approval,
          requester: row.requester,
          expires_at_ms: row.expires_at_ms,
          args_hash: row.args_hash,
          recomputed_hash: argsHash(row.capability_id, JSON.parse(row.args) as Record<string, unknown>),
        }
      : null,
    approver: ctx.principal,
    approverRole: ctx.role,
    requiredRole: required,
    now: ctx.now,
    quotedHash: args.hash ?? null,
    action,
  });
  const audit = (outcome: string, reason: string) =>
    s.audit({
      actor: ctx.principal,
      surface: ctx.surface,
      action: `approval.${action}`,
      target: row?.capability_id ?? args.id,
      args: { id: args.id },
      outcome,
      reason_code: reason,
    });
  if (d.outcome === "deny") {
    audit("refused", d.reason);
    return failed(d.reason, `Approval ${args.id} refused: ${REFUSED[d.reason] ?? d.reason}.`, { decision: d });
  }
  const to = action === "approve" ? "approved" : "denied";
  // Compare-and-set: of two concurrent approvals, exactly one moves the row.
  const moved = s.store.atomically(() => {
    const ok = commands.transitionApproval(args.id, "pending", to, ctx.principal, ctx.now);
    audit(ok ? to : "refused", ok ? d.reason : "approval_replayed");
    return ok;
  });
  if (!moved) return failed("approval_replayed", `Approval ${args.id} was already decided.`);
  if (action === "deny") return reported("approval_denied_by_operator", `Denied ${args.id} (${row!.command}).`);
  if (!cap) return failed("command_unknown", `Capability ${row!.capability_id} is no longer available.`);
  // The approved run is the requester's: audited under their principal, role and surface.
  const result = await executeCapability(cap, JSON.parse(row!.args) as Record<string, unknown>, {
    ...ctx,
    principal: row!.requester,
    role: row!.requester_role as Role,
    surface: row!.surface as "cli" | "chat" | "web",
  });
  commands.transitionApproval(args.id, "approved", "executed", ctx.principal, s.clock());
  return { ...result, text: `Approved ${args.id} (${row!.command}, requested by ${row!.requester}).\n${result.text}` };
}

export const approveCapability = defineCapability({
  id: "tau.approve",
  alias: ["approve"],
  summary: "approve a pending request (a different person for two_person)",
  args: IdArgs,
  positional: ["id", "hash"],
  role: "operator",
  sideEffect: "write",
  approval: "none",
  run: (args, ctx) => use(args, ctx, "approve"),
});

export const denyCapability = defineCapability({
  id: "tau.deny",
  alias: ["deny"],
  summary: "deny a pending request",
  args: IdArgs,
  positional: ["id", "hash"],
  role: "operator",
  sideEffect: "write",
  approval: "none",
  run: (args, ctx) => use(args, ctx, "deny"),
});
