/**
 * @module Tools under tau's rules: a model may call only the capabilities listed for its responder, as functions
 * named after the capability id with `.` → `_`, their JSON Schema generated from the capability's zod schema. Each
 * call walks the same execute path as a chat command *by the same actor*: argument validation, RBAC with the actor's
 * role, approvals (a `confirm` / `two_person` capability is never run by the model: the user gets the usual approval
 * prompt) and audit (surface `agent`, with the responder and model). Nothing a model says can widen what its user may do.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { Role } from "../../contracts/decision.ts";
import type { AnyCapability } from "../../capabilities/registry.ts";
import { authorize, requestApproval, runCapability } from "../../capabilities/execute.ts";
import type { Services } from "../../capabilities/services.ts";
import type { ToolCall, ToolSpec } from "./model-client.ts";

/** `communications.mail.search` → `communications_mail_search` (function names allow `[A-Za-z0-9_-]` everywhere). */
export const toolNameOf = (capabilityId: string): string => capabilityId.replace(/\./g, "_");

/** The tool specs for a responder's capability list (unknown ids were refused when the config was checked). */
export function toolSpecsFor(capabilityIds: readonly string[], caps: (id: string) => AnyCapability | undefined): ToolSpec[] {
  return capabilityIds.flatMap((id) => {
    const cap = caps(id);
    if (!cap) return [];
    const schema = z.toJSONSchema(cap.args as z.ZodType, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
    delete schema.$schema;
    return [{ name: toolNameOf(id), description: `${cap.summary} (tau ${cap.alias.join(" ")})`, parameters: schema }];
  });
}

/** Who the model acts for: the user whose message started the job, never more. */
export interface ToolActor {
  principal: string;
  role: Role;
  /** Where the user is (approval prompts and capability replies go there). */
  origin: { transport: string; conversation_id: string };
  replyTarget: string;
  responder: string;
  model: string;
  jobId: string;
}

/** What one tool call came to: the result the model sees, a reason code, and a prompt for the user when approval is needed. */
export interface ToolOutcome {
  content: string;
  isError: boolean;
  reason: string;
  /** Shown to the user (approval prompts); the model does not decide what the user sees of these. */
  userNotice: string | null;
}

const toolError = (reason: string, content: string): ToolOutcome => ({
  content: JSON.stringify({ error: reason, detail: content }),
  isError: true,
  reason,
  userNotice: null,
});

/** Run one tool call of the model under the actor's rights. Side-effecting runs are recorded per job, so a repeated job answers from the record. */
export async function runToolCall(
  call: ToolCall,
  allowed: readonly string[],
  actor: ToolActor,
  services: Services,
  now: number,
): Promise<ToolOutcome> {
  const id = allowed.find((a) => toolNameOf(a) === call.name);
  const cap = id ? services.registry.get(id) : undefined;
  if (!id || !cap)
    return toolError("responder_tool_unknown", `no tool named ${call.name}; available: ${allowed.map(toolNameOf).join(", ") || "none"}`);
  let raw: unknown;
  try {
    raw = call.argumentsJson.trim() === "" ? {} : JSON.parse(call.argumentsJson);
  } catch {
    return toolError("responder_tool_args_invalid", "arguments are not valid JSON");
  }
  const parsed = (cap.args as z.ZodType).safeParse(raw ?? {});
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join(".") || "(arguments)"}: ${i.message}`).join("; ");
    return toolError("responder_tool_args_invalid", detail.slice(0, 500));
  }
  const args = parsed.data as Record<string, unknown>;
  const policies = services.policies.current();
  if (!policies) return toolError("command_rbac_denied", "policies are not loaded; nothing runs");
  const rbac = authorize(cap, actor.role, policies.rbac);
  const agentArgs = { ...args, "@agent": { responder: actor.responder, model: actor.model } };
  if (rbac.outcome === "deny") {
    services.audit({
      actor: actor.principal,
      surface: "agent",
      action: "command",
      target: cap.id,
      args: agentArgs,
      outcome: "denied",
      reason_code: "command_rbac_denied",
    });
    return toolError(
      "command_rbac_denied",
      `the user (${actor.role}) may not run ${cap.id}; it needs the ${String(rbac.detail?.need ?? cap.role)} role`,
    );
  }
  if (cap.approval !== "none") {
    const { id: approvalId, hash } = requestApproval(services, {
      cap,
      args,
      principal: actor.principal,
      role: actor.role,
      surface: "chat",
      replyTarget: actor.replyTarget,
      now,
      seed: `${actor.jobId}\u0000${call.name}\u0000${argsKey(args)}`,
    });
    const prefix = services.config.commands.prefix;
    const who = cap.approval === "two_person" ? "A second operator (not you)" : "You or another operator";
    return {
      content: JSON.stringify({
        status: "approval_pending",
        approval_id: approvalId,
        note: "The user has been asked to approve; it has not run.",
      }),
      isError: false,
      reason: "approval_requested",
      userNotice: `${prefix} ${cap.alias.join(" ")} needs approval (${cap.approval}). ${who} can run: ${prefix} approve ${approvalId} ${hash.slice(0, 8)} — or ${prefix} deny ${approvalId}.`,
    };
  }
  const key = `${cap.id}\u0000${argsKey(args)}`;
  if (cap.sideEffect !== "read") {
    const recorded = services.store.responders.toolRun(actor.jobId, key);
    if (recorded !== null) return { content: recorded, isError: false, reason: "responder_tool_replayed", userNotice: null };
  }
  const result = await runCapability(cap, args, {
    principal: actor.principal,
    role: actor.role,
    surface: "chat",
    now,
    services,
    origin: actor.origin,
  });
  const content = JSON.stringify({
    status: result.status,
    reason_code: result.reason_code,
    text: result.text,
    ...(result.data !== undefined ? { data: result.data } : {}),
  });
  services.store.atomically(() => {
    if (cap.sideEffect !== "read") services.store.responders.putToolRun(actor.jobId, key, content, now);
    services.audit({
      actor: actor.principal,
      surface: "agent",
      action: "command",
      target: cap.id,
      args: agentArgs,
      outcome: result.status,
      reason_code: result.reason_code,
    });
  });
  return { content: clip(content, 16_000), isError: result.status === "failed", reason: result.reason_code, userNotice: null };
}

/** A stable key for arguments (sorted keys), hashed so long arguments make short keys. */
function argsKey(args: Record<string, unknown>): string {
  const sorted = JSON.stringify(args, Object.keys(args).sort());
  return createHash("sha256").update(sorted).digest("hex").slice(0, 32);
}

/** Tool results are bounded: a model's context is not a log sink. */
function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…[truncated ${text.length - max} chars]`;
}
