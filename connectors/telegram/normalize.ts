/** @module Pure Telegram normalizer: an Update, an array of Updates or a getUpdates response → envelopes. */
import type { Envelope, IgnoredItem, NormalizeContext, NormalizeResult, RefusedItem } from "../../src/contracts/envelope.ts";
import { toCallbackEnvelope, toMembershipEnvelope, toReactionEnvelope } from "./normalize-chat-events.ts";
import { toMessageEnvelope } from "./normalize-message.ts";
import type { MessageUpdateType } from "./normalize-message.ts";
import { finalize, refuse, refusedItem, refuseZod } from "../shared/normalize-result.ts";
import type { Refusal } from "../shared/normalize-result.ts";
import { TgGetUpdatesResponseSchema, TgUpdateSchema } from "./update-schema.ts";
import type { TgUpdate } from "./update-schema.ts";

const MESSAGE_FIELDS: readonly MessageUpdateType[] = [
  "message",
  "edited_message",
  "channel_post",
  "edited_channel_post",
  "business_message",
  "edited_business_message",
];

interface RawItem {
  raw: unknown;
  path: (string | number)[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Accept one Update, an array of Updates, or a whole `{ok:true,result:[…]}` getUpdates response. */
function splitBatch(raw: unknown): RawItem[] | Refusal {
  // Array.from, not map: a sparse array's holes must be visited (and refused), not skipped.
  if (Array.isArray(raw)) return Array.from(raw, (item: unknown, i) => ({ raw: item, path: [i] }));
  if (isRecord(raw) && "ok" in raw && !("update_id" in raw)) {
    const parsed = TgGetUpdatesResponseSchema.safeParse(raw);
    if (!parsed.success) return refuseZod(parsed.error, raw);
    return parsed.data.result.map((item, i) => ({ raw: item, path: ["result", i] }));
  }
  return [{ raw, path: [] }];
}

/** The payload field of an update we do not handle, for the ignored item's detail. */
function updateTypeOf(update: TgUpdate): string {
  return Object.keys(update).find((key) => key !== "update_id") ?? "unknown";
}

function toEnvelope(update: TgUpdate, ctx: NormalizeContext, raw: unknown): Envelope | IgnoredItem | Refusal {
  const id = update.update_id;
  for (const field of MESSAGE_FIELDS) {
    const message = update[field];
    if (!message) continue;
    // A business message our bot sent for the account comes back to us: never intake our own echo.
    if (message.sender_business_bot !== undefined) {
      return { code: "telegram_business_echo", detail: `update ${id}: ${field} sent by bot ${message.sender_business_bot.id}` };
    }
    if ((field === "business_message" || field === "edited_business_message") && !message.business_connection_id) {
      return refuse("ingress_missing_id", `${field}.business_connection_id: missing`);
    }
    return toMessageEnvelope(field, message, id, ctx, raw);
  }
  if (update.callback_query) return toCallbackEnvelope(update.callback_query, id, ctx, raw);
  if (update.my_chat_member) return toMembershipEnvelope(update.my_chat_member, id, ctx, raw);
  if (update.message_reaction) return toReactionEnvelope(update.message_reaction, id, ctx, raw);
  return { code: "telegram_update_type_unsupported", detail: `update ${id}: ${updateTypeOf(update)}` };
}

/**
 * Normalize a raw Telegram payload (Update, Update[], or getUpdates response). Pure: no I/O, no clock.
 * event_id is `telegram:<bot_id>:u:<update_id>` for every update type; unhandled types become ignored items.
 */
export function normalizeTelegramUpdate(raw: unknown, ctx: NormalizeContext): NormalizeResult {
  const identity = ctx.identity.telegram;
  if (!identity?.bot_id) return refuse("ingress_identity_missing", "identity.telegram.bot_id: empty");
  if (!identity.username) return refuse("ingress_identity_missing", "identity.telegram.username: empty");
  const items = splitBatch(raw);
  if (!Array.isArray(items)) return items;
  const envelopes: Envelope[] = [];
  const ignored: IgnoredItem[] = [];
  const refused: RefusedItem[] = [];
  // Per item: one bad update of a batch is refused alone, the others still become envelopes.
  for (const item of items) {
    const parsed = TgUpdateSchema.safeParse(item.raw);
    if (!parsed.success) {
      refused.push(refusedItem(refuseZod(parsed.error, item.raw, item.path), item.raw));
      continue;
    }
    const out = toEnvelope(parsed.data, ctx, item.raw);
    if ("ok" in out) refused.push(refusedItem(out, item.raw));
    else if ("event_id" in out) envelopes.push(out);
    else ignored.push(out);
  }
  return finalize(envelopes, ignored, refused);
}
