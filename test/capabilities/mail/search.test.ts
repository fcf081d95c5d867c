/** @module `communications.mail.search` and `communications.mailboxes.list` against a real Dovecot, and the simulation catalog. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedMailbox, startDovecot, type DovecotHandle } from "../../helpers/dovecot.ts";
import { openMailHome, rawMail, runChat, stackYaml, type MailHome } from "./support.ts";

// 30 messages, UID = i + 1: every third one (i = 0, 3, …, 27) is an invoice from billing@, the rest reports from
// carol@. Dates grow with i, so "newest first" is the highest UID.
const SEED = 30;
function seedMessage(i: number): string {
  const invoice = i % 3 === 0;
  const minute = String(i).padStart(2, "0");
  return rawMail({
    from: invoice ? "Billing <billing@vendor.example>" : "Carol <carol@example.test>",
    to: "ops@example.test",
    subject: invoice ? `Invoice ${i}` : `Weekly report ${i}`,
    body: invoice ? `Amount due for order ${i}.\n\nThanks,\nBilling` : `All green in week ${i}.`,
    id: `seed-${i}@example.test`,
    date: `Mon, 06 Jan 2025 10:${minute}:00 +0000`,
  });
}

describe("mail search and mailbox list (live-pilot, real Dovecot)", () => {
  let dc: DovecotHandle;
  let mh: MailHome;

  beforeAll(async () => {
    dc = await startDovecot();
    await seedMailbox(dc, "ops@example.test", SEED, seedMessage);
    mh = openMailHome(
      stackYaml({
        mode: "live-pilot",
        imapPort: dc.imapPort,
        mailboxes: [
          { id: "ops", role: "ops" },
          { id: "ops-sent", role: "sent", folder: "Sent" },
          { id: "ops-archive", role: "archive", folder: "Archive" },
          { id: "alerts", role: "alerts", address: "alerts@example.test" },
        ],
      }),
    );
  });
  afterAll(async () => {
    mh?.close();
    await dc?.stop();
  });

  it("returns the top N subject matches, newest first, with sender, date and snippet", async () => {
    const r = await runChat(mh.services, "communications.mail.search", ["invoice"], { top: "3" });
    expect(r.status).toBe("reported");
    expect(r.reason_code).toBe("mail_search_ok");
    expect(r.data).toEqual({
      mode: "live-pilot",
      mailbox: "INBOX",
      query: "invoice",
      field: "subject",
      top: 3,
      total: 10,
      hits: [
        {
          id: "28",
          uid: 28,
          subject: "Invoice 27",
          from: "billing@vendor.example",
          date: "2025-01-06T10:27:00.000Z",
          snippet: "Amount due for order 27. Thanks, Billing",
        },
        {
          id: "25",
          uid: 25,
          subject: "Invoice 24",
          from: "billing@vendor.example",
          date: "2025-01-06T10:24:00.000Z",
          snippet: "Amount due for order 24. Thanks, Billing",
        },
        {
          id: "22",
          uid: 22,
          subject: "Invoice 21",
          from: "billing@vendor.example",
          date: "2025-01-06T10:21:00.000Z",
          snippet: "Amount due for order 21. Thanks, Billing",
        },
      ],
    });
    expect(r.text).toBe(
      [
        '3 of 10 messages in INBOX matching subject "invoice" (newest first):',
        "1. 2025-01-06 10:27  billing@vendor.example  Invoice 27",
        "2. 2025-01-06 10:24  billing@vendor.example  Invoice 24",
        "3. 2025-01-06 10:21  billing@vendor.example  Invoice 21",
      ].join("\n"),
    );
  });

  it("defaults to the top 5 and searches the sender with --field from", async () => {
    const r = await runChat(mh.services, "communications.mail.search", ["carol@example.test"], { field: "from" });
    const data = r.data as { total: number; hits: { uid: number }[] };
    expect(data.total).toBe(20);
    expect(data.hits.map((h) => h.uid)).toEqual([30, 29, 27, 26, 24]);
  });

  it("matches everything with * and nothing with an unknown word", async () => {
    const all = await runChat(mh.services, "communications.mail.search", ["*"], { top: "2" });
    expect((all.data as { total: number; hits: { uid: number }[] }).hits.map((h) => h.uid)).toEqual([30, 29]);
    expect((all.data as { total: number }).total).toBe(30);
    const none = await runChat(mh.services, "communications.mail.search", ["no-such-word-xyz"]);
    expect(none.status).toBe("reported");
    expect(none.data).toMatchObject({ total: 0, hits: [] });
    expect(none.text).toBe('0 of 0 messages in INBOX matching subject "no-such-word-xyz" (newest first).');
  });

  it("takes --mailbox as a mailbox id (its folder) or a folder name", async () => {
    const sent = await runChat(mh.services, "communications.mail.search", ["*"], { mailbox: "ops-sent" });
    expect(sent.data).toMatchObject({ mailbox: "Sent", total: 0 });
    const inbox = await runChat(mh.services, "communications.mail.search", ["invoice"], { mailbox: "INBOX", top: "1" });
    expect(inbox.data).toMatchObject({ mailbox: "INBOX", total: 10, hits: [{ uid: 28 }] });
  });

  it("fails with imap_mailbox_missing for a folder the server does not have", async () => {
    const r = await runChat(mh.services, "communications.mail.search", ["invoice"], { mailbox: "Nope" });
    expect(r.status).toBe("failed");
    expect(r.reason_code).toBe("imap_mailbox_missing");
  });

  it("refuses a declared mailbox of another account than the IMAP login", async () => {
    const r = await runChat(mh.services, "communications.mail.search", ["invoice"], { mailbox: "alerts" });
    expect(r).toMatchObject({ status: "failed", reason_code: "stack_mailbox_unreachable" });
    expect(r.text).toBe("Mail search: mailbox alerts (alerts@example.test) is not the IMAP login ops@example.test.");
  });

  it("lists server mailboxes merged with the declared roles", async () => {
    const r = await runChat(mh.services, "communications.mailboxes.list");
    expect(r.status).toBe("reported");
    expect(r.reason_code).toBe("mailboxes_listed");
    const ops = "ops@example.test";
    expect(r.data).toEqual({
      mode: "live-pilot",
      imap_user: ops,
      mailboxes: [
        {
          id: "ops",
          address: ops,
          role: "ops",
          folder: "INBOX",
          special_use: "\\Inbox",
          declared: true,
          active: true,
          exists: true,
          messages: 30,
        },
        {
          id: "ops-sent",
          address: ops,
          role: "sent",
          folder: "Sent",
          special_use: "\\Sent",
          declared: true,
          active: true,
          exists: true,
          messages: 0,
        },
        {
          id: "ops-archive",
          address: ops,
          role: "archive",
          folder: "Archive",
          special_use: null,
          declared: true,
          active: true,
          exists: false,
          messages: null,
        },
        // Another account: declared, not checkable over the ops@ login.
        {
          id: "alerts",
          address: "alerts@example.test",
          role: "alerts",
          folder: "INBOX",
          special_use: null,
          declared: true,
          active: true,
          exists: null,
          messages: null,
        },
        {
          id: null,
          address: ops,
          role: null,
          folder: "Drafts",
          special_use: "\\Drafts",
          declared: false,
          active: null,
          exists: true,
          messages: 0,
        },
        {
          id: null,
          address: ops,
          role: null,
          folder: "Junk",
          special_use: "\\Junk",
          declared: false,
          active: null,
          exists: true,
          messages: 0,
        },
        {
          id: null,
          address: ops,
          role: null,
          folder: "Trash",
          special_use: "\\Trash",
          declared: false,
          active: null,
          exists: true,
          messages: 0,
        },
      ],
    });
    expect(r.text.split("\n").slice(0, 2)).toEqual([
      "Mailboxes (live-pilot; IMAP login ops@example.test):",
      "- ops <ops@example.test> INBOX (30): role ops, \\Inbox",
    ]);
  });

  it("refuses bad arguments before touching the server", async () => {
    await expect(runChat(mh.services, "communications.mail.search", ["x"], { top: "0" })).rejects.toThrow(/top/);
    await expect(runChat(mh.services, "communications.mail.search", ["x"], { top: true })).rejects.toThrow(/top/);
    await expect(runChat(mh.services, "communications.mail.search", ["x"], { field: "body" })).rejects.toThrow(/field/);
  });
});

describe("mail search and mailbox list (simulation catalog)", () => {
  const catalog = [
    {
      id: "m1",
      mailbox: "ops",
      from: "billing@vendor.example",
      to: "ops@example.test",
      subject: "Invoice 100",
      date: "2025-01-01T09:00:00Z",
      snippet: "Due in 30 days",
    },
    {
      id: "m2",
      mailbox: "ops",
      from: "carol@example.test",
      to: "ops@example.test",
      subject: "Re: invoice 100",
      date: "2025-01-03T09:00:00Z",
      snippet: "Paid.",
    },
    {
      id: "m3",
      mailbox: "alerts",
      from: "monitor@example.test",
      to: "alerts@example.test",
      subject: "Disk 91%",
      date: "2025-01-02T09:00:00Z",
      snippet: "invoice-db volume",
    },
    {
      id: "m4",
      mailbox: "ops",
      from: "billing@vendor.example",
      to: "ops@example.test",
      subject: "INVOICE 101",
      date: "2025-01-04T09:00:00+01:00",
      snippet: "New",
    },
  ];
  const SIM_MAILBOXES = [
    { id: "ops", role: "ops" },
    { id: "alerts", role: "alerts", address: "alerts@example.test" },
  ];
  let mh: MailHome;
  beforeAll(() => {
    mh = openMailHome(stackYaml({ mode: "simulation", mailboxes: SIM_MAILBOXES, catalog }), {});
  });
  afterAll(() => mh?.close());

  it("searches the catalog by subject, case-insensitively, newest first", async () => {
    const r = await runChat(mh.services, "communications.mail.search", ["invoice"], { top: "2" });
    expect(r.reason_code).toBe("mail_search_ok");
    expect(r.data).toEqual({
      mode: "simulation",
      mailbox: null,
      query: "invoice",
      field: "subject",
      top: 2,
      total: 3,
      hits: [
        { id: "m4", uid: null, subject: "INVOICE 101", from: "billing@vendor.example", date: "2025-01-04T08:00:00.000Z", snippet: "New" },
        { id: "m2", uid: null, subject: "Re: invoice 100", from: "carol@example.test", date: "2025-01-03T09:00:00.000Z", snippet: "Paid." },
      ],
    });
  });

  it("filters by mailbox and searches text across sender, recipient, subject and snippet", async () => {
    const r = await runChat(mh.services, "communications.mail.search", ["invoice"], { field: "text", mailbox: "alerts" });
    expect((r.data as { hits: { id: string }[] }).hits.map((h) => h.id)).toEqual(["m3"]);
  });

  it("lists the declared mailboxes with catalog counts", async () => {
    const r = await runChat(mh.services, "communications.mailboxes.list");
    expect(r.data).toEqual({
      mode: "simulation",
      imap_user: "ops@example.test",
      mailboxes: [
        {
          id: "ops",
          address: "ops@example.test",
          role: "ops",
          folder: "INBOX",
          special_use: null,
          declared: true,
          active: true,
          exists: null,
          messages: 3,
        },
        {
          id: "alerts",
          address: "alerts@example.test",
          role: "alerts",
          folder: "INBOX",
          special_use: null,
          declared: true,
          active: true,
          exists: null,
          messages: 1,
        },
      ],
    });
  });

  it("fails with stack_contract_invalid naming the file and field when the contract is broken", async () => {
    mh.writeStack("schema_version: 1\nmode: live\nimap: { host: h, user: u }\nsmtp: { host: h, user: u }\n");
    try {
      const r = await runChat(mh.services, "communications.mail.search", ["x"]);
      expect(r.status).toBe("failed");
      expect(r.reason_code).toBe("stack_contract_invalid");
      expect(r.text).toMatch(/stack\.yaml:2:7: mode: must be one of "simulation", "live-pilot"/);
    } finally {
      mh.writeStack(stackYaml({ mode: "simulation", mailboxes: SIM_MAILBOXES, catalog }));
    }
  });
});
