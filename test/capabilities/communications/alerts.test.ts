/**
 * @module Delivery log, anomaly status over 100,000 rows, alert dispatch with cooldown, the incident bundle and
 * dead-letter replay.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { healthFor } from "../../../src/app/index.ts";
import type { DeliveryStatus } from "../../../src/store/index.ts";
import { startResendServer } from "../../helpers/resend-server.ts";
import { startTwilioServer } from "../../helpers/twilio-server.ts";
import { auditRows, deliveryRows, goLive, makeCommsHome, NOW, PAYMENT_VARS, pick, SHIPPED_VARS, type CommsHome } from "./comms-home.ts";

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
});
function home(...args: Parameters<typeof makeCommsHome>): CommsHome {
  const h = makeCommsHome(...args);
  open.push(h);
  return h;
}
const data = (r: { data?: unknown }) => r.data as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Insert `n` deliveries with `status`, spread over `[from, to)`; ids continue after the existing rows. */
function seedDeliveries(
  h: CommsHome,
  rows: { status: DeliveryStatus; n: number; from: number; to: number; channel?: "email" | "sms"; reason?: string }[],
): void {
  const store = h.app.store.comms;
  let i = store.deliveryCounts(0).total + 1;
  h.app.store.atomically(() => {
    for (const r of rows) {
      for (let k = 0; k < r.n; k++, i++) {
        const at = r.from + Math.floor(((r.to - r.from) * k) / r.n);
        const channel = r.channel ?? (i % 2 ? "sms" : "email");
        store.insertDelivery(
          {
            delivery_id: `dl_seed_${i}`,
            preview_id: null,
            channel,
            provider: channel === "sms" ? "twilio" : "resend",
            message_type: "transactional",
            recipient_hash: "h",
            recipient_masked: "+1***0000",
            live: 1,
            status: r.status,
            reason_code: r.reason ?? `seed_${r.status}`,
            provider_id: null,
            idempotency_key: "k",
            latency_ms: 10,
            attempts: 1,
          },
          at,
        );
      }
    }
  });
}
const outboxCount = (h: CommsHome) => h.sql().prepare("SELECT COUNT(*) FROM outbox").pluck().get();

const HOUR = 3_600_000;

describe("delivery anomaly status", () => {
  it("judges rates over the window on 100,000 rows, counting with covering-index range searches", async () => {
    const h = home();
    seedDeliveries(h, [
      { status: "sent", n: 69_000, from: NOW - HOUR + 1, to: NOW },
      { status: "failed", n: 15_000, from: NOW - HOUR + 1, to: NOW },
      { status: "bounced", n: 6_000, from: NOW - HOUR + 1, to: NOW },
      { status: "policy_blocked", n: 6_000, from: NOW - HOUR + 1, to: NOW },
      { status: "timeout", n: 4_000, from: NOW - HOUR + 1, to: NOW },
      // Outside the 60-minute window: must not count.
      { status: "failed", n: 10_000, from: NOW - 5 * HOUR, to: NOW - HOUR - 1 },
    ]);
    const r = await h.run("communications.delivery.anomaly.status");
    expect(r.reason_code).toBe("anomaly_detected");
    expect(data(r).counts).toEqual({ total: 100_000, failed: 21_000, policy_blocked: 6_000, timeout: 4_000 });
    expect(data(r).metrics).toEqual([
      { key: "failure_rate", count: 21_000, rate: 0.21, threshold: 0.2, breached: true },
      { key: "policy_block_rate", count: 6_000, rate: 0.06, threshold: 0.5, breached: false },
      { key: "timeout_rate", count: 4_000, rate: 0.04, threshold: 0.05, breached: false },
    ]);
    expect(data(r).anomalies).toEqual(["failure_rate"]);
    // Every count is an index range search; no row of the table is visited.
    const plan = (
      h
        .sql()
        .prepare(
          "EXPLAIN QUERY PLAN SELECT (SELECT COUNT(*) FROM comms_deliveries WHERE created_at_ms >= @since), (SELECT COUNT(*) FROM comms_deliveries WHERE status IN ('failed', 'bounced') AND created_at_ms >= @since)",
        )
        .all({ since: 0 }) as { detail: string }[]
    ).map((p) => p.detail);
    expect(plan.filter((d) => d.startsWith("SEARCH"))).toEqual([
      "SEARCH comms_deliveries USING COVERING INDEX comms_deliveries_created (created_at_ms>?)",
      "SEARCH comms_deliveries USING COVERING INDEX comms_deliveries_status_created (status=? AND created_at_ms>?)",
    ]);
  });

  it("does not judge below the minimum sample", async () => {
    const h = home();
    seedDeliveries(h, [{ status: "failed", n: 19, from: NOW - 1000, to: NOW }]);
    const r = await h.run("communications.delivery.anomaly.status");
    expect(r.reason_code).toBe("anomaly_insufficient_sample");
    expect(data(r).anomalies).toEqual([]);
    // Alerting reads delivery.yaml alone: a broken send contract does not silence it.
    h.editContracts((c) => (c.templates.templates.payment_needed.channel = "fax"));
    expect((await h.run("communications.delivery.anomaly.status")).reason_code).toBe("anomaly_insufficient_sample");
    expect((await h.run("communications.send.preview", { template: "payment_needed", to: "+15551234567" })).reason_code).toBe(
      "comms_contract_invalid",
    );
  });
});

