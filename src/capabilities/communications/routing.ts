/**
 * @module Routing and cutover: which provider carries a channel and whether this send is live. Pure.
 * Live needs all three: stack mode `live-pilot`, provider mode `live`, cutover phase `pilot` or `live`
 * (and in `pilot`, the recipient on `pilot_recipients` when that list is set). Anything else is simulated.
 */
import type { Decision } from "../../contracts/decision.ts";
import type { CommsContracts, ProviderName } from "./contracts.ts";

export interface Route {
  channel: "email" | "sms";
  provider: ProviderName;
  live: boolean;
  mode: "simulation" | "live";
  phase: "shadow" | "pilot" | "live";
  stack_mode: "simulation" | "live-pilot";
  /** Sender address or number (null with a Twilio Messaging Service). */
  from: string | null;
}

type RouteReason =
  | "route_live"
  | "route_simulated_stack_mode"
  | "route_simulated_provider_mode"
  | "route_simulated_shadow_phase"
  | "route_simulated_pilot_recipient"
  | "route_live_unsupported";

/** Stage `routing`: the provider for `channel` and live-or-simulated, with the reason. `recipient` is normalized. */
export function decideRouting(c: CommsContracts, channel: "email" | "sms", recipient: string): { route: Route; decision: Decision } {
  const provider: ProviderName = channel === "sms" ? c.providers.routes.sms : c.providers.routes.email;
  const p =
    provider === "resend"
      ? c.providers.providers.resend
      : provider === "twilio"
        ? c.providers.providers.twilio
        : c.providers.providers.smtp!;
  let reason: RouteReason;
  if (c.stack.mode !== "live-pilot") reason = "route_simulated_stack_mode";
  else if (p.mode !== "live") reason = "route_simulated_provider_mode";
  else if (p.cutover_phase === "shadow") reason = "route_simulated_shadow_phase";
  else if (
    p.cutover_phase === "pilot" &&
    p.pilot_recipients.length > 0 &&
    !p.pilot_recipients.map((r) => r.toLowerCase()).includes(recipient.toLowerCase())
  ) {
    reason = "route_simulated_pilot_recipient";
  } else reason = "route_live";
  // SMTP submission belongs to the mail capabilities; this surface only simulates on that route.
  if (reason === "route_live" && provider === "smtp") reason = "route_live_unsupported";
  const live = reason === "route_live";
  const from = "messaging_service_sid" in p && p.from === null ? null : p.from;
  const route: Route = { channel, provider, live, mode: p.mode, phase: p.cutover_phase, stack_mode: c.stack.mode, from };
  return {
    route,
    decision: {
      stage: "routing",
      outcome: reason === "route_live_unsupported" ? "deny" : "allow",
      reason,
      matched_by: `routes.${channel}`,
      detail: { provider, live, mode: p.mode, cutover_phase: p.cutover_phase, stack_mode: c.stack.mode },
    },
  };
}
