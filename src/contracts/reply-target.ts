/** @module Where a reply to an envelope goes: same conversation and thread, replying to the triggering message. */
import type { Envelope } from "./envelope.ts";
import type { InteractionRef, ReplyTarget } from "./outbound.ts";

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

/**
 * A button press's answer handles, from the callback envelope contract: meta.callback_id (Telegram: also the older
 * callback_query_id), meta.prompt_message_id (the message the buttons were on), and for Discord the interaction
 * token and application id (the connector already acked it with a deferred update).
 */
export function interactionOf(env: Envelope): InteractionRef | undefined {
  if (env.kind !== "callback") return undefined;
  const m = env.meta;
  const str = (v: unknown): string | null => (v === undefined || v === null || v === "" ? null : String(v));
  const token = str(m.interaction_token);
  const app = str(m.application_id);
  return {
    callback_id: str(m.callback_id) ?? str(m.callback_query_id),
    prompt_message_id: str(m.prompt_message_id) ?? (env.transport === "telegram" ? str(m.message_id) : null),
    ...(token && app ? { interaction_token: token, application_id: app } : {}),
  };
}

export function replyTargetOf(env: Envelope): ReplyTarget {
  const target: ReplyTarget = {
    transport: env.transport,
    account_id: env.account_id,
    conversation_id: env.conversation_id,
    thread_id: env.thread_id,
    reply_to: triggeringMessageId(env),
  };
  // A button press (`kind: callback`) is answered through its interaction handles (answer, edit the prompt).
  const press = interactionOf(env);
  if (press) target.interaction = press;
  // WhatsApp groups take no interactive buttons (PROVIDERS.md §10.3).
  if (env.transport === "whatsapp" && env.chat_type === "group") target.chat_type = env.chat_type;
  // A Discord slash command (acknowledged with a deferred response) is answered by editing that response.
  const { interaction_id, application_id, interaction_token, ephemeral } = env.meta;
  if (
    env.transport === "discord" &&
    env.kind === "message" &&
    typeof application_id === "string" &&
    typeof interaction_token === "string"
  ) {
    target.interaction = {
      callback_id: typeof interaction_id === "string" ? interaction_id : null,
      prompt_message_id: null,
      interaction_token,
      application_id,
      deferred_command: true,
      ephemeral: ephemeral === true,
    };
  }
  return target;
}
