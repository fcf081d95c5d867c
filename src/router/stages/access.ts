/**
 * @module Stage: allowlist and pairing (PRODUCT.md §5). Admits by allowFrom, allowlist or pairing and sets the
 * caller's role; an unknown DM actor under `allowlist_or_pairing` gets a one-time pairing code (or nothing, in
 * silent mode), rate-limited and capped per channel.
 */
import type { PolicySet } from "../../config/policy-set.ts";
import type { AuditEntry } from "../../audit/audit-log.ts";
import {
  decideAccess,
  decidePairingChallenge,
  generatePairingCode,
  PAIRING_ATTEMPT_WINDOW_MS,
  PAIRING_RANDOM_BYTES,
  resolveChannelRule,
  resolveRole,
} from "../../policy/index.ts";
import type { AccessStore } from "../../store/index.ts";
import { pairingPrompt, type PromptDeps } from "../../commands/approval-prompt.ts";
import { replyIntent } from "../../commands/chat-reply.ts";
import type { ReplyTarget } from "../../contracts/outbound.ts";
import type { Decision, Role } from "../../contracts/decision.ts";
import { stage } from "../compose.ts";
import { decide, type EventContext } from "../context.ts";

export interface AccessStageDeps {
  policies: () => PolicySet | null;
  access: AccessStore;
  randomBytes: (n: number) => Uint8Array;
  audit: (e: AuditEntry) => void;
  commandPrefix: string;
  /** Other keys of the same actor (an earlier id, a BSUID beside the phone) whose admission counts too. */
  aliasesOf?: (env: EventContext["env"]) => readonly string[];
  /** Ops chats (`alerts.targets`): a new pairing request is posted there with Approve/Deny buttons. */
  opsChats?: () => readonly ReplyTarget[];
  /** Button tokens of those prompts, stored in the runner's unit of work. */
  buttons?: PromptDeps["store"]["buttons"];
}

/** An admitting decision with the role it gave, shared per (decision, role) as the decision itself is (see decideAccess). */
const WITH_ROLE = new WeakMap<Decision, Map<Role, Decision>>();
function withRole(d: Decision, role: Role): Decision {
  let byRole = WITH_ROLE.get(d);
  if (!byRole) WITH_ROLE.set(d, (byRole = new Map()));
  let r = byRole.get(role);
  if (!r) byRole.set(role, (r = Object.freeze({ ...d, detail: Object.freeze({ ...d.detail, role }) })));
  return r;
}

export function createAccessStage(deps: AccessStageDeps) {
  return stage<EventContext>("access", (ctx, next) => {
    const p = deps.policies();
    if (!p) return decide(ctx, { stage: "access", outcome: "deny", reason: "deny_channel_policy_load_error" }, "denied");
    const { env, now } = ctx;
    const { rule } = resolveChannelRule(p.channel, env.transport, env.conversation_id);
    const actorKey = env.actor.id === null ? null : `${env.transport}:${env.actor.id}`;
    // The actor's own key, then its aliases (WhatsApp id changes): an entry for any of them admits the person.
    let allowlisted = false;
    let paired = false;
    if (actorKey !== null) {
      ({ allowlisted, paired } = deps.access.admission(actorKey));
      for (const k of deps.aliasesOf?.(env) ?? []) {
        const a = deps.access.admission(k);
        allowlisted ||= a.allowlisted;
        paired ||= a.paired;
      }
    }
    const d = decideAccess({ env, rule, allowlisted, paired });
    if (d.outcome === "allow") {
      // Pairing admits only in DMs; a paired actor in a group is a viewer there only if the group admits anyone.
      ctx.role = resolveRole({ actorKey, allowlisted, paired: paired && env.chat_type === "dm", rbac: p.rbac, surface: "chat" });
      decide(ctx, withRole(d, ctx.role));
      return next();
    }
    decide(ctx, d, "denied");
    if (d.detail?.pairing_eligible !== true || actorKey === null) return;
    // Unknown DM actor: pairing challenge.
    const channelKey = `${env.transport}:${env.conversation_id}`;
    const existing = deps.access.pendingForActor(actorKey, now);
    const challenge = decidePairingChallenge({
      now,
      existing: existing ? { code: existing.code, expiresAt: existing.expires_at_ms } : null,
      pendingForChannel: deps.access.pendingForTransport(env.transport, now) - (existing ? 1 : 0),
      attemptsLastHour: deps.access.attemptsSince(actorKey, now - PAIRING_ATTEMPT_WINDOW_MS),
      settings: p.channel.pairing,
    });
    decide(ctx, challenge.decision, "denied");
    if (challenge.action === "rate_limited" || challenge.action === "channel_full") return;
    deps.access.recordAttempt(actorKey, now);
    let code = existing?.code ?? "";
    if (challenge.action === "issue") {
      code = generatePairingCode(deps.randomBytes(PAIRING_RANDOM_BYTES));
      deps.access.insertPairing(
        { code, actor_key: actorKey, channel_key: channelKey, display: env.actor.display, expires_at_ms: challenge.expiresAt! },
        now,
      );
      deps.audit({
        actor: actorKey,
        surface: "chat",
        action: "pairing.challenge",
        target: channelKey,
        args: { expires_at_ms: challenge.expiresAt },
        outcome: "issued",
        reason_code: "pairing_challenge_issued",
      });
      // The ops chats get the request with buttons; a press runs /tau pairing approve|deny as the presser.
      const buttons = deps.buttons;
      for (const ops of buttons ? (deps.opsChats?.() ?? []) : []) {
        const prompt = pairingPrompt(
          { store: { buttons: buttons! }, randomBytes: deps.randomBytes },
          {
            prefix: deps.commandPrefix,
            code,
            actor: actorKey,
            display: env.actor.display,
            expiresAt: challenge.expiresAt!,
            now,
            transport: ops.transport,
            conversationId: ops.conversation_id,
          },
        );
        ctx.replies.push({ ...replyIntent("pairing", prompt), target: ops });
      }
    }
    if (!p.channel.pairing.silent) {
      const minutes = Math.max(1, Math.round((challenge.expiresAt! - now) / 60_000));
      ctx.replies.push({
        purpose: "pairing",
        text: `You are not paired with this bot yet. Your pairing code is ${code} (valid ${minutes} min). Ask an operator to run: ${deps.commandPrefix} pairing approve ${code}`,
      });
    }
  });
}
