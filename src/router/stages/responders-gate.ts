/**
 * @module Stage (between the command stage and the responder): while the `responders` kill switch is on,
 * non-command messages get no responder reply (`responders_kill_switch`); `/tau` commands never reach this
 * stage, so they still answer.
 */
import { stage } from "../compose.ts";
import { decide, type EventContext } from "../context.ts";

export function createRespondersGateStage(silenced: () => boolean) {
  return stage<EventContext>("responders_gate", (ctx, next) => {
    if (!silenced()) return next();
    decide(ctx, { stage: "responders_gate", outcome: "skip", reason: "responders_kill_switch" }, "no_reply");
  });
}
