/**
 * Email tolerance (issue 12 §4): automated mail is recognised from its headers as a real IMAP server stores them
 * (real Dovecot, imapflow + mailparser) and is never answered: an iCloud vacation reply (only `X-Apple-Action`, no
 * `Auto-Submitted`), an Exchange out-of-office, list mail, a delivery status notification — each `actor.is_bot`
 * with `meta.auto_reason` naming the header, and the pipeline records `ignored_bot`. A person's mail is answered.
 */
import { ImapFlow } from "imapflow";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConnectorDeps } from "../../../connectors/shared/connector.ts";
import { createEmailConnectorFor } from "../../../src/app/email-connector.ts";
import type { Envelope } from "../../../src/contracts/envelope.ts";
import { createIngressWriter, type IngressWriter } from "../../../src/ingress/index.ts";
import { memoryLogger, openMailHome, PASSWORD, readEmailIngress, stackYaml, type MailHome } from "../../capabilities/mail/support.ts";
import { startDovecot, type DovecotHandle } from "../../helpers/dovecot.ts";
import { makeHarness, type Harness } from "../../helpers/pipeline-harness.ts";

const OPS = "ops@example.test";
const DATE = "Mon, 06 Jan 2025 10:00:00 +0000";

/** A raw message: the given header lines, then a text body (or a full MIME body when `mime` is set). */
function mail(headers: string[], body: string, mime = "Content-Type: text/plain; charset=utf-8"): string {
  return [...headers, "MIME-Version: 1.0", mime, "", body, ""].join("\r\n");
}

const MESSAGES: Record<string, string> = {
  // iCloud vacation reply (as iCloud sends it: its own header, no Auto-Submitted, no Precedence).
  apple: mail(
    [
      "From: Ana Lima <ana.lima@icloud.com>",
      `To: ${OPS}`,
      "Subject: Re: deploy report",
      "Message-ID: <vacation-1@icloud.com>",
      "In-Reply-To: <tau-reply-1@example.test>",
      `Date: ${DATE}`,
      "X-Apple-Action: VACATION",
    ],
    "I am on vacation until 19 January.",
  ),
  // Exchange / Outlook out-of-office (rules loop header + suppression request).
  exchange: mail(
    [
      "From: Bob Stone <bob@contoso.example>",
      `To: ${OPS}`,
      "Subject: Automatic reply: deploy report",
      "Message-ID: <oof-1@contoso.example>",
      `Date: ${DATE}`,
      "X-MS-Exchange-Inbox-Rules-Loop: bob@contoso.example",
      "X-Auto-Response-Suppress: All",
    ],
    "I am out of the office.",
  ),
  // Mailing list traffic (mailparser folds every List-* into one `list` header).
  list: mail(
    [
      "From: Announcements <announce@lists.example.test>",
      `To: ${OPS}`,
      "Subject: [announce] maintenance window",
      "Message-ID: <list-1@lists.example.test>",
      `Date: ${DATE}`,
      "List-Id: Announcements <announce.lists.example.test>",
      "List-Unsubscribe: <mailto:announce-leave@lists.example.test>",
    ],
    "Maintenance on Saturday.",
  ),
  // A delivery status notification (RFC 3464): multipart/report from the mailer daemon.
  dsn: mail(
    [
      "Return-Path: <>",
      "From: Mail Delivery System <MAILER-DAEMON@mx.example.test>",
      `To: ${OPS}`,
      "Subject: Undelivered Mail Returned to Sender",
      "Message-ID: <dsn-1@mx.example.test>",
      `Date: ${DATE}`,
    ],
    [
      "--B1",
      "Content-Type: text/plain",
      "",
      "Your message could not be delivered.",
      "--B1",
      "Content-Type: message/delivery-status",
      "",
      "Reporting-MTA: dns; mx.example.test",
      "",
      "Final-Recipient: rfc822; nobody@example.test",
      "Action: failed",
      "Status: 5.1.1",
      "--B1--",
    ].join("\r\n"),
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"',
  ),
  human: mail(
    ["From: Carla Diaz <carla@example.test>", `To: ${OPS}`, "Subject: deploy?", "Message-ID: <human-1@example.test>", `Date: ${DATE}`],
    "Is the deploy done?",
  ),
};

