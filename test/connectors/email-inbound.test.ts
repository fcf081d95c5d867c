/**
 * @module The email connector against real servers: nodemailer → SMTP sink → LMTP → Dovecot → IMAP IDLE →
 * envelope in the real ingress file; restart catch-up, UIDVALIDITY changes, Dovecot restarts mid-IDLE, bad logins.
 */
import fs from "node:fs";
import path from "node:path";
import { ImapFlow } from "imapflow";
import { afterEach, describe, expect, it } from "vitest";
import type { Connector, ConnectorDeps } from "../../connectors/shared/connector.ts";
import { createEmailConnectorFor, type EmailConnectorFactoryOptions } from "../../src/app/email-connector.ts";
import { sendMail } from "../../src/capabilities/mail/smtp-client.ts";
import { startConnectors } from "../../src/app/connectors-runtime.ts";
import { createIngressWriter, type IngressWriter } from "../../src/ingress/index.ts";
import { startDovecot, type DovecotHandle } from "../helpers/dovecot.ts";
import { startSmtpSink, type SmtpSinkHandle } from "../helpers/smtp-sink.ts";
import {
  memoryLogger,
  openMailHome,
  PASSWORD,
  rawMail,
  readEmailIngress,
  runChat,
  stackYaml,
  waitFor,
  type MailHome,
  type StackMailboxOption,
} from "../capabilities/mail/support.ts";

const OPS = "ops@example.test";
const ALERTS = "alerts@example.test";

interface Rig {
  dc: DovecotHandle;
  sink: SmtpSinkHandle;
  mh: MailHome;
  writer: IngressWriter;
  logger: ReturnType<typeof memoryLogger>;
  deps: ConnectorDeps;
  connectors: Connector[];
  /** Build (not start) a connector over this rig's state. */
  build(opts?: EmailConnectorFactoryOptions, secret?: (id: string) => string | null): Connector;
  /** Submit a message from alerts@ to ops@ through the SMTP sink (real nodemailer, AUTH). */
  send(subject: string, text?: string): Promise<{ message_id: string }>;
  envelopes(): ReturnType<typeof readEmailIngress>;
  cursor(mailbox?: string): { uidvalidity: string; lastUid: number } | null;
}

let rigs: Rig[] = [];

async function rig(mailboxes: StackMailboxOption[] = [{ id: "ops", role: "ops" }]): Promise<Rig> {
  const dc = await startDovecot();
  const sink = await startSmtpSink({ dovecot: dc });
  const mh = openMailHome(
    stackYaml({ mode: "live-pilot", imapPort: dc.imapPort, smtpPort: sink.port, mailboxes }),
    { TAU_IMAP_PASSWORD: PASSWORD },
    "connectors:\n  email:\n    mode: imap\n",
  );
  const writer = createIngressWriter({ ingressDir: path.join(mh.home.stateDir, "ingress"), maxLineBytes: 1_048_576 });
  const logger = memoryLogger();
  const deps: ConnectorDeps = {
    ingress: writer,
    cursors: { get: (k) => mh.app.store.kv.get(k), put: (k, v) => mh.app.store.kv.put(k, v) },
    identity: mh.app.config.identity,
    logger,
    clock: Date.now,
    secret: (id) => mh.services.secret(id),
  };
  const r: Rig = {
    dc,
    sink,
    mh,
    writer,
    logger,
    deps,
    connectors: [],
    build(opts = {}, secret) {
      const built = createEmailConnectorFor(mh.app, secret ? { ...deps, secret } : deps, {
        ...opts,
        overrides: { pollIntervalMs: 60_000, random: () => 1, ...opts.overrides },
      });
      if (!built.connector) throw new Error(`connector not built: ${built.reason} ${built.detail}`);
      r.connectors.push(built.connector);
      return built.connector;
    },
    send: (subject, text = `body of ${subject}`) =>
      sendMail(
        { host: "127.0.0.1", port: sink.port, tls: "none", user: ALERTS, password: PASSWORD, timeoutMs: 5000 },
        { to: OPS, subject, text },
      ),
    envelopes: () => readEmailIngress(mh.home.stateDir),
    cursor(mailbox = "INBOX") {
      const v = mh.app.store.kv.get(`email:cursor:${mailbox}`);
      return v ? (JSON.parse(v) as { uidvalidity: string; lastUid: number }) : null;
    },
  };
  rigs.push(r);
  return r;
}

