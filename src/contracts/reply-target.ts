/** @module Where a reply to an envelope goes: same conversation and thread, replying to the triggering message. */
import type { Envelope } from "./envelope.ts";
import type { ReplyTarget } from "./outbound.ts";

/** The provider message id of the triggering message, used for reply threading. */
export function triggeringMessageId(env: Envelope): string | null {
  switch (env.transport) {
    case "discord":
      return env.event_id.split(":")[1] ?? null;
    case "telegram":
    case "whatsapp":
    case "email": {
      const id = env.meta.message_id;
      return id === undefined || id === null ? null : String(id);
    }
  }
}

export function replyTargetOf(env: Envelope): ReplyTarget {
  return {
    transport: env.transport,
    account_id: env.account_id,
    conversation_id: env.conversation_id,
    thread_id: env.thread_id,
    reply_to: triggeringMessageId(env),
  };
}
