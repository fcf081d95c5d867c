/**
 * @module Per-platform rendering of a stored structured reply, chunk by chunk. A reply that fits one chunk is
 * rendered in the platform's markup; a longer one is sent as its plain chunks (chunking stays exact). Buttons go
 * under the last chunk. The outbox keeps the structure as JSON in `outbox.rich` (migration 009).
 */
import type { Transport } from "../contracts/envelope.ts";
import type { DeliveryAction, ReplyIntent, ReplyTarget, RichChunk } from "../contracts/outbound.ts";
import type { Reply, ReplyButton } from "../contracts/reply.ts";
import { discordButtons, renderDiscordMarkdown } from "./format-discord.ts";
import { renderTelegramHtml, telegramButtons } from "./format-telegram.ts";
import { renderWhatsAppMarkup, whatsAppButtons } from "./format-whatsapp.ts";
import { PLATFORM_LIMITS } from "./render.ts";
import { actionForChunk, commandReplyAction } from "./interaction-reply.ts";

/** What `outbox.rich` holds (JSON). */
export interface StoredRich {
  reply?: Reply;
  action?: DeliveryAction;
  /** WhatsApp groups get no interactive buttons. */
  group?: boolean;
}

/**
 * The JSON for `outbox.rich`, or null for a plain reply (older rows and plain replies stay NULL). `laterReply`: an
 * earlier reply to the same slash command was already queued (see `queueReplies`).
 */
export function richColumn(intent: ReplyIntent, target: ReplyTarget, laterReply = false): string | null {
  // A reply to a Discord slash command edits its deferred response, or follows it up (interaction-reply.ts).
  const action = intent.action ?? commandReplyAction(target, laterReply);
  if (!intent.reply && !action) return null;
  const stored: StoredRich = {
    ...(intent.reply ? { reply: intent.reply } : {}),
    ...(action ? { action } : {}),
    ...(target.chat_type === "group" ? { group: true } : {}),
  };
  return JSON.stringify(stored);
}

/** Parse `outbox.rich`; null (or unreadable) means a plain reply. */
export function parseRich(column: string | null | undefined): StoredRich | null {
  if (!column) return null;
  try {
    const v = JSON.parse(column) as StoredRich;
    return v && typeof v === "object" ? v : null;
  } catch {
    return null;
  }
}

function buttonsFor(transport: Transport, buttons: readonly ReplyButton[], group: boolean): ReplyButton[] {
  switch (transport) {
    case "telegram":
      return telegramButtons(buttons);
    case "discord":
      return discordButtons(buttons);
    case "whatsapp":
      return group ? [] : whatsAppButtons(buttons);
    case "email":
      return [];
  }
}

/** One chunk's platform rendering and delivery action; `plain` is the stored chunk text. */
export function renderChunk(
  transport: Transport,
  stored: StoredRich | null,
  idx: number,
  chunkCount: number,
  plain: string,
): { rich?: RichChunk; action?: DeliveryAction } {
  if (!stored) return {};
  const action = actionForChunk(stored.action, idx);
  const reply = stored.reply;
  if (!reply || transport === "email") return action ? { action } : {};
  const last = idx === chunkCount - 1;
  const buttons = last ? buttonsFor(transport, reply.buttons ?? [], stored.group === true) : [];
  let text = plain;
  let parse_mode: RichChunk["parse_mode"] = null;
  if (chunkCount === 1) {
    if (transport === "telegram") {
      text = renderTelegramHtml(reply);
      parse_mode = "HTML";
    } else {
      const marked = transport === "discord" ? renderDiscordMarkdown(reply) : renderWhatsAppMarkup(reply);
      // Markup characters count toward the limit: a rendering that no longer fits goes out plain.
      if (marked.length <= PLATFORM_LIMITS[transport]) text = marked;
    }
  }
  return { rich: { parse_mode, text, buttons }, ...(action ? { action } : {}) };
}
