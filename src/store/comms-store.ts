/**
 * @module Store family: communications (migration 003): the consent registry, recipient time zones, send
 * previews, the delivery log, alert cooldowns and applied provider webhook ids — plus the outbox dead letters
 * the incident bundle lists next to the delivery ones. Ids and times come from callers.
 */
import type { ConsentFact, ConsentStatus } from "../policy/consent.ts";
import type { Db } from "./db.ts";

export type CommsChannel = "email" | "sms";
export type ConsentSource = "twilio_webhook" | "provider_error" | "cli" | "import";
export type PreviewStatus = "ready" | "blocked" | "executing" | "executed";
export type DeliveryStatus =
  "sending" | "simulated" | "sent" | "delivered" | "failed" | "policy_blocked" | "timeout" | "bounced" | "complained";

/** A consent change: one row per recipient, channel and message type (`*` = every type). */
export interface ConsentChange {
  recipient: string;
  channel: CommsChannel;
  message_type: string;
  status: ConsentStatus;
  source: ConsentSource;
}

/** Registry size by channel and status. */
export interface ConsentCountRow {
  channel: string;
  status: string;
  n: number;
}

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

export interface CommsDeliveryRow {
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

/** What a delivery's outcome changes; `attempt` counts one more try. */
export interface DeliveryPatch {
  status: DeliveryStatus;
  reason_code: string;
  provider_id?: string | null;
  latency_ms?: number | null;
  attempt?: boolean;
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

/** A live send that failed or timed out, as the incident bundle lists it (recipient masked). */
export interface CommsDeadLetterRow {
  delivery_id: string;
  preview_id: string | null;
  channel: CommsChannel;
  provider: string;
  recipient_masked: string;
  status: DeliveryStatus;
  reason_code: string;
  attempts: number;
  updated_at_ms: number;
}

/** The last dispatch of one alert key (its cooldown starts there). */
export interface AlertRow {
  alert_key: string;
  last_dispatched_at_ms: number;
  artifact_path: string;
  outbox_id: string | null;
}

/** An outbox row that gave up (`dead_letter`). */
export interface OutboxDeadLetterRow {
  outbox_id: string;
  transport: string;
  conversation_id: string;
  purpose: string;
  reason: string | null;
  attempts: number;
  updated_at_ms: number;
}

/** Written as the partial index `comms_deliveries_retry` states it (migration 019; outbox-store.ts says why). */
const DEAD = "(status = 'failed' OR status = 'timeout') AND live = 1";

export function createCommsStore(db: Db) {
  const q = {
    consentFacts: db.prepare<[string, string], ConsentFact>(
      "SELECT message_type, status, updated_at_ms, source FROM comms_consent WHERE recipient = ? AND channel = ?",
    ),
    setConsent: db.prepare(
      "INSERT INTO comms_consent (recipient, channel, message_type, status, source, updated_at_ms) VALUES (@recipient, @channel, @message_type, @status, @source, @now) " +
        "ON CONFLICT(recipient, channel, message_type) DO UPDATE SET status = excluded.status, source = excluded.source, updated_at_ms = excluded.updated_at_ms",
    ),
    consentCounts: db.prepare<[], ConsentCountRow>(
      "SELECT channel, status, COUNT(*) AS n FROM comms_consent GROUP BY channel, status ORDER BY channel, status",
    ),
    timezone: db.prepare<[string], string>("SELECT timezone FROM comms_recipients WHERE recipient = ?").pluck(),
    setTimezone: db.prepare(
      "INSERT INTO comms_recipients (recipient, timezone, updated_at_ms) VALUES (?, ?, ?) ON CONFLICT(recipient) DO UPDATE SET timezone = excluded.timezone, updated_at_ms = excluded.updated_at_ms",
    ),

    insertPreview: db.prepare(
      "INSERT INTO comms_previews (preview_id, template_id, channel, message_type, recipient, subject, body, vars_hash, basis_hash, basis, decision, routing, reason_code, requested_by, status, created_at_ms, expires_at_ms) " +
        "VALUES (@preview_id, @template_id, @channel, @message_type, @recipient, @subject, @body, @vars_hash, @basis_hash, @basis, @decision, @routing, @reason_code, @requested_by, @status, @created_at_ms, @expires_at_ms)",
    ),
    preview: db.prepare<[string], PreviewRow>("SELECT * FROM comms_previews WHERE preview_id = ?"),
    transitionPreview: db.prepare(
      "UPDATE comms_previews SET status = @to, executed_at_ms = CASE WHEN @to = 'executed' THEN @now ELSE executed_at_ms END WHERE preview_id = @id AND status = @from",
    ),

    insertDelivery: db.prepare(
      "INSERT INTO comms_deliveries (delivery_id, preview_id, channel, provider, message_type, recipient_hash, recipient_masked, live, status, reason_code, provider_id, idempotency_key, latency_ms, attempts, created_at_ms, updated_at_ms) " +
        "VALUES (@delivery_id, @preview_id, @channel, @provider, @message_type, @recipient_hash, @recipient_masked, @live, @status, @reason_code, @provider_id, @idempotency_key, @latency_ms, @attempts, @now, @now)",
    ),
    updateDelivery: db.prepare(
      "UPDATE comms_deliveries SET status = @status, reason_code = @reason_code, provider_id = COALESCE(@provider_id, provider_id), latency_ms = COALESCE(@latency_ms, latency_ms), " +
        "attempts = attempts + @bump, updated_at_ms = @now WHERE delivery_id = @delivery_id",
    ),
    delivery: db.prepare<[string], CommsDeliveryRow>("SELECT * FROM comms_deliveries WHERE delivery_id = ?"),
    byProviderId: db.prepare<[string, string], CommsDeliveryRow>("SELECT * FROM comms_deliveries WHERE provider = ? AND provider_id = ?"),
    forPreview: db.prepare<[string], number>("SELECT COUNT(*) FROM comms_deliveries WHERE preview_id = ?").pluck(),
    counts: db.prepare<{ since: number }, DeliveryCounts>(
      "SELECT (SELECT COUNT(*) FROM comms_deliveries WHERE created_at_ms >= @since) AS total, " +
        "(SELECT COUNT(*) FROM comms_deliveries WHERE status IN ('failed', 'bounced') AND created_at_ms >= @since) AS failed, " +
        "(SELECT COUNT(*) FROM comms_deliveries WHERE status = 'policy_blocked' AND created_at_ms >= @since) AS policy_blocked, " +
        "(SELECT COUNT(*) FROM comms_deliveries WHERE status = 'timeout' AND created_at_ms >= @since) AS timeout",
    ),
    retryable: db.prepare<[number, number], CommsDeliveryRow>(
      `SELECT * FROM comms_deliveries WHERE ${DEAD} AND attempts < ? ORDER BY id LIMIT ?`,
    ),
    deadLetters: db.prepare<[number], CommsDeadLetterRow>(
      `SELECT delivery_id, preview_id, channel, provider, recipient_masked, status, reason_code, attempts, updated_at_ms FROM comms_deliveries WHERE ${DEAD} ORDER BY id DESC LIMIT ?`,
    ),

    alert: db.prepare<[string], AlertRow>("SELECT * FROM comms_alerts WHERE alert_key = ?"),
    recentAlerts: db.prepare<[number], AlertRow>(
      "SELECT alert_key, last_dispatched_at_ms, artifact_path, outbox_id FROM comms_alerts ORDER BY last_dispatched_at_ms DESC LIMIT ?",
    ),
    putAlert: db.prepare(
      "INSERT INTO comms_alerts (alert_key, last_dispatched_at_ms, artifact_path, outbox_id) VALUES (@key, @at, @path, @outbox) " +
        "ON CONFLICT(alert_key) DO UPDATE SET last_dispatched_at_ms = excluded.last_dispatched_at_ms, artifact_path = excluded.artifact_path, outbox_id = excluded.outbox_id",
    ),
    webhookSeen: db.prepare(
      "INSERT INTO comms_webhook_events (provider, event_id, received_at_ms) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    ),

    outboxDeadLetters: db.prepare<[number], OutboxDeadLetterRow>(
      "SELECT outbox_id, transport, conversation_id, purpose, reason, attempts, updated_at_ms FROM outbox WHERE status = 'dead_letter' AND (status = 'dead_letter' OR status = 'unknown' OR status = 'failed') ORDER BY id DESC LIMIT ?",
    ),
  };

  /** The delivery-log filters combine freely: one statement per combination, prepared on first use. */
  const listBy = new Map<string, { all(...params: (string | number)[]): CommsDeliveryRow[] }>();
  /** The replay count's `NOT IN` list has one placeholder per reason: one statement per list length. */
  const pendingBy = new Map<number, { get(...params: (string | number)[]): number | undefined }>();

  return {
    // ------------------------------------------------------------------------------ consent and recipients
    /** Every registry row for this recipient on this channel (the policy picks the one that applies). */
    consentFacts: (recipient: string, channel: CommsChannel): ConsentFact[] => q.consentFacts.all(recipient, channel),
    /** Record (or replace) consent for one recipient, channel and message type. */
    setConsent: (r: ConsentChange, now: number): void => void q.setConsent.run({ ...r, now }),
    /** Registry size by channel and status, ordered by channel then status. */
    consentCounts: (): ConsentCountRow[] => q.consentCounts.all(),
    /** The recipient's IANA time zone, or null when none is recorded. */
    recipientTimezone: (recipient: string): string | null => q.timezone.get(recipient) ?? null,
    setRecipientTimezone: (recipient: string, timezone: string, now: number): void => void q.setTimezone.run(recipient, timezone, now),

    // ------------------------------------------------------------------------------------------ previews
    insertPreview: (p: Omit<PreviewRow, "executed_at_ms">): void => void q.insertPreview.run(p),
    preview: (previewId: string): PreviewRow | undefined => q.preview.get(previewId),
    /** Compare-and-set: true only for the one caller that moved it (`executed` also stamps `executed_at_ms`). */
    transitionPreview: (previewId: string, from: PreviewStatus, to: PreviewStatus, now: number): boolean =>
      q.transitionPreview.run({ id: previewId, from, to, now }).changes === 1,

    // ------------------------------------------------------------------------------------------ deliveries
    /** A new delivery row; `now` is both its creation and update time. */
    insertDelivery: (d: Omit<CommsDeliveryRow, "id" | "created_at_ms" | "updated_at_ms">, now: number): void =>
      void q.insertDelivery.run({ ...d, now }),
    /** Move a delivery to its new status; a null provider id or latency keeps the recorded one. */
    updateDelivery: (deliveryId: string, patch: DeliveryPatch, now: number): void =>
      void q.updateDelivery.run({
        delivery_id: deliveryId,
        status: patch.status,
        reason_code: patch.reason_code,
        provider_id: patch.provider_id ?? null,
        latency_ms: patch.latency_ms ?? null,
        bump: patch.attempt ? 1 : 0,
        now,
      }),
    delivery: (deliveryId: string): CommsDeliveryRow | undefined => q.delivery.get(deliveryId),
    /** The delivery a provider webhook or status callback is about. */
    deliveryByProviderId: (provider: string, providerId: string): CommsDeliveryRow | undefined => q.byProviderId.get(provider, providerId),
    /** How many delivery rows a preview has produced (refusals included). */
    deliveriesForPreview: (previewId: string): number => q.forPreview.get(previewId) ?? 0,
    /** Newest first, filtered; `limit` rows at most. */
    listDeliveries: (f: DeliveryFilter): CommsDeliveryRow[] => {
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (f.status) (where.push("status = ?"), params.push(f.status));
      if (f.channel) (where.push("channel = ?"), params.push(f.channel));
      if (f.sinceMs !== undefined) (where.push("created_at_ms >= ?"), params.push(f.sinceMs));
      const key = where.join(" AND ");
      let stmt = listBy.get(key);
      if (!stmt) {
        stmt = db.prepare<(string | number)[], CommsDeliveryRow>(
          `SELECT * FROM comms_deliveries ${key ? `WHERE ${key}` : ""} ORDER BY id DESC LIMIT ?`,
        );
        listBy.set(key, stmt);
      }
      return stmt.all(...params, f.limit);
    },
    /** One statement of four counts, each a range search on a covering index (`comms_deliveries_created`, `…_status_created`). */
    deliveryCounts: (sinceMs: number): DeliveryCounts => q.counts.get({ since: sinceMs })!,
    /** Failed or timed-out live sends with attempts left, oldest first. */
    retryableDeliveries: (maxAttempts: number, limit: number): CommsDeliveryRow[] => q.retryable.all(maxAttempts, limit),
    /** How many failed or timed-out live sends have attempts left and failed for none of `permanentReasons`. */
    pendingReplays: (maxAttempts: number, permanentReasons: readonly string[]): number => {
      let stmt = pendingBy.get(permanentReasons.length);
      if (!stmt) {
        const notIn = permanentReasons.length ? ` AND reason_code NOT IN (${permanentReasons.map(() => "?").join(", ")})` : "";
        stmt = db
          .prepare<(string | number)[], number>(`SELECT COUNT(*) FROM comms_deliveries WHERE ${DEAD} AND attempts < ?${notIn}`)
          .pluck();
        pendingBy.set(permanentReasons.length, stmt);
      }
      return stmt.get(maxAttempts, ...permanentReasons) ?? 0;
    },
    /** Failed or timed-out live sends, newest first, whatever their attempts. */
    deadLetters: (limit: number): CommsDeadLetterRow[] => q.deadLetters.all(limit),

    // -------------------------------------------------------------------------------- alerts and webhooks
    /** The last dispatch of this alert key, if any. */
    alert: (key: string): AlertRow | undefined => q.alert.get(key),
    /** The alerts dispatched most recently. */
    recentAlerts: (limit: number): AlertRow[] => q.recentAlerts.all(limit),
    /** Record a dispatch (starts the key's cooldown at `at`). */
    putAlert: (a: { key: string; at: number; path: string; outbox: string | null }): void => void q.putAlert.run(a),
    /** Record a provider webhook id; false when it was already applied. */
    markWebhook: (provider: string, eventId: string, now: number): boolean => q.webhookSeen.run(provider, eventId, now).changes === 1,

    // ------------------------------------------------------------------------ for the incident bundle
    /** Outbox rows that gave up (`dead_letter` only), newest first: the bundle's view, next to `deadLetters`. */
    outboxDeadLetters: (limit: number): OutboxDeadLetterRow[] => q.outboxDeadLetters.all(limit),
  };
}

export type CommsStore = ReturnType<typeof createCommsStore>;
