/**
 * @module Stage: `/tau …` commands. Parses, ignores commands for other bots and forwarded messages (never
 * executed), finds the capability, checks RBAC and arguments, then either queues a job (run after the decision
 * commits) or stores an approval request. Anything that is not a command goes on to the responder.
 */
import type { PolicySet } from "../../config/policy-set.ts";
import type { AuditEntry } from "../../audit/audit-log.ts";
import { commandReply, footerLine, replyIntent, type FooterMode } from "../../commands/chat-reply.ts";
import { approvalPrompt } from "../../commands/approval-prompt.ts";
import { auditEntryFor, authorize, requestApproval, runCapabilityInline, validateArgs } from "../../capabilities/execute.ts";
import type { Services } from "../../capabilities/services.ts";
import { parseTauCommand } from "../../commands/parse-command.ts";
import type { CapabilityRegistry } from "../../capabilities/registry.ts";
import type { Store } from "../../store/index.ts";
import { replyTargetOf } from "../../contracts/reply-target.ts";
import { stage } from "../compose.ts";
import { decide, type EventContext } from "../context.ts";

export interface CommandStageDeps {
  prefix: string;
  botUsername: (transport: string) => string | null;
  registry: CapabilityRegistry;
  policies: () => PolicySet | null;
  /** Approval requests (and their buttons' tokens) are stored through it, in the runner's unit of work. */
  store: Pick<Store, "atomically" | "commands" | "buttons">;
  audit: (e: AuditEntry) => void;
  /** `outbound.footer` (default short). */
  footer?: FooterMode;
  /** Randomness for button tokens (the injected source; seeded in replays). */
  randomBytes?: (n: number) => Uint8Array;
  /** The services an `inline` capability runs with; without them every command is queued as a job. */
  services?: Services;
}

export function createCommandStage(deps: CommandStageDeps) {
  return stage<EventContext>("command", (ctx, next) => {
    const { env } = ctx;
    const parsed = parseTauCommand(env.text, { prefix: deps.prefix, botUsername: deps.botUsername(env.transport) });
    if (parsed.kind === "none") return next();
    const principal = `${env.transport}:${env.actor.id ?? "unknown"}`;
    const footer = deps.footer ?? "short";
    // A refusal reads as a sentence and a next step; the reason code stays in the trace (and the debug footer).
    const say = (command: string, _status: "failed", reason: string, detail: string) =>
      ctx.replies.push(commandReply({ prefix: deps.prefix, footer, command }, { status: "failed", reason_code: reason, text: detail }));
    if (parsed.kind === "other_bot") {
      return decide(
        ctx,
        { stage: "command", outcome: "skip", reason: "command_addressed_to_other_bot", detail: { target: parsed.target } },
        "ignored",
      );
    }
    if (env.forwarded) {
      return decide(ctx, { stage: "command", outcome: "deny", reason: "command_forwarded_ignored" }, "ignored");
    }
    if (parsed.kind === "error") {
      decide(ctx, { stage: "command", outcome: "deny", reason: "command_parse_error", detail: { detail: parsed.detail } }, "replied");
      return say("", "failed", "command_parse_error", `${parsed.detail}.`);
    }
    const words = parsed.words.length === 0 ? ["help"] : parsed.words;
    const match = deps.registry.match(words);
    if (!match) {
      decide(ctx, { stage: "command", outcome: "deny", reason: "command_unknown", detail: { command: words[0] ?? "" } }, "replied");
      deps.audit({
        actor: principal,
        surface: "chat",
        action: "command",
        target: words.join(" "),
        args: {},
        outcome: "failed",
        reason_code: "command_unknown",
      });
      return say(words[0] ?? "", "failed", "command_unknown", "");
    }
    const cap = match.capability;
    const command = cap.alias.join(" ");
    const p = deps.policies();
    const role = ctx.role ?? "viewer";
    const rbac = authorize(cap, role, p!.rbac);
    if (rbac.outcome === "deny") {
      decide(ctx, rbac, "replied");
      ctx.reason = "command_rbac_denied";
      deps.audit({
        actor: principal,
        surface: "chat",
        action: "command",
        target: cap.id,
        args: {},
        outcome: "denied",
        reason_code: "command_rbac_denied",
      });
      return say(
        command,
        "failed",
        "command_rbac_denied",
        `${deps.prefix} ${command} needs the ${rbac.detail?.need} role; you are ${role}.`,
      );
    }
    decide(ctx, rbac);
    const args = validateArgs(cap, match.rest, parsed.flags);
    if (!args.ok) {
      decide(ctx, { stage: "command", outcome: "deny", reason: "command_args_invalid", detail: { detail: args.detail } }, "replied");
      return say(command, "failed", "command_args_invalid", `${args.detail}.`);
    }
    if (cap.approval !== "none") {
      // Stored in the runner's unit of work for this batch; the id is derived from the event, so a replay asks once.
      const { id, hash, expires_at_ms } = requestApproval(deps, {
        cap,
        args: args.args,
        principal,
        role,
        surface: "chat",
        replyTarget: JSON.stringify(replyTargetOf(env)),
        now: ctx.now,
        seed: env.event_id,
      });
      decide(
        ctx,
        { stage: "approval", outcome: "info", reason: "approval_requested", detail: { id, kind: cap.approval } },
        "pending_approval",
      );
      const prompt = approvalPrompt(deps, {
        prefix: deps.prefix,
        command,
        kind: cap.approval,
        id,
        hash,
        requester: principal,
        expiresAt: expires_at_ms,
        now: ctx.now,
        transport: env.transport,
        conversationId: env.conversation_id,
      });
      const line = footerLine(footer, deps.prefix, command, "pending_approval", "approval_requested");
      ctx.replies.push(replyIntent("command", { ...prompt, ...(line ? { footer: line } : {}) }));
      return;
    }
    const job = { capability_id: cap.id, args: args.args, command, principal, role, approval_id: null };
    const target = replyTargetOf(env);
    if (cap.inline && deps.services && !target.interaction) {
      // Read-only and synchronous: run now, in the batch's unit of work; reply, job record and audit commit with the
      // event (a button press or slash command still goes through the job runner, which answers interactions).
      const origin = { transport: env.transport, conversation_id: env.conversation_id };
      const result = runCapabilityInline(cap, args.args, {
        principal,
        role,
        surface: "chat",
        now: ctx.now,
        services: deps.services,
        origin,
      });
      ctx.jobs.push({ ...job, result });
      ctx.replies.push(commandReply({ prefix: deps.prefix, footer, command }, result));
      deps.audit(auditEntryFor(cap, args.args, { principal, surface: "chat" }, result));
    } else ctx.jobs.push(job);
    decide(ctx, { stage: "command", outcome: "allow", reason: "command_queued", detail: { capability: cap.id } }, "replied");
  });
}
