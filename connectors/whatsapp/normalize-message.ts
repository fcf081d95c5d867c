/**
 * @module WhatsApp inbound messages (`value.messages[]`) → envelopes. The sender is the phone (`from`) or, for
 * username users without one, the business-scoped user id (`from_user_id`); a `group_id` makes the group the
 * conversation (`chat_type: group`), addressed to the bot only when it is mentioned or replied to.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages
 */
import type { Attachment, Envelope, EventKind, NormalizeContext } from "../../src/contracts/envelope.ts";
import { compactMeta } from "./normalize-result.ts";
import type { MetaInput } from "./normalize-result.ts";
import type { WaMedia, WaMessage, WaValue } from "./webhook-schema.ts";

/** The change a message, status or error came from: its number's metadata and contacts. */
export interface ChangeSource {
  value: WaValue;
  wabaId: string;
}

/** Envelope fields every WhatsApp event shares; the account is the change's phone_number_id. */
export function baseFields(ctx: NormalizeContext, eventId: string, source: ChangeSource, raw: unknown) {
  return {
    v: 1 as const,
    event_id: eventId,
    transport: "whatsapp" as const,
    provider: "whatsapp-cloud",
    account_id: source.value.metadata.phone_number_id,
    thread_id: null,
    chat_type: "dm" as const,
    // A 1:1 conversation is one user talking to the business number (groups override both).
    mentions_bot: true,
    received_at_ms: ctx.receivedAtMs,
    ...(ctx.keepRaw ? { raw } : {}),
  };
}

/** Meta every WhatsApp envelope carries: which business number and account received it. */
export function sourceMeta(source: ChangeSource): MetaInput {
  const { metadata } = source.value;
  return { phone_number_id: metadata.phone_number_id, display_phone_number: metadata.display_phone_number, waba_id: source.wabaId };
}

/** Profile name (else username) of `id` (a wa_id or a BSUID) from the change's contacts[], or null. */
export function contactName(value: WaValue, id: string | null): string | null {
  if (id === null) return null;
  const c = value.contacts?.find((x) => x.wa_id === id || x.user_id === id);
  return c?.profile?.name ?? c?.profile?.username ?? null;
}

/**
 * Who sent it: the phone when Meta gives one (allowlists made before BSUIDs keep working), else the BSUID; a
 * `user_changed_user_id` system message (no sender fields) is about the user's new id.
 */
function senderId(m: WaMessage): string {
  return m.from ?? m.from_user_id ?? m.system?.user_id ?? "";
}

/**
 * In a group the bot is addressed when its number (or phone number id) is in the mentions, `@<number>` is in the
 * text, or the message replies to one of its messages (`context.from` is then the business number).
 */
function groupMentionsBot(m: WaMessage, text: string, source: ChangeSource): boolean {
  const { display_phone_number: display, phone_number_id: numberId } = source.value.metadata;
  const own = new Set([numberId, ...(display ? [display.replace(/\D/g, "")] : [])].filter((x) => x !== ""));
  const mentioned = [...(m.mentions ?? []), ...(m.context?.mentions ?? [])].map((x) => x.replace(/^\+/, ""));
  if (mentioned.some((x) => own.has(x))) return true;
  if (m.context?.from !== undefined && own.has(m.context.from.replace(/\D/g, ""))) return true;
  return [...own].some((x) => text.includes(`@${x}`));
}

interface Content {
  kind: EventKind;
  text: string;
  attachments: Attachment[];
  replyTo?: string;
  meta: MetaInput;
}

function media(kind: Attachment["kind"], m: WaMedia, name: string | null = null): Attachment {
  // ref is the media id; a `url` (signed, short-lived) is never copied.
  return { kind, mime: m.mime_type ?? null, size: m.file_size ?? null, name, ref: m.id };
}

function content(kind: EventKind, text: string, attachments: Attachment[] = [], meta: MetaInput = {}): Content {
  return { kind, text, attachments, meta };
}

/**
 * The per-type part of a message. Unknown types become `system` with meta.unsupported_type.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages
 */
