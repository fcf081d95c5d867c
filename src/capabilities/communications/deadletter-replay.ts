/**
 * @module `communications.alerts.deadletter.replay` (`/tau alerts deadletter replay [--limit N] [--dry-run]`,
 * confirm): retry failed or timed-out LIVE sends, oldest first, each at most `deadletter.max_attempts` times
 * (none while the `outbound` kill switch is on).
 * Consent and quiet hours are checked again; a route that is no longer live re-simulates. Validation failures
 * and unsubscribed recipients are not retried. Emails reuse the preview's `Idempotency-Key`, so Resend never
 * sends one twice; an SMS that timed out may already have arrived (said in the answer). Every replay is audited.
 */
import { z } from "zod";
import { defineCapability, reported } from "../capability.ts";
import { flag, limit, withContracts } from "./context.ts";
import { attemptSend, outboundKilled } from "./deliver.ts";
import { revalidatePreview } from "./send-gate.ts";
import { PERMANENT_FAILURES } from "./replay-pending.ts";

export const deadletterReplayCapability = defineCapability({
  id: "communications.alerts.deadletter.replay",
  alias: ["alerts", "deadletter", "replay"],
  summary: "retry failed/timed-out live sends (or re-simulate when no longer live), with audit",
  args: z.object({ limit: limit(10, 100), dry_run: flag }).strict(),
  role: "operator",
  sideEffect: "send",
  approval: "confirm",
  run: (args, ctx) =>
    withContracts(ctx, async (c) => {
      const s = ctx.services;
      const store = s.store.comms;
      const candidates = store
        .retryableDeliveries(c.delivery.deadletter.max_attempts, 1000)
        .filter((d) => !PERMANENT_FAILURES.has(d.reason_code))
        .slice(0, args.limit);
      if (args.dry_run) {
        return reported(
          "deadletter_dry_run",
          candidates.length
            ? `Would replay ${candidates.length}:\n${candidates.map((d) => `${d.delivery_id} ${d.channel}/${d.provider} ${d.recipient_masked} ${d.status} ${d.reason_code} (attempt ${d.attempts + 1})`).join("\n")}`
            : "Nothing to replay.",
          { candidates: candidates.map((d) => d.delivery_id), dry_run: true },
        );
      }
      const results: { delivery_id: string; from: string; to: string; reason_code: string; live: boolean }[] = [];
      for (const d of candidates) {
        const p = d.preview_id ? store.preview(d.preview_id) : undefined;
        const audit = (outcome: string, reason: string) =>
          s.audit({
            actor: ctx.principal,
            surface: ctx.surface,
            action: "comms.deadletter.replay",
            target: d.delivery_id,
            args: { preview_id: d.preview_id, attempt: d.attempts + 1 },
            outcome,
            reason_code: reason,
          });
        if (!p || (p.channel !== "email" && p.channel !== "sms")) {
          audit("skipped", "deadletter_preview_missing");
          results.push({
            delivery_id: d.delivery_id,
            from: d.status,
            to: d.status,
            reason_code: "deadletter_preview_missing",
            live: false,
          });
          continue;
        }
        const channel = p.channel;
        const re = revalidatePreview(
          c,
          { ...p, channel, basis: JSON.parse(p.basis) as Record<string, string> },
          { consent: store.consentFacts(p.recipient, channel), timezone: store.recipientTimezone(p.recipient) },
          ctx.now,
        );
        if (!re.route) {
          audit("skipped", "preview_changed");
          results.push({ delivery_id: d.delivery_id, from: d.status, to: d.status, reason_code: "preview_changed", live: false });
          continue;
        }
        if (re.denied) {
          const reason = re.denied.reason;
          if (reason === "quiet_hours_active") {
            // Not a failure of the message: leave it queued for a replay after the recipient's morning.
            audit("deferred", reason);
            results.push({ delivery_id: d.delivery_id, from: d.status, to: d.status, reason_code: reason, live: true });
            continue;
          }
          s.store.atomically(() => {
            store.updateDelivery(d.delivery_id, { status: "policy_blocked", reason_code: reason, attempt: true }, ctx.now);
            audit("policy_blocked", reason);
          });
          results.push({ delivery_id: d.delivery_id, from: d.status, to: "policy_blocked", reason_code: reason, live: false });
          continue;
        }
        if (re.route.live && outboundKilled(s, ctx.now)) {
          audit("deferred", "delivery_kill_switch");
          results.push({ delivery_id: d.delivery_id, from: d.status, to: d.status, reason_code: "delivery_kill_switch", live: true });
          continue;
        }
        const r = await attemptSend(s, c, store, p, re.route, d.delivery_id);
        const reason = r.status === "simulated" ? "delivery_resimulated" : r.reason_code;
        s.store.atomically(() => {
          store.updateDelivery(
            d.delivery_id,
            { status: r.status, reason_code: reason, provider_id: r.provider_id, latency_ms: r.latency_ms, attempt: true },
            s.clock(),
          );
          audit(r.status, reason);
        });
        results.push({ delivery_id: d.delivery_id, from: d.status, to: r.status, reason_code: reason, live: r.live });
      }
      const sent = results.filter((r) => r.to === "sent").length;
      const text = results.length
        ? [
            `Replayed ${results.length}: ${sent} sent, ${results.filter((r) => r.to === "simulated").length} re-simulated, ${results.filter((r) => r.to === "failed" || r.to === "timeout").length} failed again.`,
            ...results.map((r) => `${r.delivery_id}: ${r.from} → ${r.to} (${r.reason_code})`),
          ].join("\n")
        : "Nothing to replay.";
      const note = results.some((r) => r.from === "timeout" && r.to === "sent")
        ? "\nNote: an SMS that timed out may have arrived before; its replay can be a duplicate."
        : "";
      return reported(results.length ? "deadletter_replayed" : "deadletter_empty", text + note, { results });
    }),
});
