/**
 * @module Responders: what answers non-command messages from admitted actors. `ack` acknowledges with the
 * route and session; `none` stays silent. Later: webhook or LLM responders behind the same interface.
 */
import type { Envelope } from "../contracts/envelope.ts";
import type { RouteInfo } from "../router/context.ts";

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

/** Says nothing. */
export const noneResponder: Responder = { name: "none", respond: () => null };

/** The built-in responders by name. */
export function builtinResponders(): Map<string, Responder> {
  return new Map([
    [ackResponder.name, ackResponder],
    [noneResponder.name, noneResponder],
  ]);
}
