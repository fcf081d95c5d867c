/** @module Stage: never answer ourselves; ignore other bots unless explicitly allowed by config. */
import type { BotIdentity, Envelope } from "../../contracts/envelope.ts";
import { stage } from "../compose.ts";
import { decide, type EventContext } from "../context.ts";

/** Our own actor id on the envelope's transport, or null when unknown. */
export function selfActorId(identity: BotIdentity, env: Envelope): string | null {
  switch (env.transport) {
    case "telegram":
      return identity.telegram.bot_id || null;
    case "discord":
      return identity.discord.user_id || null;
    case "whatsapp":
      return identity.whatsapp.phone_number_id || null;
    case "email":
      return null;
  }
}

/** `allowBots` holds actor keys `<transport>:<actor id>` of bots we may talk to. */
export function createSelfBotFilterStage(identity: BotIdentity, allowBots: ReadonlySet<string>) {
  return stage<EventContext>("self_bot_filter", (ctx, next) => {
    const { env } = ctx;
    const self = selfActorId(identity, env);
    if (self !== null && env.actor.id === self) {
      decide(ctx, { stage: "self_bot_filter", outcome: "skip", reason: "ignored_self" }, "ignored");
      return;
    }
    if (env.actor.is_bot && !(env.actor.id !== null && allowBots.has(`${env.transport}:${env.actor.id}`))) {
      // Automated mail says which header marked it (auto-replies, vacation notices, lists, bounces: never answered).
      const auto = typeof env.meta.auto_reason === "string" ? { detail: { auto_reason: env.meta.auto_reason } } : {};
      decide(ctx, { stage: "self_bot_filter", outcome: "skip", reason: "ignored_bot", ...auto }, "ignored");
      return;
    }
    next();
  });
}
