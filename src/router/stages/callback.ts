/**
 * @module Stage: button presses (`kind: callback`). The data is an opaque token; only a token tau stored for this
 * conversation counts, so a forged, unknown or foreign one decides nothing. A used token answers "already decided",
 * an expired one "expired". The presser is the principal: their role comes from the allowlist, pairing and RBAC as
 * for a typed command, RBAC is checked, then the SAME capability as `/tau approve|deny` or `/tau pairing approve|deny`
 * is queued as a job (two-person rule, expiry, one-shot and audit live there). A refused press gets a private answer
 * and changes nothing. Any other event kind passes on.
 */
import type { AuditEntry } from "../../audit/audit-log.ts";
import type { PolicySet } from "../../config/policy-set.ts";
import { authorize } from "../../capabilities/execute.ts";
import type { CapabilityRegistry } from "../../capabilities/registry.ts";
import { callbackReplies } from "../../commands/callback-replies.ts";
import { failureText } from "../../commands/reason-sentences.ts";
import { replyTargetOf } from "../../contracts/reply-target.ts";
import { isButtonToken } from "../../contracts/reply.ts";
import { resolveRole } from "../../policy/index.ts";
import type { AccessStore, ButtonAction, ButtonStore } from "../../store/index.ts";
import { stage } from "../compose.ts";
import { decide, type EventContext } from "../context.ts";

export interface CallbackStageDeps {
  buttons: Pick<ButtonStore, "get">;
  access: Pick<AccessStore, "admission">;
  policies: () => PolicySet | null;
  registry: CapabilityRegistry;
  prefix: string;
  audit: (e: AuditEntry) => void;
}

/** The capability a button runs and its arguments. */
function jobFor(action: ButtonAction, targetId: string, hash: string | null): { id: string; args: Record<string, unknown> } {
  switch (action) {
    case "approve":
      return { id: "tau.approve", args: hash ? { id: targetId, hash } : { id: targetId } };
    case "deny":
      return { id: "tau.deny", args: { id: targetId } };
    case "pair_approve":
      return { id: "tau.pairing.approve", args: { code: targetId } };
    case "pair_deny":
      return { id: "tau.pairing.deny", args: { code: targetId } };
  }
}

export function createCallbackStage(deps: CallbackStageDeps) {
  return stage<EventContext>("callback", (ctx, next) => {
    const { env, now } = ctx;
    if (env.kind !== "callback") return next();
    const principal = `${env.transport}:${env.actor.id ?? "unknown"}`;
    const target = replyTargetOf(env);
    const refuse = (reason: string, detail: Record<string, string> = {}) => {
      decide(ctx, { stage: "callback", outcome: "deny", reason, detail }, "replied");
      deps.audit({
        actor: principal,
        surface: "chat",
        action: "button.press",
        target: env.conversation_id,
        args: detail,
        outcome: "refused",
        reason_code: reason,
      });
      ctx.replies.push(...callbackReplies(target, { ok: false, notice: failureText(reason, "", deps.prefix) }));
    };
    const data = env.text;
    const row = isButtonToken(data) ? deps.buttons.get(data) : undefined;
    // A token from another chat is as good as forged: it was never shown here.
    if (!row || row.transport !== env.transport || row.conversation_id !== env.conversation_id) return refuse("button_unknown");
    const detail: Record<string, string> = { action: row.action, target: row.target_id };
    if (row.used_at_ms !== null) return refuse("button_already_used", detail);
    if (now >= row.expires_at_ms) return refuse("button_expired", detail);
    const p = deps.policies();
    if (!p) return refuse("command_rbac_denied", detail);
    const actorKey = env.actor.id === null ? null : principal;
    const known = actorKey === null ? null : deps.access.admission(actorKey);
    const role = resolveRole({
      actorKey,
      allowlisted: known?.allowlisted ?? false,
      paired: (known?.paired ?? false) && env.chat_type === "dm",
      rbac: p.rbac,
      surface: "chat",
    });
    ctx.role = role;
    const job = jobFor(row.action, row.target_id, row.target_hash);
    const cap = deps.registry.get(job.id);
    if (!cap) return refuse("command_unknown", detail);
    const rbac = authorize(cap, role, p.rbac);
    if (rbac.outcome === "deny") {
      decide(ctx, rbac);
      return refuse("command_rbac_denied", { ...detail, need: String(rbac.detail?.need ?? ""), have: role });
    }
    decide(ctx, rbac);
    ctx.jobs.push({ capability_id: cap.id, args: job.args, command: cap.alias.join(" "), principal, role, approval_id: null });
    decide(ctx, { stage: "callback", outcome: "allow", reason: "button_accepted", detail: { ...detail, capability: cap.id } }, "replied");
  });
}
