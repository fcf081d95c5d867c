/** @module `communications.inbox.poll`: one catch-up round from the cursor into the real ingress file. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deliverViaLmtp, startDovecot, type DovecotHandle } from "../../helpers/dovecot.ts";
import { openMailHome, rawMail, readEmailIngress, runChat, stackYaml, type MailHome } from "./support.ts";

function deliver(dc: DovecotHandle, subject: string) {
  return deliverViaLmtp(dc, {
    from: "carol@example.test",
    to: "ops@example.test",
    raw: rawMail({
      from: "Carol <carol@example.test>",
      to: "ops@example.test",
      subject,
      body: `about ${subject}`,
      id: `${subject.replace(/\W/g, "-")}@example.test`,
      date: "Tue, 07 Jan 2025 08:00:00 +0000",
    }),
  });
}

describe("inbox poll (live-pilot, real Dovecot)", () => {
  let dc: DovecotHandle;
  let mh: MailHome;
  beforeAll(async () => {
    dc = await startDovecot();
    mh = openMailHome(stackYaml({ mode: "live-pilot", imapPort: dc.imapPort }));
  });
  afterAll(async () => {
    mh?.close();
    await dc?.stop();
  });

  it("starts at the newest message, then ingests only what arrived since, once", async () => {
    await deliver(dc, "history");
    const first = await runChat(mh.services, "communications.inbox.poll");
    expect(first).toMatchObject({ status: "reported", reason_code: "inbox_poll_ok", data: { mode: "live-pilot", appended: 0 } });
    expect(JSON.parse(mh.app.store.kv.get("connector:email:cursor:INBOX")!)).toMatchObject({ lastUid: 1 });

    await deliver(dc, "new one");
    await deliver(dc, "new two");
    const second = await runChat(mh.services, "communications.inbox.poll");
    expect(second).toMatchObject({ status: "reported", reason_code: "inbox_poll_ok", data: { appended: 2 } });
    expect(second.text).toBe("Inbox poll: 2 new messages ingested.");
    const third = await runChat(mh.services, "communications.inbox.poll");
    expect(third.data).toMatchObject({ appended: 0 });

    const envs = readEmailIngress(mh.home.stateDir);
    expect(envs.map((e) => [e.meta.subject, e.meta.uid, e.actor.id])).toEqual([
      ["new one", 2, "carol@example.test"],
      ["new two", 3, "carol@example.test"],
    ]);
  });

  it("fails with the IMAP reason code when the login fails", async () => {
    const bad = openMailHome(stackYaml({ mode: "live-pilot", imapPort: dc.imapPort }), { TAU_IMAP_PASSWORD: "nope" });
    try {
      const r = await runChat(bad.services, "communications.inbox.poll");
      expect(r).toMatchObject({ status: "failed", reason_code: "imap_auth_failed", data: { appended: 0 } });
      const none = openMailHome(stackYaml({ mode: "live-pilot", imapPort: dc.imapPort }), {});
      try {
        expect(await runChat(none.services, "communications.inbox.poll")).toMatchObject({
          status: "failed",
          reason_code: "missing_imap_password",
        });
      } finally {
        none.close();
      }
    } finally {
      bad.close();
    }
  });
});

describe("inbox poll (simulation)", () => {
  it("polls nothing and says so", async () => {
    const mh = openMailHome(stackYaml({ mode: "simulation", imapPort: 1 }), {});
    try {
      expect(await runChat(mh.services, "communications.inbox.poll")).toMatchObject({
        status: "reported",
        reason_code: "inbox_poll_simulation",
        data: { appended: 0 },
      });
      expect(readEmailIngress(mh.home.stateDir)).toEqual([]);
    } finally {
      mh.close();
    }
  });
});
