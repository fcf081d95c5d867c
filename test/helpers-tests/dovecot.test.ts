// Proves test/helpers/dovecot.ts: a real Dovecot driven by the real imapflow 2.1.2 + mailparser clients.
import fs from "node:fs";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ImapFlow, type ImapFlowOptions } from "imapflow";
import { simpleParser } from "mailparser";
import { deliverViaLmtp, seedMailbox, startDovecot, type DovecotHandle } from "../helpers/dovecot.ts";

const PASS = "secret";

function imap(dc: DovecotHandle, user: string, pass = PASS, extra: Partial<ImapFlowOptions> = {}): ImapFlow {
  const c = new ImapFlow({
    host: dc.host,
    port: dc.imapPort,
    secure: false,
    auth: { user, pass },
    logger: false,
    ...extra,
  });
  c.on("error", () => {
    /* socket errors surface through the awaited calls; an unhandled 'error' event would crash the worker */
  });
  return c;
}

function rawMessage(opts: { from: string; to: string; subject: string; body: string; id: string }): string {
  return [
    `From: ${opts.from}`,
    `To: ${opts.to}`,
    `Subject: ${opts.subject}`,
    `Message-ID: <${opts.id}@example.test>`,
    `Date: Mon, 06 Jan 2025 10:00:00 +0000`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    opts.body,
    "",
  ].join("\r\n");
}

