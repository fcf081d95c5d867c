/** @module `communications.stack.status`: live IMAP login + mailbox parity + SMTP EHLO/AUTH against real servers, and its failures. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startDovecot, type DovecotHandle } from "../../helpers/dovecot.ts";
import { startSmtpSink, type SmtpSinkHandle } from "../../helpers/smtp-sink.ts";
import { createMailCapabilities } from "../../../src/capabilities/mail/index.ts";
import { openMailHome, PASSWORD, runChat, startSilentServer, stackYaml } from "./support.ts";

interface Check {
  name: string;
  ok: boolean;
  reason_code: string | null;
  ms: number | null;
}
const checksOf = (data: unknown) =>
  (data as { checks: Check[] }).checks.map((c) => ({ name: c.name, ok: c.ok, reason_code: c.reason_code }));

describe("stack status (live-pilot)", () => {
  let dc: DovecotHandle;
  let sink: SmtpSinkHandle;

  beforeAll(async () => {
    dc = await startDovecot();
    sink = await startSmtpSink({ dovecot: dc });
  });
  afterAll(async () => {
    await sink?.close();
    await dc?.stop();
  });

  it("passes with a real IMAP login, every declared mailbox present, and an SMTP EHLO + AUTH", async () => {
    const mh = openMailHome(
      stackYaml({
        mode: "live-pilot",
        imapPort: dc.imapPort,
        smtpPort: sink.port,
        mailboxes: [
          { id: "ops", role: "ops" },
          { id: "ops-sent", role: "sent", folder: "Sent" },
          { id: "alerts", role: "alerts", address: "alerts@example.test" },
        ],
      }),
    );
    try {
      const r = await runChat(mh.services, "communications.stack.status");
      expect(r.status).toBe("reported");
      expect(r.reason_code).toBe("stack_ok");
      expect(checksOf(r.data)).toEqual([
        { name: "contract", ok: true, reason_code: null },
        { name: "contract_parity", ok: true, reason_code: null },
        { name: "imap_login", ok: true, reason_code: null },
        { name: "mailbox_parity", ok: true, reason_code: null },
        { name: "smtp_probe", ok: true, reason_code: null },
      ]);
      expect((r.data as { mailboxes: unknown }).mailboxes).toEqual([
        { id: "ops", address: "ops@example.test", role: "ops", folder: "INBOX", active: true, exists: true },
        { id: "ops-sent", address: "ops@example.test", role: "sent", folder: "Sent", active: true, exists: true },
        // Not the IMAP login's account: declared, not checked.
        { id: "alerts", address: "alerts@example.test", role: "alerts", folder: "INBOX", active: true, exists: null },
      ]);
      expect(r.text.split("\n")[0]).toBe("Mail stack (live-pilot): ok");
      // The password is never part of the answer.
      expect(JSON.stringify(r)).not.toContain(PASSWORD);
    } finally {
      mh.close();
    }
  });

  it("fails with stack_mailbox_missing when a declared mailbox is not on the server", async () => {
    const mh = openMailHome(
      stackYaml({
        mode: "live-pilot",
        imapPort: dc.imapPort,
        smtpPort: sink.port,
        mailboxes: [
          { id: "ops", role: "ops" },
          { id: "pilot", role: "pilot", folder: "Pilot" },
        ],
      }),
    );
    try {
      const r = await runChat(mh.services, "communications.stack.status");
      expect(r.status).toBe("failed");
      expect(r.reason_code).toBe("stack_mailbox_missing");
      expect((r.data as { mailboxes: unknown }).mailboxes).toEqual([
        { id: "ops", address: "ops@example.test", role: "ops", folder: "INBOX", active: true, exists: true },
        { id: "pilot", address: "ops@example.test", role: "pilot", folder: "Pilot", active: true, exists: false },
      ]);
    } finally {
      mh.close();
    }
  });

  it("reports imap_auth_failed and smtp_auth_failed for wrong passwords, without echoing them", async () => {
    const mh = openMailHome(stackYaml({ mode: "live-pilot", imapPort: dc.imapPort, smtpPort: sink.port }), {
      TAU_IMAP_PASSWORD: "wrong-imap-pw",
      TAU_SMTP_PASSWORD: "wrong-smtp-pw",
    });
    try {
      const r = await runChat(mh.services, "communications.stack.status");
      expect(r.status).toBe("failed");
      expect(r.reason_code).toBe("imap_auth_failed");
      expect(checksOf(r.data)).toEqual([
        { name: "contract", ok: true, reason_code: null },
        { name: "contract_parity", ok: true, reason_code: null },
        { name: "imap_login", ok: false, reason_code: "imap_auth_failed" },
        { name: "smtp_probe", ok: false, reason_code: "smtp_auth_failed" },
      ]);
      const all = JSON.stringify(r);
      expect(all).not.toContain("wrong-imap-pw");
      expect(all).not.toContain("wrong-smtp-pw");
    } finally {
      mh.close();
    }
  });

  it("reports missing passwords by name", async () => {
    const mh = openMailHome(stackYaml({ mode: "live-pilot", imapPort: dc.imapPort, smtpPort: sink.port }), {});
    try {
      const r = await runChat(mh.services, "communications.stack.status");
      expect(checksOf(r.data).slice(2)).toEqual([
        { name: "imap_login", ok: false, reason_code: "missing_imap_password" },
        { name: "smtp_probe", ok: false, reason_code: "missing_smtp_password" },
      ]);
    } finally {
      mh.close();
    }
  });

  it("reports imap_connection_refused / smtp_connection_refused at once when nothing listens", async () => {
    const closedImap = await freePort();
    const closedSmtp = await freePort();
    const mh = openMailHome(stackYaml({ mode: "live-pilot", imapPort: closedImap, smtpPort: closedSmtp }));
    try {
      const t0 = performance.now();
      const r = await runChat(mh.services, "communications.stack.status");
      expect(performance.now() - t0).toBeLessThan(5000);
      expect(r.reason_code).toBe("imap_connection_refused");
      expect(checksOf(r.data).slice(2)).toEqual([
        { name: "imap_login", ok: false, reason_code: "imap_connection_refused" },
        { name: "smtp_probe", ok: false, reason_code: "smtp_connection_refused" },
      ]);
    } finally {
      mh.close();
    }
  });

  it("reports imap_connection_refused for a Dovecot that was stopped", async () => {
    const dead = await startDovecot();
    const port = dead.imapPort;
    await dead.stop();
    const mh = openMailHome(stackYaml({ mode: "live-pilot", imapPort: port, smtpPort: sink.port }));
    try {
      const r = await runChat(mh.services, "communications.stack.status");
      expect(r.reason_code).toBe("imap_connection_refused");
    } finally {
      mh.close();
    }
  });

  it("reports imap_timeout / smtp_timeout within the bound when a server accepts but never answers", async () => {
    const silent = await startSilentServer();
    const mh = openMailHome(stackYaml({ mode: "live-pilot", imapPort: silent.port, smtpPort: silent.port }));
    try {
      const t0 = performance.now();
      const r = await runChat(mh.services, "communications.stack.status", [], {}, createMailCapabilities({ timeoutMs: 400 }));
      const elapsed = performance.now() - t0;
      expect(r.reason_code).toBe("imap_timeout");
      expect(checksOf(r.data).slice(2)).toEqual([
        { name: "imap_login", ok: false, reason_code: "imap_timeout" },
        { name: "smtp_probe", ok: false, reason_code: "smtp_timeout" },
      ]);
      // Both probes run in parallel, each bounded by the timeout (SMTP: greeting timeout, hard cap 2×).
      expect(elapsed).toBeLessThan(2500);
    } finally {
      mh.close();
      await silent.close();
    }
  });
});

describe("stack status (simulation)", () => {
  it("checks the contract alone: no network; the IMAP login and SMTP sender must be declared mailboxes", async () => {
    // Ports nothing listens on: a network attempt would fail the check, so passing proves there was none.
    const mh = openMailHome(
      stackYaml({
        mode: "simulation",
        imapPort: 1,
        smtpPort: 1,
        catalog: [
          {
            id: "m1",
            mailbox: "ops",
            from: "a@example.test",
            to: "ops@example.test",
            subject: "s",
            date: "2025-01-01T00:00:00Z",
            snippet: "",
          },
        ],
      }),
      {},
    );
    try {
      const ok = await runChat(mh.services, "communications.stack.status");
      expect(ok.reason_code).toBe("stack_ok");
      expect(checksOf(ok.data)).toEqual([
        { name: "contract", ok: true, reason_code: null },
        { name: "contract_parity", ok: true, reason_code: null },
      ]);
      mh.writeStack(stackYaml({ mode: "simulation", mailboxes: [{ id: "alerts", role: "alerts", address: "alerts@example.test" }] }));
      const bad = await runChat(mh.services, "communications.stack.status");
      expect(bad.status).toBe("failed");
      expect(bad.reason_code).toBe("stack_imap_user_undeclared");
      // A catalog message in an undeclared mailbox is refused by the contract itself, with its line.
      mh.writeStack(
        stackYaml({
          mode: "simulation",
          catalog: [
            {
              id: "m1",
              mailbox: "elsewhere",
              from: "a@example.test",
              to: "b@example.test",
              subject: "s",
              date: "2025-01-01T00:00:00Z",
              snippet: "",
            },
          ],
        }),
      );
      const invalid = await runChat(mh.services, "communications.stack.status");
      expect(invalid.reason_code).toBe("stack_contract_invalid");
      expect(invalid.text).toContain('catalog.0.mailbox: unknown mailbox "elsewhere"');
    } finally {
      mh.close();
    }
  });

  it("fails with stack_contract_invalid when stack.yaml is missing", async () => {
    const mh = openMailHome(stackYaml({ mode: "simulation" }), {});
    try {
      const fs = await import("node:fs");
      fs.rmSync(`${mh.policiesDir}/communications/stack.yaml`);
      const r = await runChat(mh.services, "communications.stack.status");
      expect(r.status).toBe("failed");
      expect(r.reason_code).toBe("stack_contract_invalid");
      expect(r.text).toContain("cannot read the mail stack contract: ENOENT");
    } finally {
      mh.close();
    }
  });
});
