/** Which events the closing answer to a deferred slash command is for (src/router/interaction-answer.ts). */
import { describe, expect, it } from "vitest";
import type { Envelope } from "../../src/contracts/envelope.ts";
import { answerUnansweredInteraction } from "../../src/router/interaction-answer.ts";
import { createContext, decide } from "../../src/router/context.ts";

function envelope(meta: Envelope["meta"]): Envelope {
  return {
    v: 1,
    event_id: "discord:1400000000000000009",
    transport: "discord",
    provider: "discord",
    account_id: "1100000000000000001",
    kind: "message",
    conversation_id: "1300000000000000003",
    thread_id: null,
    chat_type: "group",
    actor: { id: "1300000000000000042", display: "Alice", is_bot: false },
    mentions_bot: true,
    text: "/tau whoami",
    attachments: [],
    reply_to: null,
    forwarded: false,
    occurred_at_ms: 0,
    received_at_ms: 0,
    meta,
  };
}
const SLASH = {
  interaction_id: "1400000000000000009",
  interaction_token: "tok-abc",
  application_id: "1100000000000000001",
  ephemeral: true,
};

function denied(meta: Envelope["meta"], stage: string, reason: string) {
  const ctx = createContext(envelope(meta), 0);
  decide(ctx, { stage, outcome: "deny", reason }, "denied");
  return ctx;
}

describe("the closing answer to a deferred slash command", () => {
  it("answers a denied slash command with a sentence per stage, no reason code", () => {
    for (const [stage, reason, sentence] of [
      ["access", "deny_not_allowlisted", "tau does not take commands from you here."],
      ["transport_gate", "transport_kill_switch", "tau is not taking commands here right now."],
      ["responders_gate", "responders_silenced", "tau is not answering right now."],
      ["route", "route_none", "tau has nothing to say to that."],
    ] as const) {
      const ctx = denied(SLASH, stage, reason);
      answerUnansweredInteraction(ctx, "/tau");
      expect(ctx.replies).toHaveLength(1);
      expect(ctx.replies[0]!.text.split("\n")[0]).toBe(sentence);
      expect(ctx.replies[0]!.text).not.toContain(reason);
      expect(ctx.replies[0]!.target).toBeUndefined();
    }
  });

  it("leaves alone what is answered or will be: a reply, a command job, a responder job, a duplicate, a plain message", () => {
    const replied = denied(SLASH, "command", "command_rbac_denied");
    replied.replies.push({ purpose: "command", text: "Your role does not allow this command." });
    const job = denied(SLASH, "command", "command_queued");
    job.jobs.push({ capability_id: "core.whoami", args: {}, command: "whoami", principal: "p", role: "viewer", approval_id: null });
    const responder = denied(SLASH, "responder", "responder_queued");
    responder.responderJob = { responder: "llm", conversation_key: "k", session_key: "s", principal: "p", role: "viewer" };
    const duplicate = denied(SLASH, "dedupe", "duplicate_event");
    duplicate.duplicate = true;
    const plain = denied({}, "access", "deny_not_allowlisted");
    for (const ctx of [replied, job, responder, duplicate, plain]) {
      const before = ctx.replies.length;
      answerUnansweredInteraction(ctx, "/tau");
      expect(ctx.replies).toHaveLength(before);
    }
  });

  it("still answers when the only replies go elsewhere (a forward to the ops chat)", () => {
    const ctx = denied(SLASH, "access", "pairing_requested");
    const ops = { transport: "telegram" as const, account_id: "a", conversation_id: "ops", thread_id: null, reply_to: null };
    ctx.replies.push({ purpose: "pairing", text: "pairing request", target: ops });
    answerUnansweredInteraction(ctx, "/tau");
    expect(ctx.replies.map((r) => r.target ?? "interaction")).toEqual([ops, "interaction"]);
  });
});
