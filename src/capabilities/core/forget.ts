/** @module `/tau forget`: clear the caller's own conversation memory with the responders (their sessions in this chat). */
import { z } from "zod";
import { defineCapability, failed, reported } from "../capability.ts";

export const forgetCapability = defineCapability({
  id: "tau.forget",
  alias: ["forget"],
  summary: "clear what the assistant remembers of your conversation here",
  args: z.object({}).strict(),
  role: "viewer",
  sideEffect: "write",
  approval: "none",
  run: (_args, ctx) => {
    if (!ctx.origin) return failed("command_chat_only", "forget clears a chat conversation; run it from the chat.");
    const sessions = ctx.services.store.atomically(() =>
      ctx.services.store.responders.forget(ctx.principal, ctx.origin!.transport, ctx.origin!.conversation_id),
    );
    return reported(
      "responder_memory_cleared",
      sessions.length ? "Done: I have forgotten our conversation here." : "There was nothing to forget here.",
      { sessions_cleared: sessions.length },
    );
  },
});
