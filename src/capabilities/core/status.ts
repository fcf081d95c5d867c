/**
 * @module `/tau status` and `/tau health`: the same views as `tau status` / `tau health` (one verdict: `healthFor`,
 * judged by the service's recorded configuration), short enough for chat; status adds alerts not delivered yet and
 * open incidents.
 */
import { z } from "zod";
import { defineCapability, reported } from "../capability.ts";
import { responderUsage } from "../../health/responder-usage.ts";

/** The window `tau status` reports responder usage over. */
const USAGE_WINDOW_MS = 24 * 3600_000;

export const healthCapability = defineCapability({
  id: "tau.health",
  alias: ["health"],
  summary: "healthy / degraded / failing with reason codes",
  args: z.object({}).strict(),
  role: "viewer",
  sideEffect: "read",
  approval: "none",
  run: (_args, ctx) => {
    const h = ctx.services.health();
    return reported(
      "command_health",
      `Health: ${h.state} (${h.reason_codes.join(", ")}); queue_depth ${h.queue_depth}, failure_streak ${h.failure_streak}.`,
      h,
    );
  },
});

export const statusCapability = defineCapability({
  id: "tau.status",
  alias: ["status"],
  summary: "rollout gate, counters and outbound mode",
  args: z.object({}).strict(),
  role: "viewer",
  sideEffect: "read",
  approval: "none",
  run: (_args, ctx) => {
    const h = ctx.services.health();
    const c = ctx.services.store.counters.all();
    const gate = h.state === "healthy" ? "pass" : "fail";
    const policy = ctx.services.policies.status();
    const data = {
      rollout_gate: gate,
      health: h.state,
      reason_codes: h.reason_codes,
      outbound_mode: ctx.services.config.outbound.mode,
      policy: policy.state,
      counters: c,
      alerts_firing: ctx.services.store.alerts
        .states()
        .filter((a) => a.firing)
        .map((a) => `${a.severity} ${a.alert_key}`),
      alerts_undelivered: ctx.services.store.alerts.countUndelivered(),
      incidents_open: ctx.services.store.incidents.open().map((i) => `${i.incident_id} ${i.severity} ${i.status}`),
      responders: Object.keys(ctx.services.config.responders).length
        ? responderUsage(ctx.services.store, ctx.services.config, ctx.now - USAGE_WINDOW_MS, ctx.now)
        : null,
      /** Attachments by media reason code over the same window (media understanding). */
      media: ctx.services.store.media.countsSince(ctx.now - USAGE_WINDOW_MS),
    };
    const u = data.responders;
    const mediaLine = Object.entries(data.media)
      .map(([reason, n]) => `${reason} ×${n}`)
      .join(", ");
    return reported(
      "command_status",
      [
        `Rollout gate: ${gate} (health ${h.state}).`,
        `Processed ${c["events.processed"] ?? 0} events, ${c["events.duplicates"] ?? 0} duplicates, ${c["events.quarantined"] ?? 0} quarantined; queue_depth ${h.queue_depth}.`,
        `Outbound: ${data.outbound_mode}. Policy: ${policy.state}${policy.active_sha256 ? ` (${policy.active_sha256.slice(0, 12)})` : ""}.`,
        ...(h.state !== "healthy" ? [`Reasons: ${h.reason_codes.join(", ")}.`] : []),
        ...(data.alerts_firing.length || data.alerts_undelivered
          ? [`Alerts firing: ${data.alerts_firing.join(", ") || "none"}; not delivered yet: ${data.alerts_undelivered}.`]
          : []),
        ...(data.incidents_open.length ? [`Open incidents: ${data.incidents_open.join(", ")}.`] : []),
        ...(u
          ? [
              `Responders (24 h): ${u.totals.calls} model calls, ${u.totals.input_tokens} in / ${u.totals.output_tokens} out tokens, ${u.totals.replies} replies${u.totals.cost_usd !== null ? `, about $${u.totals.cost_usd.toFixed(4)}` : ""}; ${u.jobs.queued} queued, ${u.jobs.running} running${u.errors.length ? `; errors: ${u.errors.map((e) => `${e.reason} ×${e.count}`).join(", ")}` : ""}.`,
            ]
          : []),
        ...(mediaLine ? [`Media (24 h): ${mediaLine}.`] : []),
      ].join("\n"),
      data,
    );
  },
});
