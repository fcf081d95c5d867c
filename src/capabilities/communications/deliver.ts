/**
 * @module One send attempt for a stored preview: simulated unless the route is live, else through the Resend or
 * Twilio adapter. Records nothing itself except a consent opt-out when the provider says the recipient
 * unsubscribed (Twilio 21610); callers own the delivery row.
 */
import type { Services } from "../services.ts";
import { readOperationalSnapshot } from "../killswitch/index.ts";
import type { CommsContracts } from "./contracts.ts";
import { sha256 } from "./context.ts";
import type { SendOutcome } from "./provider-ports.ts";
import { emailSenderFor, smsSenderFor } from "./providers.ts";
import type { Route } from "./routing.ts";
import type { CommsStore, DeliveryStatus, PreviewRow } from "../../store/index.ts";
import { maskRecipient, recipientHash } from "./recipients.ts";

/** True while the `outbound` kill switch is on: no live send leaves tau (simulated ones still may). */
export function outboundKilled(s: Services, now: number): boolean {
  return readOperationalSnapshot(s.store, now).killed.has("outbound");
}

/** `Idempotency-Key` for a preview's email: the same on every attempt, so Resend sends it at most once. */
export function idempotencyKeyFor(previewId: string): string {
  return `tau-preview-${previewId}`;
}

interface AttemptResult {
  status: DeliveryStatus;
  reason_code: string;
  provider_id: string | null;
  latency_ms: number | null;
  live: boolean;
  /** The provider outcome for live attempts (null when simulated). */
  outcome: SendOutcome | null;
  consent_updated: boolean;
}

/** Send (or simulate) `preview` over `route`. */
export async function attemptSend(
  s: Services,
  c: CommsContracts,
  store: CommsStore,
  preview: PreviewRow,
  route: Route,
  deliveryId: string,
): Promise<AttemptResult> {
  if (!route.live) {
    return {
      status: "simulated",
      reason_code: "delivery_simulated",
      provider_id: `sim_${sha256(deliveryId).slice(0, 24)}`,
      latency_ms: 0,
      live: false,
      outcome: null,
      consent_updated: false,
    };
  }
  // The claim (the preview `executing`, its delivery row) is on disk before a message leaves.
  s.store.syncBeforeEffect();
  let outcome: SendOutcome;
  if (route.channel === "email") {
    const r = emailSenderFor(c, s);
    if (!r.ok) return missing(r.missing);
    outcome = await r.sender.send({
      from: route.from ?? c.providers.providers.resend.from,
      to: preview.recipient,
      subject: preview.subject ?? "",
      text: preview.body,
      replyTo: c.providers.providers.resend.reply_to,
      idempotencyKey: idempotencyKeyFor(preview.preview_id),
    });
  } else {
    const r = smsSenderFor(c, s);
    if (!r.ok) return missing(r.missing);
    const t = c.providers.providers.twilio;
    outcome = await r.sender.send({
      from: t.from,
      messagingServiceSid: t.messaging_service_sid,
      to: preview.recipient,
      body: preview.body,
      statusCallback: t.status_callback,
    });
  }
  let consentUpdated = false;
  if (!outcome.ok && outcome.reason_code === "provider_recipient_unsubscribed") {
    // The carrier-level opt-out is authoritative: record it so previews are blocked before the next call.
    const now = s.clock();
    s.store.atomically(() => {
      store.setConsent(
        { recipient: preview.recipient, channel: "sms", message_type: "*", status: "opted_out", source: "provider_error" },
        now,
      );
      s.audit({
        actor: "system:twilio",
        surface: "system",
        action: "comms.consent.opt_out",
        target: "comms_consent",
        args: {
          recipient: maskRecipient(preview.recipient),
          recipient_hash: recipientHash(preview.recipient),
          provider_code: outcome.provider_code,
          delivery_id: deliveryId,
        },
        outcome: "opted_out",
        reason_code: "provider_recipient_unsubscribed",
      });
    });
    consentUpdated = true;
  }
  return outcome.ok
    ? {
        status: "sent",
        reason_code: "delivery_sent",
        provider_id: outcome.provider_id,
        latency_ms: outcome.latency_ms,
        live: true,
        outcome,
        consent_updated: false,
      }
    : {
        status: outcome.status,
        reason_code: outcome.reason_code,
        provider_id: null,
        latency_ms: outcome.latency_ms,
        live: true,
        outcome,
        consent_updated: consentUpdated,
      };
}

function missing(ids: string[]): AttemptResult {
  return {
    status: "failed",
    reason_code: "provider_credentials_missing",
    provider_id: null,
    latency_ms: null,
    live: true,
    outcome: {
      ok: false,
      status: "failed",
      reason_code: "provider_credentials_missing",
      http_status: null,
      provider_code: null,
      retry_after_ms: null,
      latency_ms: 0,
      detail: `missing secrets: ${ids.join(", ")}`,
    },
    consent_updated: false,
  };
}
