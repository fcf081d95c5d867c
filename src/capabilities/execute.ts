/**
 * @module The one execute path every surface uses (chat commands, `tau cap run`, the dedicated CLI commands and
 * approvals): validate the arguments → RBAC → an approval request, or run → audit. Each step is defined once here;
 * chat splits the path across the runner's commit (validate, RBAC and the approval request inside the decision's
 * unit of work; run and audit after it, with the reply), the CLI and approvals walk it in one go.
 */
import { createHash } from "node:crypto";
import type { AuditEntry } from "../audit/audit-log.ts";
import type { Decision, Role } from "../contracts/decision.ts";
import type { RbacFile } from "../contracts/policy.ts";
import { decideRbac } from "../policy/index.ts";
import { argsHash, buildArgs, type ArgsResult, type FlagValue } from "./args.ts";
import type { CapabilityContext, CapabilityResult } from "./capability.ts";
import type { AnyCapability } from "./registry.ts";
import type { Services } from "./services.ts";

/** How long an approval request stays open. */
export const APPROVAL_TTL_MS = 10 * 60_000;

/** Step 1: chat words and flags (or CLI flags) → the capability's validated arguments. */
export function validateArgs(cap: AnyCapability, words: readonly string[], flags: Record<string, FlagValue>): ArgsResult {
  return buildArgs(cap, words, flags);
}

/**
 * What stands between an authorized caller and the run, read from the capability's declaration alone — the one
 * confirmation model every entry point obeys: `none` runs; `confirm` is confirmed by the caller (on the CLI `--yes` or
 * a terminal prompt; in chat an approval request the caller may approve themselves); `two_person` is an approval
 * request a different principal approves, on every surface.
 */
export function gateFor(cap: Pick<AnyCapability, "approval">, surface: "cli" | "chat"): "run" | "confirm" | "request_approval" {
  if (cap.approval === "none") return "run";
  if (cap.approval === "confirm" && surface === "cli") return "confirm";
  return "request_approval";
}

/** Step 2: may `role` run `cap` under the active RBAC policy (per-capability overrides win over the declared role)? */
export function authorize(cap: AnyCapability, role: Role, rbac: RbacFile): Decision {
  return decideRbac({ capabilityId: cap.id, declaredRole: cap.role, role, rbac });
}

/** Who asks, from where, for an approval request. `seed` makes the id: the chat event id, or a CLI nonce. */
interface ApprovalRequest {
  cap: AnyCapability;
  args: Record<string, unknown>;
  principal: string;
  role: Role;
  surface: "cli" | "chat" | "web";
  /** JSON reply target for chat (the result goes back there); null on the CLI. */
  replyTarget: string | null;
  now: number;
  seed: string;
}

/** The approval id for a seed: `ap_` + 10 hex of its sha256 (stable for a chat event, so a replayed event asks once). */
function approvalIdFor(seed: string): string {
  return "ap_" + createHash("sha256").update(seed).digest("hex").slice(0, 10);
}

/**
 * Step 3a: store an approval request and audit it, in the caller's unit of work (chat: the runner's batch) or its
 * own. Returns the id, the argument hash the approver quotes, and the expiry.
 */
export function requestApproval(
  services: { store: Pick<Services["store"], "atomically" | "commands">; audit: Services["audit"] },
  r: ApprovalRequest,
): { id: string; hash: string; expires_at_ms: number } {
  const id = approvalIdFor(r.seed);
  const hash = argsHash(r.cap.id, r.args);
  const expires_at_ms = r.now + APPROVAL_TTL_MS;
  services.store.atomically(() => {
    services.store.commands.insertApproval({
      id,
      capability_id: r.cap.id,
      command: r.cap.alias.join(" "),
      args: JSON.stringify(r.args),
      args_hash: hash,
      requester: r.principal,
      requester_role: r.role,
      surface: r.surface,
      approval: r.cap.approval,
      reply_target: r.replyTarget,
      created_at_ms: r.now,
      expires_at_ms,
    });
    services.audit({
      actor: r.principal,
      surface: r.surface,
      action: "approval.request",
      target: r.cap.id,
      args: { id, ...r.args },
      outcome: "pending",
      reason_code: "approval_requested",
    });
  });
  return { id, hash, expires_at_ms };
}

/** Step 3b: run a capability; a throw becomes a `command_execution_failed` result, never an exception. */
export async function runCapability(cap: AnyCapability, args: Record<string, unknown>, ctx: CapabilityContext): Promise<CapabilityResult> {
  try {
    return await cap.run(args, ctx);
  } catch (err) {
    return {
      status: "failed",
      reason_code: "command_execution_failed",
      text: `${cap.id} failed: ${(err as Error)?.message ?? String(err)}`,
    };
  }
}

/**
 * Step 3b for an `inline` capability, synchronously (inside the caller's unit of work). Fails closed: a capability that
 * throws, or answers with a promise (it was not synchronous after all), gives a failed result.
 */
export function runCapabilityInline(cap: AnyCapability, args: Record<string, unknown>, ctx: CapabilityContext): CapabilityResult {
  try {
    const r = cap.run(args, ctx);
    if (!(r instanceof Promise)) return r;
    r.catch(() => undefined);
    return { status: "failed", reason_code: "command_execution_failed", text: `${cap.id} failed: it did not answer synchronously.` };
  } catch (err) {
    return {
      status: "failed",
      reason_code: "command_execution_failed",
      text: `${cap.id} failed: ${(err as Error)?.message ?? String(err)}`,
    };
  }
}

/** Step 4: the audit record of a finished run. */
export function auditEntryFor(
  cap: { id: string },
  args: Record<string, unknown>,
  who: { principal: string; surface: AuditEntry["surface"] },
  result: CapabilityResult,
): AuditEntry {
  return {
    actor: who.principal,
    surface: who.surface,
    action: "command",
    target: cap.id,
    args,
    outcome: result.status,
    reason_code: result.reason_code,
  };
}

/** Steps 3b + 4 in one go (the CLI and approvals): run, then audit the outcome. */
export async function executeCapability(
  cap: AnyCapability,
  args: Record<string, unknown>,
  ctx: CapabilityContext,
): Promise<CapabilityResult> {
  const result = await runCapability(cap, args, ctx);
  ctx.services.audit(auditEntryFor(cap, args, ctx, result));
  return result;
}
