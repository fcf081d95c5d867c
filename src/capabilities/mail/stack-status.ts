/**
 * @module `communications.stack.status` (`/tau stack status`): contract and endpoint parity. Every mode checks
 * the contract: the IMAP login and the SMTP sender are declared, active mailboxes. Live-pilot also logs in to
 * IMAP, checks that the folder of every declared mailbox on that account exists, and probes SMTP (EHLO, STARTTLS,
 * AUTH). Each network check is bounded and fails with a reason code when the server does not answer in time.
 */
import { z } from "zod";
import { defineCapability, failed, reported, type Capability, type CapabilityContext, type CapabilityResult } from "../capability.ts";
import { imapConfigOf, loadStackFor, reasonOf, smtpConfigOf, withImapSession, type MailRuntime } from "./mail-context.ts";
import { imapMailboxes, type MailStackConfig } from "./stack.ts";

/** One check's outcome; `reason_code` is null when it passed. */
interface StackCheck {
  name: "contract" | "contract_parity" | "imap_login" | "mailbox_parity" | "smtp_probe";
  ok: boolean;
  reason_code: string | null;
  detail: string;
  ms: number | null;
}

function check(name: StackCheck["name"], ok: boolean, reason: string | null, detail: string, ms: number | null = null): StackCheck {
  return { name, ok, reason_code: ok ? null : reason, detail, ms };
}

/** The logins the stack uses must be declared, active mailboxes (else search/ingest/send act on an unlisted account). */
function contractParity(stack: MailStackConfig): StackCheck {
  const active = new Set(stack.mailboxes.filter((m) => m.active).map((m) => m.address.toLowerCase()));
  if (!active.has(stack.imap.user.toLowerCase()))
    return check("contract_parity", false, "stack_imap_user_undeclared", `imap.user ${stack.imap.user} is not an active mailbox`);
  if (!active.has(stack.smtp.user.toLowerCase()))
    return check("contract_parity", false, "stack_smtp_user_undeclared", `smtp.user ${stack.smtp.user} is not an active mailbox`);
  return check("contract_parity", true, null, `${stack.mailboxes.length} mailboxes; IMAP login and SMTP sender declared`);
}

async function imapChecks(
  stack: MailStackConfig,
  rt: MailRuntime,
  ctx: CapabilityContext,
): Promise<{ checks: StackCheck[]; exists: Map<string, boolean> | null }> {
  const t0 = performance.now();
  let loginMs = 0;
  try {
    const listed = await withImapSession(rt.adapters, imapConfigOf(stack, ctx.services, rt.timeoutMs), async (s) => {
      loginMs = Math.round(performance.now() - t0);
      return s.listMailboxes();
    });
    const folders = new Set(listed.map((m) => m.path));
    const reachable = imapMailboxes(stack);
    const exists = new Map(reachable.map((m) => [m.id, folders.has(m.folder)]));
    const missing = reachable.filter((m) => !folders.has(m.folder)).map((m) => `${m.id} (${m.folder})`);
    return {
      exists,
      checks: [
        check("imap_login", true, null, `${stack.imap.user} @ ${stack.imap.host}:${stack.imap.port}`, loginMs),
        missing.length === 0
          ? check("mailbox_parity", true, null, `${reachable.length} declared mailbox folder(s) of ${stack.imap.user} exist`)
          : check("mailbox_parity", false, "stack_mailbox_missing", `declared but not on the server: ${missing.join(", ")}`),
      ],
    };
  } catch (err) {
    return {
      exists: null,
      checks: [check("imap_login", false, reasonOf(err), (err as Error).message, Math.round(performance.now() - t0))],
    };
  }
}

async function smtpCheck(stack: MailStackConfig, rt: MailRuntime, ctx: CapabilityContext): Promise<StackCheck> {
  const cfg = smtpConfigOf(stack, ctx.services, rt.timeoutMs);
  if (!cfg) return check("smtp_probe", false, "missing_smtp_password", `no SMTP password: secret ${stack.smtp.password_secret} is not set`);
  const t0 = performance.now();
  try {
    await rt.adapters.probeSmtp(cfg);
    return check(
      "smtp_probe",
      true,
      null,
      `EHLO + AUTH ${stack.smtp.user} @ ${stack.smtp.host}:${stack.smtp.port}`,
      Math.round(performance.now() - t0),
    );
  } catch (err) {
    return check("smtp_probe", false, reasonOf(err), (err as Error).message, Math.round(performance.now() - t0));
  }
}

function result(stack: MailStackConfig, checks: StackCheck[], exists: Map<string, boolean> | null): CapabilityResult {
  const firstFail = checks.find((c) => !c.ok);
  const data = {
    mode: stack.mode,
    ok: !firstFail,
    checks,
    // `exists` is null where it was not checked: simulation, or a mailbox of another account than the IMAP login.
    mailboxes: stack.mailboxes.map((m) => ({
      id: m.id,
      address: m.address,
      role: m.role,
      folder: m.folder,
      active: m.active,
      exists: exists?.get(m.id) ?? null,
    })),
  };
  const lines = [
    `Mail stack (${stack.mode}): ${firstFail ? `FAIL (${firstFail.reason_code})` : "ok"}`,
    ...checks.map((c) => `- ${c.name}: ${c.ok ? "ok" : `FAIL ${c.reason_code}`}${c.ms !== null ? ` (${c.ms} ms)` : ""}: ${c.detail}`),
  ];
  return firstFail
    ? failed(firstFail.reason_code ?? "stack_check_failed", lines.join("\n"), data)
    : reported("stack_ok", lines.join("\n"), data);
}

export function createStackStatusCapability(rt: MailRuntime): Capability<Record<string, never>> {
  return defineCapability({
    id: "communications.stack.status",
    alias: ["stack", "status"],
    summary: "mail stack contract and endpoint parity (live-pilot: IMAP login, mailboxes, SMTP EHLO/AUTH)",
    args: z.object({}).strict() as z.ZodType<Record<string, never>>,
    role: "operator",
    sideEffect: "read",
    approval: "none",
    run: async (_args, ctx) => {
      const loaded = loadStackFor(ctx.services);
      if (!loaded.ok) return loaded.result;
      const stack = loaded.stack;
      const checks: StackCheck[] = [check("contract", true, null, stack.file), contractParity(stack)];
      if (stack.mode === "simulation") return result(stack, checks, null);
      const [imap, smtp] = await Promise.all([imapChecks(stack, rt, ctx), smtpCheck(stack, rt, ctx)]);
      return result(stack, [...checks, ...imap.checks, smtp], imap.exists);
    },
  });
}
