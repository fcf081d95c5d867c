/** @module `communications.mail.send.test`: live nodemailer → SMTP sink → LMTP → Dovecot → searchable; simulation writes only the artifact. */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { artifactName } from "../../../src/capabilities/mail/send-test-mail.ts";
import { startDovecot, type DovecotHandle } from "../../helpers/dovecot.ts";
import { startSmtpSink, type SmtpSinkHandle } from "../../helpers/smtp-sink.ts";
import { mailCap, openMailHome, PASSWORD, runChat, stackYaml, waitFor, type MailHome } from "./support.ts";

/** A deterministic random source: the token is `tau-` + hex of these bytes. */
const FIXED_BYTES = (n: number) => Uint8Array.from({ length: n }, (_, i) => 0xa0 + i);
const TOKEN = "tau-a0a1a2a3a4";
const NOW = Date.UTC(2026, 1, 21, 10, 15, 0, 123);

function withFixedRandom(mh: MailHome): MailHome["services"] {
  return { ...mh.services, randomBytes: FIXED_BYTES, clock: () => NOW };
}

function readArtifact(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
}

describe("mail send test (live-pilot)", () => {
  let dc: DovecotHandle;
  let sink: SmtpSinkHandle;
  let mh: MailHome;

  beforeAll(async () => {
    dc = await startDovecot();
    sink = await startSmtpSink({ dovecot: dc });
    mh = openMailHome(stackYaml({ mode: "live-pilot", imapPort: dc.imapPort, smtpPort: sink.port }));
  });
  afterAll(async () => {
    mh?.close();
    await sink?.close();
    await dc?.stop();
  });

  it("needs confirmation and is a send", () => {
    const cap = mailCap("communications.mail.send.test");
    expect(cap.approval).toBe("confirm");
    expect(cap.sideEffect).toBe("send");
    expect(cap.alias).toEqual(["mail", "send", "test"]);
  });

  it("submits over SMTP (AUTH, sender = user), the message lands in Dovecot and is searchable by its token", async () => {
    const services = withFixedRandom(mh);
    const cap = mailCap("communications.mail.send.test");
    const r = await cap.run(cap.args.parse({ subject: "pilot test", body: "hello" }), {
      principal: "cli:ops",
      role: "admin",
      surface: "cli",
      now: NOW,
      services,
      origin: null,
    });
    expect(r.status).toBe("reported");
    expect(r.reason_code).toBe("mail_send_test_sent");
    const data = r.data as {
      to: string;
      subject: string;
      token: string;
      artifact: string;
      receipt: { accepted: string[]; rejected: string[]; message_id: string };
    };
    expect(data.to).toBe("ops@example.test");
    expect(data.subject).toBe(`pilot test [${TOKEN}]`);
    expect(data.receipt.accepted).toEqual(["ops@example.test"]);
    expect(data.receipt.rejected).toEqual([]);

    // The sink saw a real authenticated submission and delivered it over LMTP.
    const got = await sink.waitFor((m) => m.raw.toString("utf8").includes(TOKEN), 5000);
    expect(got.user).toBe("ops@example.test");
    expect(got.envelope).toEqual({ from: "ops@example.test", to: ["ops@example.test"] });
    expect(got.delivered).toEqual(["ops@example.test"]);
    expect(got.raw.toString("utf8")).toMatch(/^Auto-Submitted: auto-generated\r?$/m);

    // Searchable over IMAP by the token (bounded wait: LMTP delivery has already been acknowledged).
    const found = await waitFor(
      async () => {
        const d = (await runChat(mh.services, "communications.mail.search", [TOKEN])).data as { total: number; hits: unknown[] };
        return d.total > 0 ? d : undefined;
      },
      5000,
      "the test message in IMAP search",
    );
    expect(found.hits).toEqual([
      {
        id: expect.any(String),
        uid: expect.any(Number),
        subject: `pilot test [${TOKEN}]`,
        from: "ops@example.test",
        date: expect.any(String),
        snippet: "hello",
      },
    ]);

    // Evidence artifact, private, with the receipt.
    expect(path.basename(data.artifact)).toBe("mail-send-test-20260221T101500123Z.json");
    expect(fs.statSync(data.artifact).mode & 0o777).toBe(0o600);
    const art = readArtifact(data.artifact);
    expect(art).toMatchObject({
      v: 1,
      kind: "mail_send_test",
      mode: "live-pilot",
      status: "sent",
      reason_code: "mail_send_test_sent",
      from: "ops@example.test",
      to: "ops@example.test",
      token: TOKEN,
    });
    expect(JSON.stringify(art)).not.toContain(PASSWORD);
  });

  it("fails with smtp_rejected for an unknown local recipient and still writes the artifact", async () => {
    const services = { ...withFixedRandom(mh), clock: () => NOW + 1 };
    const cap = mailCap("communications.mail.send.test");
    const r = await cap.run(cap.args.parse({ to: "nobody@example.test" }), {
      principal: "cli:ops",
      role: "admin",
      surface: "cli",
      now: NOW + 1,
      services,
      origin: null,
    });
    expect(r.status).toBe("failed");
    expect(r.reason_code).toBe("smtp_rejected");
    const art = readArtifact((r.data as { artifact: string }).artifact);
    expect(art).toMatchObject({ status: "failed", reason_code: "smtp_rejected", receipt: null, to: "nobody@example.test" });
  });

  it("fails with smtp_auth_failed for a wrong SMTP password", async () => {
    const bad = openMailHome(stackYaml({ mode: "live-pilot", imapPort: dc.imapPort, smtpPort: sink.port }), {
      TAU_IMAP_PASSWORD: PASSWORD,
      TAU_SMTP_PASSWORD: "not-it",
    });
    try {
      const r = await runChat(bad.services, "communications.mail.send.test");
      expect(r.status).toBe("failed");
      expect(r.reason_code).toBe("smtp_auth_failed");
      expect(JSON.stringify(r)).not.toContain("not-it");
    } finally {
      bad.close();
    }
  });
});

