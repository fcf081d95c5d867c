/**
 * @module Stage (between the command stage and the responder): while the `responders` kill switch is on,
 * non-command messages get no built-in reply (`responders_kill_switch`); messages for an asynchronous responder
 * still get their job, which the responder worker holds until the switch is off (held, not lost). `/tau` commands
 * never reach this stage, so they still answer.
 */
import { stage } from "../compose.ts";
import { decide, type EventContext } from "../context.ts";

export function createRespondersGateStage(silenced: () => boolean, isAsync: (responder: string) => boolean = () => false) {
  return stage<EventContext>("responders_gate", (ctx, next) => {
    if (!silenced()) return next();
    if (ctx.route && isAsync(ctx.route.responder)) {
      decide(ctx, { stage: "responders_gate", outcome: "info", reason: "responders_kill_switch_held" });
      return next();
    }
    decide(ctx, { stage: "responders_gate", outcome: "skip", reason: "responders_kill_switch" }, "no_reply");
  });
}