function contentOf(m: WaMessage): Content {
  if (m.type === "text" && m.text) return content("message", m.text.body);
  if (m.type === "image" && m.image) return content("message", m.image.caption ?? "", [media("image", m.image)]);
  if (m.type === "video" && m.video) return content("message", m.video.caption ?? "", [media("video", m.video)]);
  if (m.type === "sticker" && m.sticker) return content("message", "", [media("sticker", m.sticker)]);
  if (m.type === "audio" && m.audio) return content("message", "", [media(m.audio.voice ? "voice" : "audio", m.audio)]);
  if (m.type === "document" && m.document) {
    return content("message", m.document.caption ?? "", [media("document", m.document, m.document.filename ?? null)]);
  }
  if (m.type === "location" && m.location) {
    const { latitude, longitude, name, address } = m.location;
    const place: Attachment = { kind: "location", mime: null, size: null, name: name ?? null, ref: null };
    return content("message", "", [place], { latitude, longitude, address });
  }
  if (m.type === "contacts" && m.contacts) {
    const cards = m.contacts.map((c): Attachment => ({
      kind: "contact",
      mime: null,
      size: null,
      name: c.name?.formatted_name ?? null,
      ref: null,
    }));
    return content("message", "", cards.slice(0, 100));
  }
  if (m.type === "interactive" && m.interactive) {
    const { type, button_reply: button, list_reply: list, nfm_reply: flow } = m.interactive;
    const reply = button ?? list;
    // A reply-button tap is a button press (the callback envelope contract): text = the button id; answered in the
    // conversation, correlated with the prompt by context.id (PROVIDERS.md §10.3).
    if (button)
      return content("callback", button.id, [], {
        interactive_type: type,
        reply_id: button.id,
        button_title: button.title,
        callback_id: m.id,
        prompt_message_id: m.context?.id ?? null,
      });
    if (reply) return content("message", reply.title, [], { interactive_type: type, reply_id: reply.id });
    return content("message", flow?.body ?? "", [], { interactive_type: type, flow_name: flow?.name });
  }
  if (m.type === "button" && m.button) return content("message", m.button.text, [], { payload: m.button.payload ?? null });
  if (m.type === "reaction" && m.reaction) {
    // Removing a reaction is the same message type without `emoji`.
    return { ...content("reaction", "", [], { emoji: m.reaction.emoji ?? null }), replyTo: m.reaction.message_id };
  }
  if (m.type === "system") {
    const sys = m.system;
    // user_changed_number / user_changed_user_id: the old and new ids, so the actor mapping can follow the person.
    return content("system", sys?.body ?? "", [], {
      system_type: sys?.type,
      new_wa_id: sys?.wa_id ?? sys?.new_wa_id,
      new_user_id: sys?.user_id,
      new_parent_user_id: sys?.parent_user_id,
      previous_user_id: sys?.previous_user_id,
      previous_parent_user_id: sys?.previous_parent_user_id,
    });
  }
  return content("system", "", [], { unsupported_type: m.type === "unsupported" ? (m.unsupported?.type ?? "unknown") : m.type });
}

/**
 * One inbound message → envelope keyed `whatsapp:<wamid>`; the conversation is the sender (phone or BSUID), or
 * the group for group messages (replies then go to the group).
 */
export function toMessageEnvelope(m: WaMessage, source: ChangeSource, ctx: NormalizeContext): Envelope {
  const c = contentOf(m);
  const error = m.errors?.[0];
  const sender = senderId(m);
  const group = m.group_id;
  return {
    ...baseFields(ctx, `whatsapp:${m.id}`, source, m),
    kind: c.kind,
    conversation_id: group ?? sender,
    ...(group !== undefined ? { chat_type: "group" as const, mentions_bot: groupMentionsBot(m, c.text, source) } : {}),
    actor: { id: sender, display: contactName(source.value, m.from ?? m.from_user_id ?? null), is_bot: false },
    text: c.text,
    attachments: c.attachments,
    reply_to: c.replyTo ?? m.context?.id ?? null,
    forwarded: m.context?.forwarded === true || m.context?.frequently_forwarded === true,
    occurred_at_ms: Number(m.timestamp) * 1000,
    meta: compactMeta({
      message_id: m.id,
      message_type: m.type,
      group_id: group,
      from_user_id: m.from_user_id,
      from_parent_user_id: m.from_parent_user_id,
      ...sourceMeta(source),
      ...c.meta,
      error_code: error?.code,
      error_title: error?.title,
    }),
  };
}