describe("mail send test (simulation)", () => {
  it("writes the artifact and sends nothing", async () => {
    // Port 1: any network attempt would fail the capability.
    const mh = openMailHome(stackYaml({ mode: "simulation", smtpPort: 1, imapPort: 1 }), {});
    try {
      const services = withFixedRandom(mh);
      const cap = mailCap("communications.mail.send.test");
      const r = await cap.run(cap.args.parse({ to: "ronny@example.test" }), {
        principal: "telegram:4242",
        role: "operator",
        surface: "chat",
        now: NOW,
        services,
        origin: null,
      });
      expect(r.status).toBe("reported");
      expect(r.reason_code).toBe("mail_send_test_simulated");
      const file = path.join(mh.home.stateDir, "artifacts", artifactName(NOW));
      expect((r.data as { artifact: string }).artifact).toBe(file);
      expect(readArtifact(file)).toEqual({
        v: 1,
        kind: "mail_send_test",
        mode: "simulation",
        at: "2026-02-21T10:15:00.123Z",
        principal: "telegram:4242",
        from: "ops@example.test",
        to: "ronny@example.test",
        subject: `[tau] send-test ${TOKEN}`,
        token: TOKEN,
        status: "simulated",
        reason_code: "mail_send_test_simulated",
      });
      // A second run in the same millisecond keeps the first artifact.
      const again = await cap.run(cap.args.parse({}), {
        principal: "telegram:4242",
        role: "operator",
        surface: "chat",
        now: NOW,
        services,
        origin: null,
      });
      expect(path.basename((again.data as { artifact: string }).artifact)).toBe("mail-send-test-20260221T101500123Z-2.json");
    } finally {
      mh.close();
    }
  });
});