describe("delivery anomaly dispatch", () => {
  it("writes an alert artifact, queues the ops-chat message, then refuses within the cooldown", async () => {
    const h = home();
    seedDeliveries(h, [
      { status: "sent", n: 60, from: NOW - HOUR + 1, to: NOW },
      { status: "timeout", n: 40, from: NOW - HOUR + 1, to: NOW },
    ]);
    const dry = await h.run("communications.delivery.anomaly.dispatch", { dry_run: true });
    expect(dry.reason_code).toBe("alert_dry_run");
    expect(dry.text).toContain("would write alerts/ALERT-delivery-timeout-rate-20260223T150000Z.json and post to telegram:-1001234");
    expect(fs.existsSync(path.join(h.home.stateDir, "alerts"))).toBe(false);
    expect(outboxCount(h)).toBe(0);

    const first = await h.run("communications.delivery.anomaly.dispatch");
    expect(first.reason_code).toBe("alert_dispatched");
    const artifact = path.join(h.home.stateDir, "alerts", "ALERT-delivery-timeout-rate-20260223T150000Z.json");
    const doc = JSON.parse(fs.readFileSync(artifact, "utf8"));
    expect(doc).toMatchObject({
      alert_key: "delivery-timeout-rate",
      dispatched_at: "2026-02-23T15:00:00.000Z",
      counts: { total: 100, failed: 0, policy_blocked: 0, timeout: 40 },
    });
    expect(fs.statSync(artifact).mode & 0o777).toBe(0o600);
    const outbox = h
      .sql()
      .prepare("SELECT o.transport, o.conversation_id, o.purpose, c.body FROM outbox o JOIN outbox_chunks c USING (outbox_id)")
      .all();
    expect(outbox).toEqual([
      {
        transport: "telegram",
        conversation_id: "-1001234",
        purpose: "alert",
        body: "[tau] communications timeout rate 40.0% > 5.0% over 60 min (40/100 deliveries). Check: /tau delivery log --status timeout",
      },
    ]);

    h.now += 10 * 60_000;
    const second = await h.run("communications.delivery.anomaly.dispatch");
    expect(second.status).toBe("failed");
    expect(second.reason_code).toBe("alert_cooldown_active");
    expect(outboxCount(h)).toBe(1);

    h.now += 21 * 60_000; // past the 30-minute cooldown; the seeded rows are still inside the hour
    expect((await h.run("communications.delivery.anomaly.dispatch")).reason_code).toBe("alert_dispatched");
    expect(outboxCount(h)).toBe(2);
  });

  it("has nothing to dispatch without an anomaly", async () => {
    const h = home();
    const r = await h.run("communications.delivery.anomaly.dispatch");
    expect(r.reason_code).toBe("anomaly_insufficient_sample");
    expect(r.text).toContain("Nothing to dispatch.");
  });
});

