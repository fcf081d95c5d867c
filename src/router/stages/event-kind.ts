/**
 * @module Stage: non-message kinds (edits, reactions, receipts, membership, system) are recorded, never answered as
 * text. Button presses (`callback`) are answered by the callback stage, which runs before this one.
 */
import { stage } from "../compose.ts";
import { decide, type EventContext } from "../context.ts";

/** `onStatus` applies delivery receipts (WhatsApp statuses) to the outbox. */
export function createEventKindStage(onStatus?: (ctx: EventContext) => void) {
  return stage<EventContext>("event_kind", (ctx, next) => {
    const kind = ctx.env.kind;
    if (kind === "message") return next();
    if (kind === "status" && onStatus) onStatus(ctx);
    decide(ctx, { stage: "event_kind", outcome: "skip", reason: `recorded_${kind}` }, "recorded");
  });
}
