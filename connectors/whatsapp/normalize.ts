/**
 * @module Pure WhatsApp Cloud API normalizer: one webhook body (all entries, changes, items) → envelopes. Each
 * message, status and error is parsed on its own: a bad one is refused (and quarantined by the intake) with its
 * path, the others of the same body still become envelopes.
 */
import type { Envelope, IgnoredItem, NormalizeContext, NormalizeResult, RefusedItem } from "../../src/contracts/envelope.ts";
import type { z } from "zod";
import { toMessageEnvelope, type ChangeSource } from "./normalize-message.ts";
import { finalize, refusedItem, refuseZod } from "./normalize-result.ts";
import { toErrorEnvelope, toStatusEnvelope } from "./normalize-status.ts";
import { WaErrorSchema, WaMessageSchema, WaStatusSchema, WaValueSchema, WaWebhookSchema } from "./webhook-schema.ts";

type Path = (string | number)[];

/** Parse each item of one array of a change's value; good ones become envelopes, bad ones refusals. */
function eachItem<S extends z.ZodType>(
  items: readonly unknown[] | undefined,
  schema: S,
  path: Path,
  build: (item: z.infer<S>) => Envelope,
  out: { envelopes: Envelope[]; refused: RefusedItem[] },
): void {
  for (const [i, raw] of (items ?? []).entries()) {
    const parsed = schema.safeParse(raw);
    if (parsed.success) out.envelopes.push(build(parsed.data));
    else out.refused.push(refusedItem(refuseZod(parsed.error, raw, [...path, i]), raw));
  }
}

/**
 * Normalize a whole webhook body: every `entry[]` and `changes[]`, and in each `messages` change every
 * message, status and error. Other change fields are ignored items. Pure: no I/O, no clock.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages
 */
export function normalizeWhatsAppWebhook(raw: unknown, ctx: NormalizeContext): NormalizeResult {
  const body = WaWebhookSchema.safeParse(raw);
  if (!body.success) return refuseZod(body.error, raw);
  const out = { envelopes: [] as Envelope[], refused: [] as RefusedItem[] };
  const ignored: IgnoredItem[] = [];
  for (const [ei, entry] of body.data.entry.entries()) {
    for (const [ci, change] of entry.changes.entries()) {
      const at: Path = ["entry", ei, "changes", ci, "value"];
      if (change.field !== "messages") {
        ignored.push({ code: "whatsapp_change_field_unsupported", detail: `entry.${ei}.changes.${ci}: field ${change.field}` });
        continue;
      }
      const value = WaValueSchema.safeParse(change.value);
      if (!value.success) {
        // This change is unusable (no metadata: no account to answer from); the other changes still count.
        out.refused.push(refusedItem(refuseZod(value.error, change.value, at), change.value));
        continue;
      }
      const source: ChangeSource = { value: value.data, wabaId: entry.id };
      const { messages, statuses, errors } = value.data;
      eachItem(messages, WaMessageSchema, [...at, "messages"], (m) => toMessageEnvelope(m, source, ctx), out);
      eachItem(statuses, WaStatusSchema, [...at, "statuses"], (s) => toStatusEnvelope(s, source, ctx), out);
      eachItem(errors, WaErrorSchema, [...at, "errors"], (e) => toErrorEnvelope(e, source, ctx), out);
      if (!messages?.length && !statuses?.length && !errors?.length) {
        ignored.push({ code: "whatsapp_change_empty", detail: `entry.${ei}.changes.${ci}: no messages, statuses or errors` });
      }
    }
  }
  return finalize(out.envelopes, ignored, out.refused);
}