describe("delivery log", () => {
  it("filters by status, channel and since, newest first, recipients masked", async () => {
    const h = home();
    seedDeliveries(h, [
      { status: "sent", n: 3, from: NOW - 3 * HOUR, to: NOW - 2 * HOUR, channel: "sms" },
      { status: "failed", n: 2, from: NOW - 30 * 60_000, to: NOW, channel: "email" },
      { status: "failed", n: 1, from: NOW - 10 * 60_000, to: NOW, channel: "sms" },
    ]);
    const failed = await h.run("communications.delivery.log", { status: "failed" });
    expect(data(failed).deliveries.map((d: { delivery_id: string }) => d.delivery_id)).toEqual(["dl_seed_6", "dl_seed_5", "dl_seed_4"]);
    const smsRecent = await h.run("communications.delivery.log", { channel: "sms", since: "1h" });
    expect(data(smsRecent).deliveries.map((d: { delivery_id: string }) => d.delivery_id)).toEqual(["dl_seed_6"]);
    expect(data(await h.run("communications.delivery.log", { limit: "2" })).deliveries).toHaveLength(2);
    expect((await h.run("communications.delivery.log", { since: "yesterday-ish" })).reason_code).toBe("command_args_invalid");
  });
});

describe("incident bundle", () => {
  it("summarises without --write; with --write stores one file whose sha256 is printed", async () => {
    const h = home();
    seedDeliveries(h, [{ status: "failed", n: 3, from: NOW - 1000, to: NOW }]);
    const dry = await h.run("communications.alerts.incident.bundle.create");
    expect(dry.reason_code).toBe("incident_bundle_summary");
    expect(fs.existsSync(path.join(h.home.stateDir, "incidents"))).toBe(false);

    const r = await h.run("communications.alerts.incident.bundle.create", { write: "true" });
    expect(r.reason_code).toBe("incident_bundle_written");
    const file = path.join(h.home.stateDir, "incidents", "BUNDLE-20260223T150000Z.json");
    expect(data(r).path).toBe(file);
    const bytes = fs.readFileSync(file);
    const digest = createHash("sha256").update(bytes).digest("hex");
    expect(data(r).sha256).toBe(digest);
    expect(r.text).toContain(`sha256 ${digest}`);
    const bundle = JSON.parse(bytes.toString("utf8"));
    expect(Object.keys(bundle)).toEqual([
      "bundle_version",
      "created_at",
      "created_by",
      "health",
      "runtime_events",
      "anomalies",
      "contracts_error",
      "dead_letters",
      "alerts",
      "config_hashes",
      "contract_files",
      "health_history",
      "incidents_open",
      "kill_switches",
      "ops_alerts",
    ]);
    const fileHash = (p: string) =>
      createHash("sha256")
        .update(fs.readFileSync(path.join(h.home.dir, "policies", p)))
        .digest("hex");
    expect(bundle.config_hashes).toEqual({
      "channel-policy.yaml": fileHash("channel-policy.yaml"),
      "communications/delivery.yaml": fileHash("communications/delivery.yaml"),
      "communications/policy.yaml": fileHash("communications/policy.yaml"),
      "communications/providers.yaml": fileHash("communications/providers.yaml"),
      "communications/stack.yaml": fileHash("communications/stack.yaml"),
      "communications/templates.yaml": fileHash("communications/templates.yaml"),
    });
    expect(bundle.dead_letters.communications).toHaveLength(3);
    expect(bundle.anomalies.reason_code).toBe("anomaly_insufficient_sample");
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it("still writes a bundle when the contracts are broken", async () => {
    const h = home();
    h.editContracts((c) => (c.delivery.anomaly.min_sample = -1));
    const r = await h.run("communications.alerts.incident.bundle.create", { write: true });
    expect(r.reason_code).toBe("incident_bundle_written");
    expect(data(r).bundle.contracts_error).toMatch(/delivery\.yaml:\d+:\d+: anomaly\.min_sample/);
  });
});

describe("dead-letter replay", () => {
  it("retries a rate-limited live email once the provider recovers, with the same idempotency key and an audit record", async () => {
    const server = await startResendServer();
    open.push(server);
    server.rateLimitNext();
    const h = home({ env: { RESEND_API_KEY: server.apiKey }, edit: (c) => goLive(c, { resend: server.url }) });
    const p = await h.run("communications.send.preview", {
      template: "order_shipped",
      to: "ana@example.com",
      vars: JSON.stringify(SHIPPED_VARS),
    });
    const id = data(p).preview_id as string;
    expect((await h.run("communications.send.execute", { preview_id: id })).reason_code).toBe("provider_rate_limited");
    // A live send waiting for a replay degrades health until it is replayed.
    expect(healthFor(h.app)).toMatchObject({ state: "degraded", reason_codes: expect.arrayContaining(["comms_dead_letters_present"]) });

    const dry = await h.run("communications.alerts.deadletter.replay", { dry_run: true });
    expect(data(dry).candidates).toHaveLength(1);
    expect(server.emails).toHaveLength(0);

    const r = await h.run("communications.alerts.deadletter.replay", { limit: 5 });
    expect(r.reason_code).toBe("deadletter_replayed");
    expect(data(r).results).toMatchObject([{ from: "failed", to: "sent", reason_code: "delivery_sent", live: true }]);
    expect(server.emails).toHaveLength(1);
    expect(server.emails[0]!.idempotencyKey).toBe(`tau-preview-${id}`);
    expect(pick(deliveryRows(h), "status", "attempts")).toEqual([{ status: "sent", attempts: 2 }]);
    expect(pick(auditRows(h, "comms.deadletter.replay"), "outcome", "reason_code")).toEqual([
      { outcome: "sent", reason_code: "delivery_sent" },
    ]);
    expect((await h.run("communications.alerts.deadletter.replay")).reason_code).toBe("deadletter_empty");
    expect(healthFor(h.app).reason_codes).not.toContain("comms_dead_letters_present");
  });

  it("re-simulates when the provider is no longer live, and skips permanent failures", async () => {
    const server = await startTwilioServer();
    open.push(server);
    server.serverErrorNext({ status: 503 });
    const env = { TWILIO_ACCOUNT_SID: server.accountSid, TWILIO_AUTH_TOKEN: server.authToken };
    const h = home({ env, edit: (c) => goLive(c, { twilio: server.url }) });
    const p = await h.run("communications.send.preview", {
      template: "payment_needed",
      to: "+15551234567",
      vars: JSON.stringify(PAYMENT_VARS),
    });
    expect((await h.run("communications.send.execute", { preview_id: data(p).preview_id })).reason_code).toBe("provider_unavailable");
    server.failNext({
      status: 400,
      body: { code: 21211, message: "Invalid 'To' Phone Number", more_info: "https://www.twilio.com/docs/errors/21211", status: 400 },
    });
    const p2 = await h.run("communications.send.preview", {
      template: "payment_needed",
      to: "+15557654321",
      vars: JSON.stringify(PAYMENT_VARS),
    });
    expect((await h.run("communications.send.execute", { preview_id: data(p2).preview_id })).reason_code).toBe(
      "provider_validation_failed",
    );

    h.editContracts((c) => (c.providers.providers.twilio.mode = "simulation"));
    const r = await h.run("communications.alerts.deadletter.replay");
    expect(data(r).results).toMatchObject([{ from: "failed", to: "simulated", reason_code: "delivery_resimulated", live: false }]);
    expect(server.messages).toHaveLength(0);
  });
});
