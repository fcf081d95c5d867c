/**
 * @module Communications state (migration 003): consent registry, recipient time zones, previews, the delivery
 * log, alert cooldowns and applied webhook ids. Takes the `Db` from `services.db`; SQL stays in this file.
 */
import { createHash } from "node:crypto";
import type { ConsentFact, ConsentStatus } from "../../policy/consent.ts";
import type { Db } from "../../store/index.ts";

export type CommsChannel = "email" | "sms";
export type ConsentSource = "twilio_webhook" | "provider_error" | "cli" | "import";
export type PreviewStatus = "ready" | "blocked" | "executing" | "executed";
export type DeliveryStatus = "sending" | "simulated" | "sent" | "delivered" | "failed" | "policy_blocked" | "timeout" | "bounced" | "complained";

export interface PreviewRow {
  preview_id: string;
  template_id: string;
  /** `email`, `sms`, or what was asked for when the template was unknown. */
  channel: string;
  message_type: string;
  recipient: string;
  subject: string | null;
  body: string;
  vars_hash: string;
  basis_hash: string;
  /** JSON: part name → sha256, to say what changed. */
  basis: string;
  /** JSON: the decisions at preview time. */
  decision: string;
  /** JSON: the routing decision at preview time. */
  routing: string;
  reason_code: string;
  requested_by: string;
  status: PreviewStatus;
  created_at_ms: number;
  expires_at_ms: number;
  executed_at_ms: number | null;
}

