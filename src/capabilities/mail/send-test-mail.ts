/**
 * @module `communications.mail.send.test` (`/tau mail send test [--to A] [--subject S] [--body B]`, approval
 * `confirm`): a pilot test message whose subject carries a unique token (find it with `mail search <token>`).
 * Live-pilot submits it over SMTP; simulation sends nothing. Both write the evidence artifact
 * `state/artifacts/mail-send-test-<ts>.json` (0600), also when the send fails.
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { defineCapability, failed, reported, type Capability } from "../capability.ts";
import { ensurePrivateDir } from "../../store/index.ts";
import { loadStackFor, reasonOf, smtpConfigOf, type MailRuntime } from "./mail-context.ts";
import type { SmtpSendReceipt } from "./smtp-client.ts";

const SendTestArgs = z
  .object({
    to: z.email().optional(),
    subject: z.string().min(1).max(200).optional(),
    body: z.string().max(10_000).optional(),
  })
  .strict();
type SendTestArgs = z.infer<typeof SendTestArgs>;

/** The artifact's file name for a time: `mail-send-test-20260221T101500123Z.json`. */
export function artifactName(nowMs: number): string {
  return `mail-send-test-${new Date(nowMs).toISOString().replace(/[-:.]/g, "")}.json`;
}

function writeArtifact(stateDir: string, nowMs: number, record: Record<string, unknown>): string {
  const dir = path.join(stateDir, "artifacts");
  ensurePrivateDir(dir);
  const base = artifactName(nowMs).replace(/\.json$/, "");
  // Two sends in the same millisecond get -2, -3, … (wx refuses to overwrite evidence).
  for (let n = 1; ; n++) {
    const file = path.join(dir, n === 1 ? `${base}.json` : `${base}-${n}.json`);
    try {
      fs.writeFileSync(file, JSON.stringify(record, null, 2) + "\n", { mode: 0o600, flag: "wx" });
      return file;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}

export function createSendTestMailCapability(rt: MailRuntime): Capability<SendTestArgs> {
  return defineCapability({
    id: "communications.mail.send.test",
    alias: ["mail", "send", "test"],
    summary: "send a pilot test message (live: SMTP submission; simulation: artifact only)",
    args: SendTestArgs,
    role: "operator",
    sideEffect: "send",
    approval: "confirm",
    run: async (args, ctx) => {
      const services = ctx.services;
      const loaded = loadStackFor(services);
      if (!loaded.ok) return loaded.result;
      const stack = loaded.stack;
      const token = `tau-${Buffer.from(services.randomBytes(5)).toString("hex")}`;
      const to = args.to ?? stack.imap.user;
      const subject = args.subject ? `${args.subject} [${token}]` : `[tau] send-test ${token}`;
      const text = args.body ?? `tau pilot send test ${token} at ${new Date(ctx.now).toISOString()}`;
      const base = {
        v: 1,
        kind: "mail_send_test",
        mode: stack.mode,
        at: new Date(ctx.now).toISOString(),
        principal: ctx.principal,
        from: stack.smtp.user,
        to,
        subject,
        token,
      };

      if (stack.mode === "simulation") {
        const file = writeArtifact(services.stateDir, ctx.now, { ...base, status: "simulated", reason_code: "mail_send_test_simulated" });
        return reported("mail_send_test_simulated", `Simulation: test message to ${to} not sent; artifact ${file}.`, {
          mode: stack.mode,
          status: "simulated",
          to,
          subject,
          token,
          artifact: file,
        });
      }

      const cfg = smtpConfigOf(stack, services, rt.timeoutMs);
      let receipt: SmtpSendReceipt | null = null;
      let reason = "mail_send_test_sent";
      let error: string | null = null;
      if (!cfg) {
        reason = "missing_smtp_password";
        error = `no SMTP password: secret ${stack.smtp.password_secret} is not set`;
      } else {
        try {
          // Auto-Submitted keeps tau from answering its own test mail when it lands in a watched inbox (RFC 3834).
          receipt = await rt.adapters.sendMail(cfg, { to, subject, text, headers: { "Auto-Submitted": "auto-generated" } });
        } catch (err) {
          reason = reasonOf(err);
          error = (err as Error).message;
        }
      }
      const status = receipt ? "sent" : "failed";
      const file = writeArtifact(services.stateDir, ctx.now, { ...base, status, reason_code: reason, receipt, error });
      const data = { mode: stack.mode, status, to, subject, token, receipt, artifact: file, ...(error ? { error } : {}) };
      if (!receipt) return failed(reason, `Test message to ${to} failed: ${reason}${error ? ` (${error})` : ""}; artifact ${file}.`, data);
      return reported(
        reason,
        `Sent test message to ${to} (${receipt.message_id}); find it with \`mail search ${token}\`. Artifact ${file}.`,
        data,
      );
    },
  });
}