let dc: DovecotHandle;
let mh: MailHome;
let writer: IngressWriter;
let envelopes: Envelope[] = [];

beforeAll(async () => {
  dc = await startDovecot();
  mh = openMailHome(
    stackYaml({ mode: "live-pilot", imapPort: dc.imapPort, smtpPort: 1, mailboxes: [{ id: "ops", role: "ops" }] }),
    { TAU_IMAP_PASSWORD: PASSWORD },
    "connectors:\n  email:\n    mode: imap\n",
  );
  const admin = new ImapFlow({
    host: dc.host,
    port: dc.imapPort,
    secure: false,
    doSTARTTLS: false,
    auth: { user: OPS, pass: PASSWORD },
    logger: false,
  });
  admin.on("error", () => undefined);
  await admin.connect();
  for (const raw of Object.values(MESSAGES)) await admin.append("INBOX", raw);
  await admin.logout();
  writer = createIngressWriter({ ingressDir: path.join(mh.home.stateDir, "ingress"), maxLineBytes: 1_048_576 });
  const deps: ConnectorDeps = {
    ingress: writer,
    cursors: { get: (k) => mh.app.store.kv.get(k), put: (k, v) => mh.app.store.kv.put(k, v) },
    identity: mh.app.config.identity,
    logger: memoryLogger(),
    clock: Date.now,
    secret: (id) => mh.services.secret(id),
  };
  const built = createEmailConnectorFor(mh.app, deps, { overrides: { startAt: "oldest", pollIntervalMs: 60_000 } });
  const r = await built.connector!.pollOnce();
  expect(r).toMatchObject({ ok: true, appended: 5 });
  envelopes = readEmailIngress(mh.home.stateDir);
}, 60_000);

afterAll(async () => {
  await writer?.close();
  await dc?.stop();
  mh?.close();
});

const bySubject = (s: string) => envelopes.find((e) => e.meta.subject === s)!;

describe("automated mail is a bot, with the header that said so", () => {
  it("recognises the iCloud vacation reply by X-Apple-Action (no Auto-Submitted)", () => {
    expect(bySubject("Re: deploy report")).toMatchObject({
      actor: { id: "ana.lima@icloud.com", is_bot: true },
      meta: { auto_reason: "x-apple-action" },
    });
    expect(bySubject("Re: deploy report").meta).not.toHaveProperty("auto_submitted");
  });

  it("recognises Exchange out-of-office, list mail and a delivery status notification", () => {
    expect(
      [
        bySubject("Automatic reply: deploy report"),
        bySubject("[announce] maintenance window"),
        bySubject("Undelivered Mail Returned to Sender"),
        bySubject("deploy?"),
      ].map((e) => [e.actor.is_bot, e.meta.auto_reason ?? null]),
    ).toEqual([
      [true, "x-auto-response-suppress"],
      [true, "list-id"],
      [true, "content-type"],
      [false, null],
    ]);
  });

  it("never answers them: the self/bot filter records ignored_bot with the reason; the person gets a reply", async () => {
    const h: Harness = makeHarness({ "channel-policy.yaml": "schema_version: 1\ndefaultPolicy: { dmPolicy: allow, allowFrom: any }\n" });
    try {
      const out = await h.run(envelopes);
      const byId = new Map(out.map((o) => [o.event_id, o]));
      const decision = (s: string) => byId.get(bySubject(s).event_id)!;
      expect(decision("Re: deploy report")).toMatchObject({ outcome: "ignored", reason: "ignored_bot" });
      expect(decision("Undelivered Mail Returned to Sender").reason).toBe("ignored_bot");
      expect(decision("deploy?").reason).toBe("responder_replied");
      const trace = h.app.store.inspect.trace(bySubject("Re: deploy report").event_id)[0]!;
      expect(JSON.parse(trace.decisions)).toContainEqual({
        stage: "self_bot_filter",
        outcome: "skip",
        reason: "ignored_bot",
        detail: { auto_reason: "x-apple-action" },
      });
      expect(h.replies().map((r) => r.event_id)).toEqual([bySubject("deploy?").event_id]);
    } finally {
      h.close();
    }
  });
});
