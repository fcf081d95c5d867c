/** @module Test helper: build valid v1 envelopes from a Telegram group message baseline plus overrides. */
import { EnvelopeSchema, type Actor, type Envelope } from "../../src/contracts/envelope.ts";

/** Overrides for `makeEnvelope`; `actor` may be partial and is merged over the baseline actor. */
export type EnvelopeOverrides = Partial<Omit<Envelope, "actor">> & { actor?: Partial<Actor> };

/** A valid envelope (checked with `EnvelopeSchema`): a Telegram group message from actor 4242 that mentions the bot. */
export function makeEnvelope(overrides: EnvelopeOverrides = {}): Envelope {
  const { actor, ...rest } = overrides;
  return EnvelopeSchema.parse({
    v: 1,
    event_id: "telegram:6112:u:900001",
    transport: "telegram",
    provider: "telegram-bot-api",
    account_id: "6112",
    kind: "message",
    conversation_id: "-1001234",
    thread_id: null,
    chat_type: "group",
    actor: { id: "4242", display: "ana", is_bot: false, ...actor },
    mentions_bot: true,
    text: "hello",
    attachments: [],
    reply_to: null,
    forwarded: false,
    occurred_at_ms: 1763712000000,
    received_at_ms: 1763712000412,
    meta: {},
    ...rest,
  });
}

/** A DM from `actorId` (conversation id = actor id, as on Telegram). */
export function makeDm(actorId: string | null = "4242", overrides: EnvelopeOverrides = {}): Envelope {
  return makeEnvelope({
    chat_type: "dm",
    conversation_id: actorId ?? "4242",
    mentions_bot: true,
    ...overrides,
    actor: { id: actorId, ...overrides.actor },
  });
}
