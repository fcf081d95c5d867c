/** @module Stage: skip events whose id was already processed (persisted, bounded by age). */
import { stage } from "../compose.ts";
import { decide, type EventContext } from "../context.ts";

/** `seen` answers from the database and from the batch being committed. */
export function createDedupeStage(seen: (eventId: string) => boolean) {
  return stage<EventContext>("dedupe", (ctx, next) => {
    if (seen(ctx.env.event_id)) {
      ctx.duplicate = true;
      decide(ctx, { stage: "dedupe", outcome: "skip", reason: "duplicate_event_skipped" }, "duplicate");
      return;
    }
    next();
  });
}