afterEach(async () => {
  for (const r of rigs) {
    for (const c of r.connectors) await c.stop();
    await r.writer.close();
    await r.sink.close();
    await r.dc.stop();
    r.mh.close();
  }
  rigs = [];
});

/** Resolves once the connector has caught up and is watching `mailbox` (its log says so). */
function watching(r: Rig, mailbox = "INBOX", after = 0): Promise<unknown> {
  return waitFor(
    () => r.logger.records.filter((x) => x.event === "email.watching" && x.mailbox === mailbox).length > after,
    10_000,
    `watching ${mailbox}`,
  );
}

function envelopeWith(r: Rig, subject: string) {
  return waitFor(() => r.envelopes().find((e) => e.meta.subject === subject), 15_000, `envelope "${subject}"`).catch((err: Error) => {
    throw new Error(`${err.message}; connector log:\n${r.logger.records.map((x) => JSON.stringify(x)).join("\n")}`);
  });
}

function imap(dc: DovecotHandle, user = OPS): ImapFlow {
  const c = new ImapFlow({
    host: dc.host,
    port: dc.imapPort,
    secure: false,
    doSTARTTLS: false,
    auth: { user, pass: PASSWORD },
    logger: false,
  });
  c.on("error", () => undefined);
  return c;
}

describe("email connector (IMAP IDLE, real Dovecot)", () => {
  it("ingests mail submitted over SMTP via IDLE, and does not replay the mailbox's history", async () => {
    const r = await rig();
    await r.send("already here before the connector");
    await waitFor(() => r.sink.messages.length === 1, 5000, "the first delivery");
    const c = r.build();
    await c.start();
    await watching(r);
    const receipt = await r.send("disk 91% on db-1", "Volume /data is at 91%.\nCheck it.");
    // The poll timer is 60 s, so only IDLE can deliver inside this bound.
    const env = await envelopeWith(r, "disk 91% on db-1");
    // The line is visible before its fsync returns; the cursor moves only after that.
    const cursor = await waitFor(() => (r.cursor()?.lastUid === 2 ? r.cursor() : null), 5000, "the committed cursor");
    expect(env).toEqual({
      v: 1,
      event_id: `email:INBOX:${cursor.uidvalidity}:2`,
      transport: "email",
      provider: "imap",
      account_id: "ops",
      kind: "message",
      conversation_id: ALERTS,
      thread_id: null,
      chat_type: "dm",
      actor: { id: ALERTS, display: null, is_bot: false },
      mentions_bot: true,
      text: "disk 91% on db-1\n\nVolume /data is at 91%.\nCheck it.",
      attachments: [],
      reply_to: null,
      forwarded: false,
      occurred_at_ms: expect.any(Number),
      received_at_ms: expect.any(Number),
      meta: { message_id: receipt.message_id, mailbox: "INBOX", uid: 2, uidvalidity: cursor.uidvalidity, subject: "disk 91% on db-1" },
    });
    expect(r.envelopes().map((e) => e.meta.subject)).toEqual(["disk 91% on db-1"]);
    expect(c.status()).toMatchObject({ transport: "email", mode: "idle", liveness: "live", events_ingested: 1, auth_failures: 0 });
  });

  it("catches up after a restart without duplicates (cursor committed only after the durable append)", async () => {
    const r = await rig();
    const a = r.build();
    await a.start();
    await watching(r);
    await r.send("m1");
    await envelopeWith(r, "m1");
    await a.stop();
    expect(a.status().liveness).toBe("stopped");
    await r.send("m2 while down");
    await r.send("m3 while down");
    const b = r.build();
    await b.start();
    await envelopeWith(r, "m3 while down");
    await r.send("m4 live again");
    await envelopeWith(r, "m4 live again");
    const ids = r.envelopes().map((e) => e.event_id);
    expect(r.envelopes().map((e) => e.meta.subject)).toEqual(["m1", "m2 while down", "m3 while down", "m4 live again"]);
    expect(new Set(ids).size).toBe(ids.length);
    await waitFor(() => r.cursor()?.lastUid === 4, 5000, "cursor at UID 4");
  });

  it("resets the cursor on a UIDVALIDITY change (mailbox deleted and recreated) and re-ingests under new ids", async () => {
    const r = await rig([{ id: "ops", role: "ops", folder: "Alerts" }]);
    const admin = imap(r.dc);
    await admin.connect();
    try {
      await admin.mailboxCreate("Alerts");
      const msg = (i: number, gen: string) =>
        rawMail({
          from: `Monitor <monitor@example.test>`,
          to: OPS,
          subject: `${gen} alert ${i}`,
          body: `alert ${i}`,
          id: `${gen}-${i}@example.test`,
          date: "Mon, 06 Jan 2025 10:00:00 +0000",
        });
      await admin.append("Alerts", msg(1, "old"));
      await admin.append("Alerts", msg(2, "old"));
      const c = r.build({ overrides: { startAt: "oldest" } });
      await c.start();
      await envelopeWith(r, "old alert 2");
      const before = await waitFor(() => (r.cursor("Alerts")?.lastUid === 2 ? r.cursor("Alerts") : null), 5000, "cursor at UID 2");
      await c.stop();

      await admin.mailboxDelete("Alerts");
      await admin.mailboxCreate("Alerts");
      await admin.append("Alerts", msg(1, "new"));
      await admin.append("Alerts", msg(2, "new"));
      const d = r.build({ overrides: { startAt: "oldest" } });
      await d.start();
      await envelopeWith(r, "new alert 2");
      const after = await waitFor(
        () => (r.cursor("Alerts")?.uidvalidity !== before.uidvalidity && r.cursor("Alerts")?.lastUid === 2 ? r.cursor("Alerts") : null),
        5000,
        "cursor at UID 2 of the new mailbox",
      );

      expect(after.uidvalidity).not.toBe(before.uidvalidity);
      expect(r.envelopes().map((e) => e.event_id)).toEqual([
        `email:Alerts:${before.uidvalidity}:1`,
        `email:Alerts:${before.uidvalidity}:2`,
        `email:Alerts:${after.uidvalidity}:1`,
        `email:Alerts:${after.uidvalidity}:2`,
      ]);
      const reset = r.logger.records.find((x) => x.event === "email.uidvalidity_reset");
      expect(reset).toMatchObject({
        level: "warn",
        reason_code: "email_uidvalidity_reset",
        mailbox: "Alerts",
        old_uidvalidity: before.uidvalidity,
        new_uidvalidity: after.uidvalidity,
        last_uid: 2,
      });
      expect(d.status().last_error_code).toBe("email_uidvalidity_reset");
    } finally {
      await admin.logout();
    }
  });

  it("handles a server that comes back with a fresh mail store (new INBOX UIDVALIDITY) under a running connector", async () => {
    const r = await rig();
    const c = r.build();
    await c.start();
    await watching(r);
    await r.send("before the migration");
    const first = await envelopeWith(r, "before the migration");
    // Dovecot derives a new mailbox's UIDVALIDITY from the clock (and remembers the last one in the store we are
    // about to delete): recreate the store in a later second, as any real migration would.
    const second0 = Math.floor(Date.now() / 1000);
    await waitFor(() => Math.floor(Date.now() / 1000) > second0, 1500, "the next second");
    fs.rmSync(path.dirname(r.dc.maildirOf(OPS)), { recursive: true, force: true });
    await r.dc.restart({ hard: true });
    await watching(r, "INBOX", 1);
    await r.send("after the migration");
    const second = await envelopeWith(r, "after the migration");
    expect(first.meta.uid).toBe(1);
    expect(second.meta.uid).toBe(1);
    expect(second.event_id).not.toBe(first.event_id);
    expect(r.logger.records.some((x) => x.event === "email.uidvalidity_reset" && x.reason_code === "email_uidvalidity_reset")).toBe(true);
  });

  it("restarts a cursor that is ahead of the server's UIDs (same UIDVALIDITY) instead of hiding new mail", async () => {
    const r = await rig();
    const probe = r.build();
    await probe.start();
    await watching(r);
    await probe.stop();
    const uv = r.cursor()!.uidvalidity;
    r.mh.app.store.kv.put("email:cursor:INBOX", JSON.stringify({ uidvalidity: uv, lastUid: 99 }));
    const c = r.build();
    await c.start();
    await watching(r, "INBOX", 1);
    await r.send("below the stale cursor");
    const env = await envelopeWith(r, "below the stale cursor");
    expect(env.event_id).toBe(`email:INBOX:${uv}:1`);
    expect(r.logger.records.find((x) => x.event === "email.uid_regression")).toMatchObject({
      level: "warn",
      reason_code: "email_uid_regression",
      last_uid: 99,
      uid_next: 1,
    });
  });

  it("reconnects with backoff when Dovecot restarts mid-IDLE, and keeps delivering", async () => {
    const r = await rig();
    const c = r.build();
    await c.start();
    await watching(r);
    await r.send("before restart");
    await envelopeWith(r, "before restart");
    for (const [n, hard] of [
      [1, false],
      [2, true],
    ] as const) {
      await r.dc.restart({ hard });
      await watching(r, "INBOX", n);
      await r.send(`after restart ${n}`);
      await envelopeWith(r, `after restart ${n}`);
    }
    expect(r.envelopes().map((e) => e.meta.subject)).toEqual(["before restart", "after restart 1", "after restart 2"]);
    const lost = r.logger.records.filter((x) => x.event === "email.session_failed").map((x) => x.reason_code);
    expect(lost[0]).toBe("imap_connection_lost");
    expect(new Set(lost)).toSatisfy((s: Set<unknown>) =>
      [...s].every((code) => code === "imap_connection_lost" || code === "imap_connection_refused"),
    );
    await waitFor(() => c.status().events_ingested === 3, 5000, "3 events counted");
    expect(c.status().liveness).toBe("live");
    expect(c.status().retry_attempts).toBeGreaterThanOrEqual(2);
  });

  it("reports imap_auth_failed on a bad login, keeps retrying with backoff, never crashes, stops cleanly", async () => {
    const r = await rig();
    const c = r.build({ overrides: { backoff: { baseMs: 50, maxMs: 200 } } }, (id) => (id === "imap-password" ? "wrong" : null));
    await c.start();
    await waitFor(() => c.status().auth_failures >= 2, 10_000, "two failed logins");
    expect(c.status()).toMatchObject({ liveness: "failing", last_error_code: "imap_auth_failed", events_ingested: 0 });
    expect(r.logger.records.find((x) => x.event === "email.session_failed")).toMatchObject({
      level: "warn",
      reason_code: "imap_auth_failed",
      mailbox: "INBOX",
    });
    expect(JSON.stringify(r.logger.records)).not.toContain("wrong");
    const t0 = performance.now();
    await c.stop();
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(c.status().liveness).toBe("stopped");
  });

  it("drains on the polling timer alone in poll mode", async () => {
    const r = await rig();
    const c = r.build({ overrides: { mode: "poll", pollIntervalMs: 300 } });
    await c.start();
    await watching(r);
    await r.send("polled");
    const env = await envelopeWith(r, "polled");
    expect(env.meta.uid).toBe(1);
    expect(c.mode).toBe("poll");
  });

  it("runs under the connectors runtime from tau.yaml + stack.yaml, and `inbox poll` shares its cursor", async () => {
    const r = await rig();
    const running = await startConnectors(r.mh.app, { lifecycleCheckMs: 60_000 });
    try {
      expect([...running.connectors.keys()]).toEqual(["email"]);
      await waitFor(() => running.readiness().find((x) => x.key === "email" && x.ok), 10_000, "email ready");
      await r.send("via the runtime");
      await envelopeWith(r, "via the runtime");
    } finally {
      await running.stop();
    }
    const caught = await runChat(r.mh.services, "communications.inbox.poll");
    expect(caught).toMatchObject({ status: "reported", data: { appended: 0 } });
    await r.send("while only polling");
    await waitFor(() => r.sink.messages.length === 2, 5000, "the second delivery");
    const polled = await runChat(r.mh.services, "communications.inbox.poll");
    expect(polled).toMatchObject({ status: "reported", data: { appended: 1 } });
    expect(r.envelopes().map((e) => e.meta.subject)).toEqual(["via the runtime", "while only polling"]);
  });

  it("explains why it was not built: disabled, no password", async () => {
    const r = await rig();
    expect(
      createEmailConnectorFor(
        { ...r.mh.app, config: { ...r.mh.app.config, connectors: { ...r.mh.app.config.connectors, email: { mode: "disabled" } } } },
        r.deps,
      ),
    ).toMatchObject({
      connector: null,
      reason: "email_disabled",
    });
    expect(createEmailConnectorFor(r.mh.app, { ...r.deps, secret: () => null })).toMatchObject({
      connector: null,
      reason: "missing_imap_password",
    });
    expect(createEmailConnectorFor(r.mh.app, r.deps)).toMatchObject({
      reason: "ready",
      detail: `${OPS} @ 127.0.0.1:${r.dc.imapPort} INBOX`,
    });
  });
});
