/**
 * Store contract, communications and secrets on every engine: consent (upsert per recipient, channel and type; the
 * database refuses values outside its CHECK lists), recipient time zones, previews executed once, the delivery log
 * (patches keep what they do not change, counts, retries, replays, filters), alert cooldowns, provider webhooks applied
 * once — and integration secrets sealed at rest (the stored value is not the secret; listings never carry it).
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { CommsDeliveryRow, PreviewRow } from "../../../src/store/index.ts";
import { contractEngines, ENGINE_HOOK_TIMEOUT_MS } from "./engines.ts";

const preview = (id: string, over: Partial<PreviewRow> = {}): Omit<PreviewRow, "executed_at_ms"> => ({
  preview_id: id,
  template_id: "maintenance",
  channel: "sms",
  message_type: "ops",
  recipient: "+15550001111",
  subject: null,
  body: "Maintenance at 22:00",
  vars_hash: "v1",
  basis_hash: "b1",
  basis: '{"template":"t1"}',
  decision: "[]",
  routing: "{}",
  reason_code: "send_allowed",
  requested_by: "cli:root",
  status: "ready",
  created_at_ms: 1000,
  expires_at_ms: 900_000,
  ...over,
});

type NewDelivery = Omit<CommsDeliveryRow, "id" | "created_at_ms" | "updated_at_ms">;
const delivery = (id: string, over: Partial<NewDelivery> = {}): NewDelivery => ({
  delivery_id: id,
  preview_id: "pv_1",
  channel: "sms",
  provider: "twilio",
  message_type: "ops",
  recipient_hash: "rh",
  recipient_masked: "+1555***1111",
  live: 1,
  status: "sending",
  reason_code: "send_started",
  provider_id: null,
  idempotency_key: `idem-${id}`,
  latency_ms: null,
  attempts: 1,
  ...over,
});

describe.each(contractEngines())("store contract: communications and secrets on $name", (engine) => {
  afterEach(() => engine.closeAll());
  afterAll(() => engine.stop(), ENGINE_HOOK_TIMEOUT_MS);

  it(
    "consent: one row per recipient, channel and type, replaced by the next change; counts by channel and status",
    async () => {
      const { store } = await engine.open();
      store.comms.setConsent({ recipient: "+15550001111", channel: "sms", message_type: "*", status: "opted_in", source: "cli" }, 1000);
      store.comms.setConsent(
        { recipient: "+15550001111", channel: "sms", message_type: "marketing", status: "opted_in", source: "import" },
        1001,
      );
      store.comms.setConsent(
        { recipient: "+15550001111", channel: "sms", message_type: "*", status: "opted_out", source: "twilio_webhook" },
        2000,
      );
      store.comms.setConsent(
        { recipient: "ann@example.com", channel: "email", message_type: "*", status: "opted_in", source: "cli" },
        1000,
      );
      expect(store.comms.consentFacts("+15550001111", "sms").sort((a, b) => a.message_type.localeCompare(b.message_type))).toEqual([
        { message_type: "*", status: "opted_out", updated_at_ms: 2000, source: "twilio_webhook" },
        { message_type: "marketing", status: "opted_in", updated_at_ms: 1001, source: "import" },
      ]);
      expect(store.comms.consentFacts("+15550001111", "email")).toEqual([]);
      expect(store.comms.consentCounts()).toEqual([
        { channel: "email", status: "opted_in", n: 1 },
        { channel: "sms", status: "opted_in", n: 1 },
        { channel: "sms", status: "opted_out", n: 1 },
      ]);
      expect(() =>
        store.comms.setConsent({ recipient: "x", channel: "fax" as "sms", message_type: "*", status: "opted_in", source: "cli" }, 1),
      ).toThrow();
      expect(() =>
        store.comms.setConsent({ recipient: "x", channel: "sms", message_type: "*", status: "maybe" as "unknown", source: "cli" }, 1),
      ).toThrow();
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "a recipient's time zone is replaced by the next one; none recorded reads as null",
    async () => {
      const { store } = await engine.open();
      expect(store.comms.recipientTimezone("+15550001111")).toBeNull();
      store.comms.setRecipientTimezone("+15550001111", "Europe/Berlin", 1000);
      store.comms.setRecipientTimezone("+15550001111", "America/New_York", 2000);
      expect(store.comms.recipientTimezone("+15550001111")).toBe("America/New_York");
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "a preview is executed once: the compare-and-set stamps the execution time only on `executed`",
    async () => {
      const { store } = await engine.open();
      store.comms.insertPreview(preview("pv_1"));
      expect(store.comms.transitionPreview("pv_1", "ready", "executing", 2000)).toBe(true);
      expect(store.comms.transitionPreview("pv_1", "ready", "executing", 2001)).toBe(false);
      expect(store.comms.preview("pv_1")).toMatchObject({ status: "executing", executed_at_ms: null });
      expect(store.comms.transitionPreview("pv_1", "executing", "executed", 2100)).toBe(true);
      expect(store.comms.preview("pv_1")).toEqual({ ...preview("pv_1"), status: "executed", executed_at_ms: 2100 });
      expect(store.comms.preview("pv_2")).toBeUndefined();
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "deliveries: a patch changes status and reason, keeps a known provider id and latency, and counts attempts when asked",
    async () => {
      const { store } = await engine.open();
      store.comms.insertDelivery(delivery("d1"), 1000);
      store.comms.updateDelivery("d1", { status: "sent", reason_code: "provider_accepted", provider_id: "SM1", latency_ms: 120 }, 1100);
      store.comms.updateDelivery("d1", { status: "delivered", reason_code: "provider_delivered" }, 1200);
      expect(store.comms.delivery("d1")).toEqual({
        ...delivery("d1"),
        id: expect.any(Number),
        status: "delivered",
        reason_code: "provider_delivered",
        provider_id: "SM1",
        latency_ms: 120,
        created_at_ms: 1000,
        updated_at_ms: 1200,
      });
      store.comms.updateDelivery("d1", { status: "failed", reason_code: "provider_5xx", attempt: true }, 1300);
      expect(store.comms.delivery("d1")).toMatchObject({ attempts: 2, status: "failed" });
      expect(store.comms.deliveryByProviderId("twilio", "SM1")?.delivery_id).toBe("d1");
      expect(store.comms.deliveryByProviderId("resend", "SM1")).toBeUndefined();
      expect(store.comms.deliveriesForPreview("pv_1")).toBe(1);
      expect(() => store.comms.updateDelivery("d1", { status: "lost" as "sent", reason_code: "x" }, 1400)).toThrow();
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "deliveries: counts since a time, retryable and replayable live failures, dead letters, filtered listings",
    async () => {
      const { store } = await engine.open();
      store.comms.insertDelivery(delivery("d1", { status: "failed", reason_code: "provider_5xx", attempts: 1 }), 1000);
      store.comms.insertDelivery(delivery("d2", { status: "timeout", reason_code: "provider_timeout", attempts: 3 }), 2000);
      store.comms.insertDelivery(delivery("d3", { status: "failed", reason_code: "invalid_number", attempts: 1 }), 3000);
      store.comms.insertDelivery(delivery("d4", { status: "failed", reason_code: "provider_5xx", live: 0 }), 4000);
      store.comms.insertDelivery(
        delivery("d5", { status: "policy_blocked", reason_code: "quiet_hours", channel: "email", provider: "resend" }),
        5000,
      );
      store.comms.insertDelivery(delivery("d6", { status: "bounced", reason_code: "bounce", channel: "email", provider: "resend" }), 6000);
      expect(store.comms.deliveryCounts(0)).toEqual({ total: 6, failed: 4, policy_blocked: 1, timeout: 1 });
      expect(store.comms.deliveryCounts(3500)).toEqual({ total: 3, failed: 2, policy_blocked: 1, timeout: 0 });
      expect(store.comms.retryableDeliveries(3, 10).map((d) => d.delivery_id)).toEqual(["d1", "d3"]);
      expect(store.comms.pendingReplays(3, [])).toBe(2);
      expect(store.comms.pendingReplays(3, ["invalid_number", "blocked"])).toBe(1);
      expect(store.comms.pendingReplays(5, ["invalid_number"])).toBe(2);
      expect(store.comms.deadLetters(10).map((d) => d.delivery_id)).toEqual(["d3", "d2", "d1"]);
      expect(store.comms.listDeliveries({ limit: 2 }).map((d) => d.delivery_id)).toEqual(["d6", "d5"]);
      expect(store.comms.listDeliveries({ status: "failed", limit: 10 }).map((d) => d.delivery_id)).toEqual(["d4", "d3", "d1"]);
      expect(store.comms.listDeliveries({ channel: "email", sinceMs: 5500, limit: 10 }).map((d) => d.delivery_id)).toEqual(["d6"]);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "alert cooldowns are kept per key; a provider webhook id is applied once",
    async () => {
      const { store } = await engine.open();
      expect(store.comms.alert("comms_failure_rate")).toBeUndefined();
      store.comms.putAlert({ key: "comms_failure_rate", at: 1000, path: "incidents/a.json", outbox: null });
      store.comms.putAlert({ key: "comms_failure_rate", at: 2000, path: "incidents/b.json", outbox: "ob_1" });
      store.comms.putAlert({ key: "comms_timeouts", at: 1500, path: "incidents/c.json", outbox: null });
      expect(store.comms.alert("comms_failure_rate")).toEqual({
        alert_key: "comms_failure_rate",
        last_dispatched_at_ms: 2000,
        artifact_path: "incidents/b.json",
        outbox_id: "ob_1",
      });
      expect(store.comms.recentAlerts(1).map((a) => a.alert_key)).toEqual(["comms_failure_rate"]);
      expect(store.comms.markWebhook("resend", "msg_1", 1000)).toBe(true);
      expect(store.comms.markWebhook("resend", "msg_1", 1001)).toBe(false);
      expect(store.comms.markWebhook("twilio", "msg_1", 1002)).toBe(true);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "secrets are sealed at rest: the stored value is neither the secret nor its encoding, reads open it, listings omit it",
    async () => {
      const opened = await engine.open();
      const { store, query } = opened;
      const secret = "xoxb-very-secret-token-1234";
      store.secrets.put("telegram-bot-token", secret, 1000);
      store.secrets.put("telegram-bot-token", secret + "-v2", 2000);
      store.secrets.put("resend-api-key", "re_abc", 1500);
      expect(store.secrets.get("telegram-bot-token")).toBe(secret + "-v2");
      expect(store.secrets.get("missing")).toBeNull();
      const rows = await query("SELECT id, value, key_id, created_at_ms, updated_at_ms FROM secrets ORDER BY id");
      expect(rows.map((r) => [r.id, r.created_at_ms, r.updated_at_ms])).toEqual([
        ["resend-api-key", 1500, 1500],
        ["telegram-bot-token", 1000, 2000],
      ]);
      for (const r of rows) {
        expect(r.key_id).toEqual(expect.any(String));
        expect(String(r.value)).not.toContain("secret");
        expect(String(r.value)).not.toContain("re_abc");
        expect(String(r.value)).not.toContain(Buffer.from(secret).toString("base64").slice(0, 12));
      }
      const listed = store.secrets.list();
      expect(listed.map((s) => s.id)).toEqual(["resend-api-key", "telegram-bot-token"]);
      expect(JSON.stringify(listed)).not.toContain("re_abc");
      // Another store with the same key file opens the same values (another process, another node with the key).
      expect(engine.reopen(opened).secrets.get("resend-api-key")).toBe("re_abc");
      // A value moved to another id does not open (the id is authenticated with it).
      await query("UPDATE secrets SET value = (SELECT value FROM secrets WHERE id = 'resend-api-key') WHERE id = 'telegram-bot-token'");
      expect(() => store.secrets.get("telegram-bot-token")).toThrow(/does not open/);
      expect(store.secrets.delete("telegram-bot-token")).toBe(true);
      expect(store.secrets.delete("telegram-bot-token")).toBe(false);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );
});