/** Resolve on `event` or reject after `ms` (no sleeping-as-assertion). */
function once<T>(emitter: NodeJS.EventEmitter, event: string, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${ms} ms`)), ms);
    emitter.once(event, (v: T) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

/** Poll a condition every 10 ms until true; throw after `ms`. */
async function waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", () => resolve(true));
  });
}

describe("startDovecot + imapflow", () => {
  let dc: DovecotHandle;

  beforeAll(async () => {
    const t0 = performance.now();
    dc = await startDovecot();
    console.info(`[dovecot] started in ${(performance.now() - t0).toFixed(0)} ms (imap ${dc.imapPort}, lmtp ${dc.lmtpPort})`);
  });
  afterAll(async () => {
    await dc?.stop();
  });

  it("logs in and lists the auto-created special-use mailboxes", async () => {
    const c = imap(dc, "ops@example.test");
    await c.connect();
    try {
      const boxes = await c.list();
      const byPath = Object.fromEntries(boxes.map((b) => [b.path, b.specialUse ?? null]));
      expect(byPath).toEqual({
        INBOX: "\\Inbox",
        Drafts: "\\Drafts",
        Sent: "\\Sent",
        Trash: "\\Trash",
        Junk: "\\Junk",
      });
    } finally {
      await c.logout();
    }
  });

  it("delivers 3 messages over LMTP, finds one by subject, fetches and parses it", async () => {
    for (const [i, subject] of ["weekly report", "[pilot] send-test tok-3f9a", "lunch?"].entries()) {
      const r = await deliverViaLmtp(dc, {
        from: "alerts@example.test",
        to: "ops@example.test",
        raw: rawMessage({
          from: "Alerts <alerts@example.test>",
          to: "ops@example.test",
          subject,
          body: `body ${i} — ünïcode`,
          id: `dc-test-${i}`,
        }),
      });
      expect(r.accepted).toEqual(["ops@example.test"]);
      expect(r.response).toMatch(/^250 2\.0\.0 <ops@example\.test> .* Saved$/);
    }

    const c = imap(dc, "ops@example.test");
    await c.connect();
    try {
      const lock = await c.getMailboxLock("INBOX");
      try {
        expect(c.mailbox && c.mailbox.exists).toBe(3);
        const uids = await c.search({ subject: "tok-3f9a" }, { uid: true });
        expect(uids).toEqual([2]);
        const msg = await c.fetchOne("2", { uid: true, source: true, envelope: true }, { uid: true });
        expect(msg && msg.envelope?.subject).toBe("[pilot] send-test tok-3f9a");
        const parsed = await simpleParser(msg && msg.source ? msg.source : Buffer.alloc(0));
        expect(parsed.subject).toBe("[pilot] send-test tok-3f9a");
        expect(parsed.from?.value[0]?.address).toBe("alerts@example.test");
        expect(parsed.messageId).toBe("<dc-test-1@example.test>");
        expect(parsed.text?.trim()).toBe("body 1 — ünïcode");
        // Dovecot's LMTP adds a Received header with the envelope recipient
        expect(String(parsed.headers.get("received"))).toContain("for <ops@example.test>");
      } finally {
        lock.release();
      }
    } finally {
      await c.logout();
    }
  });

  it("rejects a bad password with an authentication failure", async () => {
    const c = imap(dc, "ops@example.test", "wrong");
    const err = (await c.connect().then(
      () => null,
      (e: unknown) => e,
    )) as { authenticationFailed?: boolean; serverResponseCode?: string } | null;
    expect(err).not.toBeNull();
    expect(err?.authenticationFailed).toBe(true);
    expect(err?.serverResponseCode).toBe("AUTHENTICATIONFAILED");
    c.close();
  });

  it("refuses LMTP delivery to an unknown user", async () => {
    const err = (await deliverViaLmtp(dc, {
      from: "alerts@example.test",
      to: "nobody@example.test",
      raw: rawMessage({ from: "alerts@example.test", to: "nobody@example.test", subject: "x", body: "x", id: "x" }),
    }).then(
      () => null,
      (e: unknown) => e,
    )) as { responseCode?: number; response?: string } | null;
    expect(err?.responseCode).toBe(550);
    expect(err?.response).toMatch(/5\.1\.1/);
  });

  it("restart(): connected clients are dropped, a new client reconnects and the mail store survives", async () => {
    const before = imap(dc, "ops@example.test");
    await before.connect();
    await before.mailboxOpen("INBOX");
    const closed = once<void>(before, "close", 10_000);
    const oldPid = dc.pid;

    const t0 = performance.now();
    await dc.restart();
    console.info(`[dovecot] graceful restart in ${(performance.now() - t0).toFixed(0)} ms`);
    await closed;
    expect(dc.pid).not.toBe(oldPid);

    const after = imap(dc, "ops@example.test");
    await after.connect();
    try {
      const st = await after.status("INBOX", { messages: true });
      expect(st && st.messages).toBe(3);
    } finally {
      await after.logout();
    }

    await dc.restart({ hard: true });
    const again = imap(dc, "ops@example.test");
    await again.connect();
    await again.logout();
  });

  it("seedMailbox (maildir): Dovecot sees the files, assigns UIDs in order, and IDLE clients get EXISTS", async () => {
    const user = "noreply@example.test";
    const mk = (i: number) =>
      rawMessage({ from: "seed@example.test", to: user, subject: `seed ${i}`, body: `seed body ${i}`, id: `seed-${i}` });
    const first = await seedMailbox(dc, user, 5, mk);
    expect(first.count).toBe(5);

    const watcher = imap(dc, user, PASS, { autoIdleDelay: 50 });
    await watcher.connect();
    try {
      await watcher.mailboxOpen("INBOX");
      expect(watcher.mailbox && watcher.mailbox.exists).toBe(5);
      const first1 = await watcher.fetchOne("1", { uid: true, envelope: true });
      expect(first1 && [first1.uid, first1.envelope?.subject]).toEqual([1, "seed 0"]);

      await waitUntil(() => watcher.idling, 5000, "IDLE on the wire");
      const exists = once<{ count: number }>(watcher, "exists", 10_000);
      await seedMailbox(dc, user, 2, (i) => mk(100 + i));
      expect((await exists).count).toBeGreaterThan(5);
      // Dovecot may announce the two files in one or two EXISTS (inotify timing): wait for both
      await waitUntil(() => (watcher.mailbox ? watcher.mailbox.exists : 0) === 7, 10_000, "EXISTS 7");
      const last = await watcher.fetchOne("*", { uid: true, envelope: true });
      expect(last && [last.uid, last.envelope?.subject]).toEqual([7, "seed 101"]);
    } finally {
      await watcher.logout();
    }
  });

  it("seedMailbox (lmtp) delivers through Dovecot's LMTP", async () => {
    const user = "alerts@example.test";
    const r = await seedMailbox(
      dc,
      user,
      20,
      (i) => rawMessage({ from: "seed@example.test", to: user, subject: `lmtp seed ${i}`, body: "b", id: `ls-${i}` }),
      { via: "lmtp" },
    );
    console.info(`[dovecot] seeded 20 messages over LMTP in ${r.elapsedMs.toFixed(0)} ms`);
    const c = imap(dc, user);
    await c.connect();
    try {
      const st = await c.status("INBOX", { messages: true });
      expect(st && st.messages).toBe(20);
    } finally {
      await c.logout();
    }
  });

  it("seeds 10 000 messages (benchmark path) that IMAP can count and search", async () => {
    const user = "bulk@example.test";
    const bulk = await startDovecot({ users: [{ user, pass: PASS }] });
    try {
      const r = await seedMailbox(bulk, user, 10_000, (i) =>
        rawMessage({ from: "seed@example.test", to: user, subject: `bulk ${i}`, body: `bulk body ${i}`, id: `bulk-${i}` }),
      );
      const c = imap(bulk, user);
      await c.connect();
      try {
        const t0 = performance.now();
        const lock = await c.getMailboxLock("INBOX");
        const syncMs = performance.now() - t0;
        try {
          expect(c.mailbox && c.mailbox.exists).toBe(10_000);
          const hits = await c.search({ subject: "bulk 4242" }, { uid: true });
          expect(hits).toEqual([4243]);
        } finally {
          lock.release();
        }
        console.info(`[dovecot] seeded 10000 messages via maildir in ${r.elapsedMs.toFixed(0)} ms; first SELECT ${syncMs.toFixed(0)} ms`);
      } finally {
        await c.logout();
      }
    } finally {
      await bulk.stop();
    }
  });

  it("implicit TLS with the generated self-signed cert verifies against caPem", async () => {
    const tlsDc = await startDovecot({ tls: true });
    try {
      const c = new ImapFlow({
        host: tlsDc.host,
        port: tlsDc.imapsPort!,
        secure: true,
        tls: { ca: tlsDc.caPem! },
        auth: { user: "ops@example.test", pass: PASS },
        logger: false,
      });
      c.on("error", () => undefined);
      await c.connect();
      expect(c.secureConnection).toBe(true);
      await c.logout();
    } finally {
      await tlsDc.stop();
    }
  });

  it("stop() kills the whole process tree, frees the ports and removes the temp dir", async () => {
    const tmp = await startDovecot();
    const { dir, imapPort, lmtpPort } = tmp;
    const pid = tmp.pid!;
    await tmp.stop();
    await tmp.stop(); // idempotent
    expect(fs.existsSync(dir)).toBe(false);
    expect(tmp.pid).toBeNull();
    expect(() => process.kill(pid, 0)).toThrow();
    expect(await portRefuses(imapPort)).toBe(true);
    expect(await portRefuses(lmtpPort)).toBe(true);
  });
});
