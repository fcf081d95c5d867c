/**
 * @module `communications.send.execute` (`/tau send execute <preview_id>`, confirm): send a stored preview at
 * most once. Refuses unknown, already sent, expired and changed previews (`preview_unknown`,
 * `preview_already_sent`, `preview_expired`, `preview_changed`); re-checks consent, quiet hours and routing
 * now; sends live only when the route allows it (and the `outbound` kill switch is off), else records a
 * simulated send.
 */
import { z } from "zod";
import { commandHint, defineCapability, failed, reported, type CapabilityContext, type CapabilityResult } from "../capability.ts";
import type { Decision } from "../../contracts/decision.ts";
import type { CommsContracts } from "./contracts.ts";
import { sha256, withContracts } from "./context.ts";
import { attemptSend, idempotencyKeyFor, outboundKilled } from "./deliver.ts";
import { revalidatePreview } from "./send-gate.ts";
import type { CommsStore, PreviewRow } from "../../store/index.ts";
import { maskRecipient, recipientHash } from "./recipients.ts";

const Args = z.object({ preview_id: z.string().min(1).max(64) }).strict();

/** Record a refusal by policy in the delivery log (it counts toward the policy-block rate). */
function recordBlocked(ctx: CapabilityContext, store: CommsStore, p: PreviewRow, provider: string, reason: string): string {
  const n = store.deliveriesForPreview(p.preview_id);
  const deliveryId = `dl_${sha256(`${p.preview_id}\u0000${n}`).slice(0, 20)}`;
  store.insertDelivery(
    {
      delivery_id: deliveryId,
      preview_id: p.preview_id,
      channel: p.channel === "sms" ? "sms" : "email",
      provider,
      message_type: p.message_type,
      recipient_hash: recipientHash(p.recipient),
      recipient_masked: maskRecipient(p.recipient),
      live: 0,
      status: "policy_blocked",
      reason_code: reason,
      provider_id: null,
      idempotency_key: idempotencyKeyFor(p.preview_id),
      latency_ms: null,
      attempts: 1,
    },
    ctx.now,
  );
  return deliveryId;
}