export interface DeliveryRow {
  id: number;
  delivery_id: string;
  preview_id: string | null;
  channel: CommsChannel;
  provider: string;
  message_type: string;
  recipient_hash: string;
  recipient_masked: string;
  live: number;
  status: DeliveryStatus;
  reason_code: string;
  provider_id: string | null;
  idempotency_key: string;
  latency_ms: number | null;
  attempts: number;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface DeliveryFilter {
  status?: DeliveryStatus | undefined;
  channel?: CommsChannel | undefined;
  sinceMs?: number | undefined;
  limit: number;
}

/** Counts behind the anomaly rates, over `created_at_ms >= since`. */
export interface DeliveryCounts {
  total: number;
  failed: number;
  policy_blocked: number;
  timeout: number;
}

/** A stable, non-reversible key for logs and the delivery table (not a secret: do not treat it as one). */
export function recipientHash(recipient: string): string {
  return createHash("sha256").update(`tau-recipient\u0000${recipient}`).digest("hex").slice(0, 32);
}

/** `+1***4567` or `a***@example.com`: enough for an operator to recognise, not to contact. */
export function maskRecipient(recipient: string): string {
  const at = recipient.lastIndexOf("@");
  if (at > 0) return `${recipient[0]}***${recipient.slice(at)}`;
  if (recipient.length <= 6) return "***";
  return `${recipient.slice(0, 2)}***${recipient.slice(-4)}`;
}

export function createCommsStore(db: Db) {
  const q = {
    consentFacts: db.prepare<[string, string], ConsentFact>("SELECT message_type, status, updated_at_ms, source FROM comms_consent WHERE recipient = ? AND channel = ?"),
    setConsent: db.prepare(
      "INSERT INTO comms_consent (recipient, channel, message_type, status, source, updated_at_ms) VALUES (@recipient, @channel, @message_type, @status, @source, @now) " +
        "ON CONFLICT(recipient, channel, message_type) DO UPDATE SET status = excluded.status, source = excluded.source, updated_at_ms = excluded.updated_at_ms",
    ),
    consentCounts: db.prepare<[], { channel: string; status: string; n: number }>("SELECT channel, status, COUNT(*) AS n FROM comms_consent GROUP BY channel, status ORDER BY channel, status"),
    timezone: db.prepare<[string], string>("SELECT timezone FROM comms_recipients WHERE recipient = ?").pluck(),
    setTimezone: db.prepare("INSERT INTO comms_recipients (recipient, timezone, updated_at_ms) VALUES (?, ?, ?) ON CONFLICT(recipient) DO UPDATE SET timezone = excluded.timezone, updated_at_ms = excluded.updated_at_ms"),
    insertPreview: db.prepare(
      "INSERT INTO comms_previews (preview_id, template_id, channel, message_type, recipient, subject, body, vars_hash, basis_hash, basis, decision, routing, reason_code, requested_by, status, created_at_ms, expires_at_ms) " +
        "VALUES (@preview_id, @template_id, @channel, @message_type, @recipient, @subject, @body, @vars_hash, @basis_hash, @basis, @decision, @routing, @reason_code, @requested_by, @status, @created_at_ms, @expires_at_ms)",
    ),
    preview: db.prepare<[string], PreviewRow>("SELECT * FROM comms_previews WHERE preview_id = ?"),
    transitionPreview: db.prepare("UPDATE comms_previews SET status = @to, executed_at_ms = CASE WHEN @to = 'executed' THEN @now ELSE executed_at_ms END WHERE preview_id = @id AND status = @from"),
    insertDelivery: db.prepare(
      "INSERT INTO comms_deliveries (delivery_id, preview_id, channel, provider, message_type, recipient_hash, recipient_masked, live, status, reason_code, provider_id, idempotency_key, latency_ms, attempts, created_at_ms, updated_at_ms) " +
        "VALUES (@delivery_id, @preview_id, @channel, @provider, @message_type, @recipient_hash, @recipient_masked, @live, @status, @reason_code, @provider_id, @idempotency_key, @latency_ms, @attempts, @now, @now)",
    ),
    updateDelivery: db.prepare(
      "UPDATE comms_deliveries SET status = @status, reason_code = @reason_code, provider_id = COALESCE(@provider_id, provider_id), latency_ms = COALESCE(@latency_ms, latency_ms), " +
        "attempts = attempts + @bump, updated_at_ms = @now WHERE delivery_id = @delivery_id",
    ),
    delivery: db.prepare<[string], DeliveryRow>("SELECT * FROM comms_deliveries WHERE delivery_id = ?"),
    byProviderId: db.prepare<[string, string], DeliveryRow>("SELECT * FROM comms_deliveries WHERE provider = ? AND provider_id = ?"),
    counts: db.prepare<{ since: number }, DeliveryCounts>(
      "SELECT (SELECT COUNT(*) FROM comms_deliveries WHERE created_at_ms >= @since) AS total, " +
        "(SELECT COUNT(*) FROM comms_deliveries WHERE status IN ('failed', 'bounced') AND created_at_ms >= @since) AS failed, " +
        "(SELECT COUNT(*) FROM comms_deliveries WHERE status = 'policy_blocked' AND created_at_ms >= @since) AS policy_blocked, " +
        "(SELECT COUNT(*) FROM comms_deliveries WHERE status = 'timeout' AND created_at_ms >= @since) AS timeout",
    ),
    retryable: db.prepare<[number, number], DeliveryRow>("SELECT * FROM comms_deliveries WHERE status IN ('failed', 'timeout') AND live = 1 AND attempts < ? ORDER BY id LIMIT ?"),
    alert: db.prepare<[string], { alert_key: string; last_dispatched_at_ms: number; artifact_path: string; outbox_id: string | null }>("SELECT * FROM comms_alerts WHERE alert_key = ?"),
    putAlert: db.prepare(
      "INSERT INTO comms_alerts (alert_key, last_dispatched_at_ms, artifact_path, outbox_id) VALUES (@key, @at, @path, @outbox) " +
        "ON CONFLICT(alert_key) DO UPDATE SET last_dispatched_at_ms = excluded.last_dispatched_at_ms, artifact_path = excluded.artifact_path, outbox_id = excluded.outbox_id",
    ),
    webhookSeen: db.prepare("INSERT INTO comms_webhook_events (provider, event_id, received_at_ms) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"),
  };

  return {
    consentFacts: (recipient: string, channel: CommsChannel): ConsentFact[] => q.consentFacts.all(recipient, channel),
    setConsent: (r: { recipient: string; channel: CommsChannel; message_type: string; status: ConsentStatus; source: ConsentSource }, now: number): void =>
      void q.setConsent.run({ ...r, now }),
    consentCounts: () => q.consentCounts.all(),
    recipientTimezone: (recipient: string): string | null => q.timezone.get(recipient) ?? null,
    setRecipientTimezone: (recipient: string, timezone: string, now: number): void => void q.setTimezone.run(recipient, timezone, now),

    insertPreview: (p: Omit<PreviewRow, "executed_at_ms">): void => void q.insertPreview.run(p),
    preview: (id: string): PreviewRow | undefined => q.preview.get(id),
    /** Compare-and-set: true only for the one caller that moved it. */
    transitionPreview: (id: string, from: PreviewStatus, to: PreviewStatus, now: number): boolean => q.transitionPreview.run({ id, from, to, now }).changes === 1,

    insertDelivery: (d: Omit<DeliveryRow, "id" | "created_at_ms" | "updated_at_ms">, now: number): void => void q.insertDelivery.run({ ...d, now }),
    updateDelivery: (
      deliveryId: string,
      patch: { status: DeliveryStatus; reason_code: string; provider_id?: string | null; latency_ms?: number | null; attempt?: boolean },
      now: number,
    ): void =>
      void q.updateDelivery.run({
        delivery_id: deliveryId,
        status: patch.status,
        reason_code: patch.reason_code,
        provider_id: patch.provider_id ?? null,
        latency_ms: patch.latency_ms ?? null,
        bump: patch.attempt ? 1 : 0,
        now,
      }),
    delivery: (deliveryId: string): DeliveryRow | undefined => q.delivery.get(deliveryId),
    deliveryByProviderId: (provider: string, providerId: string): DeliveryRow | undefined => q.byProviderId.get(provider, providerId),
    /** Newest first, filtered; `limit` rows at most. */
    listDeliveries: (f: DeliveryFilter): DeliveryRow[] => {
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (f.status) (where.push("status = ?"), params.push(f.status));
      if (f.channel) (where.push("channel = ?"), params.push(f.channel));
      if (f.sinceMs !== undefined) (where.push("created_at_ms >= ?"), params.push(f.sinceMs));
      const sql = `SELECT * FROM comms_deliveries ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`;
      return db.prepare<(string | number)[], DeliveryRow>(sql).all(...params, f.limit);
    },
    /** One statement of four counts, each a range search on a covering index (`comms_deliveries_created`, `…_status_created`). */
    deliveryCounts: (sinceMs: number): DeliveryCounts => q.counts.get({ since: sinceMs })!,
    /** Failed or timed-out live sends with attempts left, oldest first. */
    retryableDeliveries: (maxAttempts: number, limit: number): DeliveryRow[] => q.retryable.all(maxAttempts, limit),

    alert: (key: string) => q.alert.get(key),
    putAlert: (a: { key: string; at: number; path: string; outbox: string | null }): void => void q.putAlert.run(a),
    /** Record a provider webhook id; false when it was already applied. */
    markWebhook: (provider: string, eventId: string, now: number): boolean => q.webhookSeen.run(provider, eventId, now).changes === 1,
  };
}

export type CommsStore = ReturnType<typeof createCommsStore>;
