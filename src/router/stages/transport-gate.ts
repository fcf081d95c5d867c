/**
 * @module Stage (the pipeline's `gate` slot, right after dedupe): events from a transport whose kill switch is on,
 * or which an operator logged out, are recorded with the reason (`transport_kill_switch`, `logout_requested`)
 * and never answered. Delivery receipts still pass: they answer nothing and only update the outbox.
 */
import { stage } from "../compose.ts";
import { decide, type EventContext } from "../context.ts";

/** Why a transport is closed right now, or null (see `OperationalGate.transportBlock`). */
export type TransportBlock = (transport: string) => string | null;

export function createTransportGateStage(blocked: TransportBlock) {
  return stage<EventContext>("transport_gate", (ctx, next) => {
    if (ctx.env.kind === "status") return next();
    const reason = blocked(ctx.env.transport);
    if (reason === null) return next();
    decide(ctx, { stage: "transport_gate", outcome: "skip", reason, detail: { transport: ctx.env.transport } }, "recorded");
  });
}
