/**
 * @module Delivery receipts from WhatsApp status webhooks: the chunk whose `provider_message_id` is the status's
 * `meta.message_id` moves along the lattice sent < delivered < read; `failed` is terminal. Statuses arrive out
 * of order (`read` without `delivered`, a late `sent`), so a receipt never moves backwards; unknown ids (messages
 * another system sent from the same number) are ignored. Plug `createReceiptRecorder` into the event-kind stage.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages/status
 */
import { RECEIPT_STATES, type ProviderReceipt, type ReceiptState } from "../contracts/delivery.ts";
import type { EventContext } from "../contracts/event-context.ts";
import type { Store } from "../store/index.ts";

export type ReceiptResult =
  "receipt_applied" | "receipt_stale" | "receipt_after_failed" | "receipt_unknown_message" | "receipt_unknown_status";

const RANK: Record<Exclude<ReceiptState, "failed">, number> = { sent: 0, delivered: 1, read: 2 };

/** Normalize a provider status word; `played` (voice) counts as read. */
export function toReceiptState(status: unknown): ReceiptState | null {
  if (status === "played") return "read";
  return typeof status === "string" && (RECEIPT_STATES as readonly string[]).includes(status) ? (status as ReceiptState) : null;
}

/** Should a receipt in state `current` move to `next`? */
export function advancesReceipt(current: ReceiptState | null, next: ReceiptState): boolean {
  if (current === "failed") return false;
  if (next === "failed") return true;
  return RANK[next] > (current === null ? -1 : RANK[current]);
}

/** Apply one status to the chunk sent with `providerMessageId`. Runs inside the caller's transaction. */
export function applyReceipt(
  store: Pick<Store, "outbox" | "counters">,
  update: { provider_message_id: string; state: ReceiptState; at_ms: number; error_code?: number | string },
  now: number,
): ReceiptResult {
  const chunk = store.outbox.chunkByProviderMessageId(update.provider_message_id);
  if (!chunk) return "receipt_unknown_message";
  let current: Partial<ProviderReceipt> = {};
  try {
    current = chunk.receipt ? (JSON.parse(chunk.receipt) as Partial<ProviderReceipt>) : {};
  } catch {
    current = {};
  }
  const state = current.state ?? "sent";
  if (!advancesReceipt(state, update.state)) return state === "failed" ? "receipt_after_failed" : "receipt_stale";
  const next: ProviderReceipt = {
    ...current,
    state: update.state,
    at_ms: update.at_ms,
    ...(update.error_code !== undefined ? { error_code: update.error_code } : {}),
  };
  store.outbox.setChunkReceipt(chunk.outbox_id, chunk.idx, JSON.stringify(next), now);
  store.counters.bump(`receipts.${update.state}`);
  return "receipt_applied";
}

/** The event-kind stage's `onStatus` hook: apply the receipt and note the result on the event's trace. */
export function createReceiptRecorder(store: Pick<Store, "outbox" | "counters">): (ctx: EventContext) => void {
  return (ctx) => {
    const { meta } = ctx.env;
    const id = meta["message_id"];
    const state = toReceiptState(meta["status"]);
    let result: ReceiptResult;
    if (typeof id !== "string" || id === "") result = "receipt_unknown_message";
    else if (!state) result = "receipt_unknown_status";
    else {
      const code = meta["error_code"];
      result = applyReceipt(
        store,
        {
          provider_message_id: id,
          state,
          at_ms: ctx.env.occurred_at_ms,
          ...(typeof code === "number" || typeof code === "string" ? { error_code: code } : {}),
        },
        ctx.now,
      );
    }
    ctx.decisions.push({ stage: "receipt", outcome: "info", reason: result, detail: { status: String(meta["status"] ?? "") } });
  };
}
