/**
 * @module `communications.delivery.log` (`/tau delivery log [--status S] [--channel C] [--since 24h] [--limit N]`):
 * the delivery log, newest first, recipients masked.
 */
import { z } from "zod";
import { defineCapability, failed, reported } from "../capability.ts";
import { limit, parseSince } from "./context.ts";

const STATUSES = ["sending", "simulated", "sent", "delivered", "failed", "policy_blocked", "timeout", "bounced", "complained"] as const;

export const deliveryLogCapability = defineCapability({
  id: "communications.delivery.log",
  alias: ["delivery", "log"],
  summary: "recent deliveries (filters: --status, --channel, --since; --limit)",
  args: z
    .object({
      status: z.enum(STATUSES).optional(),
      channel: z.enum(["email", "sms"]).optional(),
      since: z.string().optional(),
      limit: limit(20, 500),
    })
    .strict(),
  role: "viewer",
  sideEffect: "read",
  approval: "none",
  run: (args, ctx) => {
    const sinceMs = args.since === undefined ? undefined : parseSince(args.since, ctx.now);
    if (sinceMs === null)
      return failed("command_args_invalid", `--since ${args.since}: expected a duration like 15m, 24h, 7d or an ISO time.`);
    const rows = ctx.services.store.comms.listDeliveries({ status: args.status, channel: args.channel, sinceMs, limit: args.limit });
    const entries = rows.map((r) => ({
      delivery_id: r.delivery_id,
      preview_id: r.preview_id,
      at: new Date(r.created_at_ms).toISOString(),
      channel: r.channel,
      provider: r.provider,
      message_type: r.message_type,
      recipient: r.recipient_masked,
      live: r.live === 1,
      status: r.status,
      reason_code: r.reason_code,
      provider_id: r.provider_id,
      latency_ms: r.latency_ms,
      attempts: r.attempts,
    }));
    const text = entries.length
      ? entries
          .map(
            (e) =>
              `${e.at} ${e.delivery_id} ${e.channel}/${e.provider} ${e.recipient} ${e.status} ${e.reason_code}${e.live ? "" : " (sim)"}`,
          )
          .join("\n")
      : "No deliveries match.";
    return reported("delivery_log", text, { deliveries: entries });
  },
});
