/**
 * @module Responders: what answers non-command messages from admitted actors. `ack` acknowledges with the
 * route and session; `none` stays silent. Later: webhook or LLM responders behind the same interface.
 */
import type { Envelope } from "../contracts/envelope.ts";
import type { RouteInfo } from "../contracts/event-context.ts";

/** A responder turns an admitted message into reply text, or null for no reply. Must be synchronous and pure. */
export interface Responder {
  name: string;
  respond(env: Envelope, route: RouteInfo): string | null;
}

/** A short acknowledgement naming the route and session. */
export const ackResponder: Responder = {
  name: "ack",
  respond: (_env, route) =>
    `tau received your message (route ${route.binding_id ?? "default"}, phase ${route.phase}, session ${route.session_key}).`,
};

/** Longest message excerpt in a forward: enough to triage, short enough for one chunk anywhere. */
const FORWARD_EXCERPT_CHARS = 600;

/**
 * A summary for another conversation (route `forward_to`): where it came from, who sent it, the subject for
 * mail, and an excerpt. The sender gets no reply.
 */
export const forwardResponder: Responder = {
  name: "forward",
  respond: (env, route) => {
    const who =
      env.actor.display && env.actor.id && env.actor.display !== env.actor.id
        ? `${env.actor.display} <${env.actor.id}>`
        : (env.actor.id ?? env.actor.display ?? "unknown sender");
    const subject = typeof env.meta.subject === "string" && env.meta.subject ? `\nSubject: ${env.meta.subject}` : "";
    const body = [...env.text.trim()];
    const excerpt = body.length > FORWARD_EXCERPT_CHARS ? `${body.slice(0, FORWARD_EXCERPT_CHARS).join("")}…` : body.join("");
    const files = env.attachments.length ? `\n(${env.attachments.length} attachment${env.attachments.length === 1 ? "" : "s"})` : "";
    return `[${env.transport}] ${who} → route ${route.binding_id ?? "default"}${subject}\n\n${excerpt}${files}`;
  },
};

/** Says nothing. */
export const noneResponder: Responder = { name: "none", respond: () => null };

/** The built-in responders by name. */
export function builtinResponders(): Map<string, Responder> {
  return new Map([
    [ackResponder.name, ackResponder],
    [noneResponder.name, noneResponder],
    [forwardResponder.name, forwardResponder],
  ]);
}
