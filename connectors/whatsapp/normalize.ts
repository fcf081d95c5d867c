/** @module Pure WhatsApp Cloud API normalizer: one webhook body (all entries, changes, items) → envelopes. */
import type { Envelope, IgnoredItem, NormalizeContext, NormalizeResult } from "../../src/contracts/envelope.ts";
import { toMessageEnvelope } from "./normalize-message.ts";
import { finalize, refuseZod } from "./normalize-result.ts";
import { toErrorEnvelope, toStatusEnvelope } from "./normalize-status.ts";
import { WaValueSchema, WaWebhookSchema } from "./webhook-schema.ts";

/**
 * Normalize a whole webhook body: every `entry[]` and `changes[]`, and in each `messages` change every
 * message, status and error. Other change fields are ignored items. Pure: no I/O, no clock.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages
 */
export function normalizeWhatsAppWebhook(raw: unknown, ctx: NormalizeContext): NormalizeResult {
  const body = WaWebhookSchema.safeParse(raw);
  if (!body.success) return refuseZod(body.error, raw);
  const envelopes: Envelope[] = [];
  const ignored: IgnoredItem[] = [];
  for (const [ei, entry] of body.data.entry.entries()) {
    for (const [ci, change] of entry.changes.entries()) {
      if (change.field !== "messages") {
        ignored.push({ code: "whatsapp_change_field_unsupported", detail: `entry.${ei}.changes.${ci}: field ${change.field}` });
        continue;
      }
      const value = WaValueSchema.safeParse(change.value);
      if (!value.success) return refuseZod(value.error, change.value, ["entry", ei, "changes", ci, "value"]);
      const source = { value: value.data, wabaId: entry.id };
      for (const message of value.data.messages ?? []) envelopes.push(toMessageEnvelope(message, source, ctx));
      for (const status of value.data.statuses ?? []) envelopes.push(toStatusEnvelope(status, source, ctx));
      for (const error of value.data.errors ?? []) envelopes.push(toErrorEnvelope(error, source, ctx));
      if (!value.data.messages?.length && !value.data.statuses?.length && !value.data.errors?.length) {
        ignored.push({ code: "whatsapp_change_empty", detail: `entry.${ei}.changes.${ci}: no messages, statuses or errors` });
      }
    }
  }
  return finalize(envelopes, ignored);
}
