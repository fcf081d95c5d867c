// Proves test/helpers/smtp-sink.ts: nodemailer submission → smtp-server sink → LMTP → real Dovecot → imapflow search.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import nodemailer from "nodemailer";
import { ImapFlow } from "imapflow";
import { simpleParser } from "mailparser";
import { freePort, startDovecot, type DovecotHandle } from "../helpers/dovecot.ts";
import { startSmtpSink, type SmtpSinkHandle } from "../helpers/smtp-sink.ts";

const PASS = "secret";

type SendError = { code?: string; responseCode?: number; response?: string; command?: string };

function submission(sink: SmtpSinkHandle, user: string, pass = PASS) {
  // STARTTLS is disabled on the sink (loopback): secure:false and no requireTLS.
  return nodemailer.createTransport({ host: sink.host, port: sink.port, secure: false, auth: { user, pass } });
}

async function sendError(p: Promise<unknown>): Promise<SendError> {
  return p.then(
    () => {
      throw new Error("expected the send to fail");
    },
    (e: unknown) => e as SendError,
  );
}

/** Search a mailbox by subject; SEARCH runs after NOOP so just-delivered mail is visible. Bounded by the deadline. */
async function searchSubject(
  dc: DovecotHandle,
  user: string,
  subject: string,
  timeoutMs = 5000,
): Promise<{ uids: number[]; source: Buffer | null }> {
  const c = new ImapFlow({ host: dc.host, port: dc.imapPort, secure: false, auth: { user, pass: PASS }, logger: false });
  c.on("error", () => undefined);
  await c.connect();
  try {
    const lock = await c.getMailboxLock("INBOX");
    try {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await c.noop();
        const uids = (await c.search({ subject }, { uid: true })) || [];
        if (uids.length || Date.now() > deadline) {
          const msg = uids.length ? await c.fetchOne(String(uids[0]), { source: true }, { uid: true }) : false;
          return { uids, source: msg && msg.source ? msg.source : null };
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      lock.release();
    }
  } finally {
    await c.logout();
  }
}

describe("startSmtpSink (smtp-server → LMTP → Dovecot)", () => {
  let dc: DovecotHandle;
  let sink: SmtpSinkHandle;

  beforeAll(async () => {
    dc = await startDovecot();
    const t0 = performance.now();
    sink = await startSmtpSink({ dovecot: dc });
    console.info(`[smtp-sink] listening on ${sink.port} after ${(performance.now() - t0).toFixed(1)} ms`);
  });
  afterAll(async () => {
    await sink?.close();
    await dc?.stop();
  });

  it("accepts authenticated submission and the message becomes searchable over IMAP", async () => {
    const t = submission(sink, "ops@example.test");
    try {
      const t0 = performance.now();
      const info = await t.sendMail({
        from: '"Tau Ops" <ops@example.test>',
        to: "alerts@example.test",
        subject: "[tau] deploy finished tok-77c1",
        text: "deploy 42 finished ✅",
      });
      expect(info.accepted).toEqual(["alerts@example.test"]);
      expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as sink-\d+$/);

      const rec = await sink.waitFor((m) => m.envelope.to.includes("alerts@example.test"), 5000);
      expect(rec.user).toBe("ops@example.test");
      expect(rec.envelope).toEqual({ from: "ops@example.test", to: ["alerts@example.test"] });
      expect(rec.delivered).toEqual(["alerts@example.test"]);
      expect(rec.lmtpResponse).toMatch(/^250 2\.0\.0 <alerts@example\.test> .* Saved$/);

      const found = await searchSubject(dc, "alerts@example.test", "tok-77c1");
      console.info(`[smtp-sink] send → searchable in ${(performance.now() - t0).toFixed(0)} ms`);
      expect(found.uids).toHaveLength(1);
      const parsed = await simpleParser(found.source ?? Buffer.alloc(0));
      expect(parsed.subject).toBe("[tau] deploy finished tok-77c1");
      expect(parsed.text?.trim()).toBe("deploy 42 finished ✅");
      expect(parsed.from?.value[0]).toEqual({ address: "ops@example.test", name: "Tau Ops" });
      // two hops: Dovecot LMTP's Received (for <rcpt>) on top of the sink's own trace header
      const received = parsed.headers.get("received");
      expect(Array.isArray(received) ? received.length : 0).toBe(2);
      expect(String(received)).toContain("for <alerts@example.test>");
      expect(String(received)).toContain("tau smtp-sink");
    } finally {
      t.close();
    }
  });

  it("rejects a bad password with EAUTH 535", async () => {
    const t = submission(sink, "ops@example.test", "wrong");
    try {
      const e = await sendError(t.sendMail({ from: "ops@example.test", to: "alerts@example.test", subject: "x", text: "x" }));
      expect(e.code).toBe("EAUTH");
      expect(e.responseCode).toBe(535);
      expect(sink.rejections.at(-1)).toMatchObject({ stage: "auth", code: 535, user: "ops@example.test" });
    } finally {
      t.close();
    }
  });

  it("rejects a sender other than the authenticated user with 553 5.7.1", async () => {
    const t = submission(sink, "ops@example.test");
    try {
      const e = await sendError(t.sendMail({ from: "alerts@example.test", to: "ops@example.test", subject: "spoof", text: "x" }));
      expect(e.code).toBe("EENVELOPE");
      expect(e.responseCode).toBe(553);
      expect(e.response).toMatch(/^553 5\.7\.1 /);
    } finally {
      t.close();
    }
  });

  it("rejects an unknown local recipient with 550 5.1.1", async () => {
    const t = submission(sink, "ops@example.test");
    try {
      const e = await sendError(t.sendMail({ from: "ops@example.test", to: "nobody@example.test", subject: "x", text: "x" }));
      expect(e.code).toBe("EENVELOPE");
      expect(e.responseCode).toBe(550);
      expect(e.response).toMatch(/^550 5\.1\.1 <nobody@example\.test>/);
    } finally {
      t.close();
    }
  });

  it("requires AUTH before MAIL FROM", async () => {
    const t = nodemailer.createTransport({ host: sink.host, port: sink.port, secure: false });
    try {
      const e = await sendError(t.sendMail({ from: "ops@example.test", to: "alerts@example.test", subject: "x", text: "x" }));
      expect(e.responseCode).toBe(530);
    } finally {
      t.close();
    }
  });

  it("records mail to external domains without delivering it", async () => {
    const t = submission(sink, "ops@example.test");
    try {
      await t.sendMail({ from: "ops@example.test", to: "someone@elsewhere.test", subject: "external", text: "x" });
      const rec = await sink.waitFor((m) => m.envelope.to.includes("someone@elsewhere.test"), 5000);
      expect(rec.delivered).toEqual([]);
      expect(rec.lmtpResponse).toBeNull();
    } finally {
      t.close();
    }
  });

  it("answers 451 when LMTP delivery fails", async () => {
    const deadPort = await freePort(); // nothing listens there
    const broken = await startSmtpSink({ dovecot: { ...dc, lmtpPort: deadPort } });
    const t = submission(broken, "ops@example.test");
    try {
      const e = await sendError(t.sendMail({ from: "ops@example.test", to: "alerts@example.test", subject: "x", text: "x" }));
      expect(e.responseCode).toBe(451);
      expect(e.response).toMatch(/^451 4\.3\.0 LMTP delivery failed/);
      expect(broken.messages).toHaveLength(0);
    } finally {
      t.close();
      await broken.close();
    }
  });

  it("requireAuth:false behaves as an inbound MX: local mail delivered without AUTH, relaying refused with 554", async () => {
    const mx = await startSmtpSink({ dovecot: dc, requireAuth: false });
    const t = nodemailer.createTransport({ host: mx.host, port: mx.port, secure: false });
    try {
      await t.sendMail({ from: "someone@elsewhere.test", to: "noreply@example.test", subject: "inbound mx tok-5d2e", text: "hi" });
      const rec = await mx.waitFor((m) => m.envelope.from === "someone@elsewhere.test", 5000);
      expect(rec.user).toBeNull();
      expect(rec.delivered).toEqual(["noreply@example.test"]);
      expect((await searchSubject(dc, "noreply@example.test", "tok-5d2e")).uids).toHaveLength(1);

      const e = await sendError(t.sendMail({ from: "someone@elsewhere.test", to: "victim@other.test", subject: "x", text: "x" }));
      expect(e.responseCode).toBe(554);
      expect(e.response).toMatch(/Relay access denied/);
    } finally {
      t.close();
      await mx.close();
    }
  });

  it("waitFor rejects after its deadline when nothing matches", async () => {
    await expect(sink.waitFor(() => false, 50)).rejects.toThrow(/no matching message within 50 ms/);
  });
});