async function execute(previewId: string, ctx: CapabilityContext, c: CommsContracts): Promise<CapabilityResult> {
  const s = ctx.services;
  const store = s.store.comms;
  const audit = (outcome: string, reason: string, extra: Record<string, unknown> = {}) =>
    s.audit({
      actor: ctx.principal,
      surface: ctx.surface,
      action: "comms.send.execute",
      target: previewId,
      args: { preview_id: previewId, ...extra },
      outcome,
      reason_code: reason,
    });
  const refuse = (reason: string, text: string, data: Record<string, unknown> = {}) => {
    audit("refused", reason);
    return failed(reason, text, { preview_id: previewId, ...data });
  };
  const p = store.preview(previewId);
  if (!p)
    return refuse(
      "preview_unknown",
      `No preview ${previewId}. Run ${commandHint(ctx, "communications.send.preview", ["<template>", "<to>"])} first.`,
    );
  if (p.status === "executed" || p.status === "executing")
    return refuse("preview_already_sent", `Preview ${previewId} was already executed; each preview sends at most once.`);
  if (ctx.now >= p.expires_at_ms)
    return refuse("preview_expired", `Preview ${previewId} expired at ${new Date(p.expires_at_ms).toISOString()}; preview again.`);
  const provider = (JSON.parse(p.routing) as { provider?: string } | null)?.provider ?? "none";
  if (p.status === "blocked") {
    s.store.atomically(() => recordBlocked(ctx, store, p, provider, p.reason_code));
    return refuse(p.reason_code, `Preview ${previewId} was blocked (${p.reason_code}); nothing was sent.`);
  }
  const channel = p.channel as "email" | "sms";
  const facts = { consent: store.consentFacts(p.recipient, channel), timezone: store.recipientTimezone(p.recipient) };
  const re = revalidatePreview(c, { ...p, channel, basis: JSON.parse(p.basis) as Record<string, string> }, facts, ctx.now);
  if (re.changed.length > 0) {
    const current = re.decisions.find((d: Decision) => d.outcome === "deny")?.reason ?? null;
    return refuse(
      "preview_changed",
      `Preview ${previewId} no longer matches ${re.changed.join(", ")}${current ? ` (now: ${current})` : ""}; preview again.`,
      { changed: re.changed, decisions: re.decisions },
    );
  }
  if (re.denied) {
    const denied = re.denied;
    s.store.atomically(() => recordBlocked(ctx, store, p, provider, denied.reason));
    return refuse(
      denied.reason,
      `Not sent: ${denied.reason}${denied.detail?.local_time ? ` (recipient local time ${denied.detail.local_time} ${denied.detail.timezone})` : ""}. The preview stays valid until it expires.`,
      { decisions: re.decisions },
    );
  }
  const route = re.route!;
  if (route.live && outboundKilled(s, ctx.now)) {
    return refuse(
      "delivery_kill_switch",
      `Not sent: the outbound kill switch is on. The preview stays valid until it expires; turn the switch off and execute again.`,
    );
  }
  // Claim the preview first (compare-and-set), so two approvals racing cannot both send.
  const deliveryId = `dl_${sha256(`${p.preview_id}\u0000send`).slice(0, 20)}`;
  const claimed = s.store.atomically(() => {
    if (!store.transitionPreview(previewId, "ready", "executing", ctx.now)) return false;
    store.insertDelivery(
      {
        delivery_id: deliveryId,
        preview_id: previewId,
        channel,
        provider: route.provider,
        message_type: p.message_type,
        recipient_hash: recipientHash(p.recipient),
        recipient_masked: maskRecipient(p.recipient),
        live: route.live ? 1 : 0,
        status: "sending",
        reason_code: "delivery_sending",
        provider_id: null,
        idempotency_key: idempotencyKeyFor(previewId),
        latency_ms: null,
        attempts: 1,
      },
      ctx.now,
    );
    return true;
  });
  if (!claimed) return refuse("preview_already_sent", `Preview ${previewId} was already executed; each preview sends at most once.`);
  const r = await attemptSend(s, c, store, p, route, deliveryId);
  s.store.atomically(() => {
    store.updateDelivery(
      deliveryId,
      { status: r.status, reason_code: r.reason_code, provider_id: r.provider_id, latency_ms: r.latency_ms },
      s.clock(),
    );
    store.transitionPreview(previewId, "executing", "executed", s.clock());
    audit(r.status, r.reason_code, { delivery_id: deliveryId, provider: route.provider, live: r.live });
  });
  const data = {
    preview_id: previewId,
    delivery_id: deliveryId,
    status: r.status,
    reason_code: r.reason_code,
    live: r.live,
    provider: route.provider,
    provider_id: r.provider_id,
    recipient: maskRecipient(p.recipient),
    consent_updated: r.consent_updated,
    detail: r.outcome && !r.outcome.ok ? r.outcome.detail : null,
    retry_after_ms: r.outcome && !r.outcome.ok ? r.outcome.retry_after_ms : null,
  };
  if (r.status === "simulated")
    return reported(
      "delivery_simulated",
      `Simulated ${channel} to ${data.recipient} via ${route.provider} (${deliveryId}); nothing left tau.`,
      data,
    );
  if (r.status === "sent")
    return reported("delivery_sent", `Sent ${channel} to ${data.recipient} via ${route.provider}: ${r.provider_id} (${deliveryId}).`, data);
  const extra = r.consent_updated
    ? " The recipient is now recorded as opted out."
    : r.status === "timeout"
      ? " The provider may have accepted it; check before replaying."
      : "";
  return failed(
    r.reason_code,
    `Send failed: ${r.reason_code} (${data.detail}).${extra} Replay with ${commandHint(ctx, "communications.alerts.deadletter.replay")}.`,
    data,
  );
}

export const sendExecuteCapability = defineCapability({
  id: "communications.send.execute",
  alias: ["send", "execute"],
  summary: "send a previewed message (once); re-checks policy and routing first",
  args: Args,
  positional: ["preview_id"],
  role: "operator",
  sideEffect: "send",
  approval: "confirm",
  run: (args, ctx) => withContracts(ctx, (c) => execute(args.preview_id, ctx, c)),
});
