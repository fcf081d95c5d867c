/**
 * @module What every mail capability needs: the stack contract (as a failed result when it is missing or
 * invalid), IMAP/SMTP client settings with passwords read from the contract's secrets, and the adapters,
 * injected so composition picks them (STYLE.md §6.6).
 */
import path from "node:path";
import { ConfigError, describeError } from "../../contracts/errors.ts";
import type { Connector, ConnectorDeps } from "../../contracts/connector.ts";
import { MailPortError, type MailPort, type MailSession } from "../../contracts/mail-port.ts";
import { failed, type CapabilityResult } from "../capability.ts";
import type { Services } from "../services.ts";
import type { ImapClientConfig } from "./imap-client.ts";
import { IMAP_CLIENT_DEFAULTS } from "./imap-defaults.ts";
import type { SmtpClientConfig, SmtpSendReceipt } from "./smtp-client.ts";
import { SmtpError } from "./smtp-error.ts";
import { loadMailStack, type MailStackConfig } from "./stack.ts";

/** The adapters the mail capabilities call; the defaults are imapflow and nodemailer. */
export interface MailAdapters {
  connectImap(cfg: ImapClientConfig, opts?: { idle?: boolean }): Promise<MailSession>;
  probeSmtp(cfg: SmtpClientConfig): Promise<void>;
  sendMail(
    cfg: SmtpClientConfig,
    msg: { to: string; subject: string; text: string; headers?: Record<string, string> },
  ): Promise<SmtpSendReceipt>;
}

/** imapflow, mailparser and nodemailer load on first use, so a runner that never touches mail does not carry them. */
export const DEFAULT_MAIL_ADAPTERS: MailAdapters = {
  connectImap: async (cfg, opts) => (await import("./imap-client.ts")).connectImap(cfg, opts),
  probeSmtp: async (cfg) => (await import("./smtp-client.ts")).probeSmtp(cfg),
  sendMail: async (cfg, msg) => (await import("./smtp-client.ts")).sendMail(cfg, msg),
};

/** Adapters plus the bound on every connect/login (the contract has no timeout field yet). */
export interface MailRuntime {
  adapters: MailAdapters;
  /** No answer from IMAP or SMTP within this → `imap_timeout` / `smtp_timeout`. */
  timeoutMs: number;
}

/** Why the email connector could not be built (PRODUCT.md §8 style: `ready`, `missing_<secret>`). */
type EmailConnectorUnavailable = "email_disabled" | "stack_contract_invalid" | "missing_imap_password";

/** The email connector for one poll round, or why not; built by the composition (src/app/email-connector.ts). */
export type EmailConnectorBuild =
  | { connector: Connector & Required<Pick<Connector, "pollOnce">>; reason: "ready"; detail: string }
  | { connector: null; reason: EmailConnectorUnavailable; detail: string };

/** Builds the email connector over the given adapters (injected through `Services.emailConnector`). */
export type EmailConnectorFactory = (
  deps: ConnectorDeps,
  opts: { adapters: MailAdapters; timeoutMs: number; ignoreMode: boolean },
) => EmailConnectorBuild;

export const DEFAULT_MAIL_RUNTIME: MailRuntime = { adapters: DEFAULT_MAIL_ADAPTERS, timeoutMs: 10_000 };

/**
 * `Services` may carry the absolute policies folder (`app.loaded.policiesDir`); until it does, `policies_dir`
 * is resolved next to the state dir, as the communications capabilities do.
 */
type MailServices = Services & { policiesDir?: string };

export function policiesDirOf(services: Services): string {
  return (services as MailServices).policiesDir ?? path.resolve(path.dirname(services.stateDir), services.config.policies_dir);
}

/** The stack contract, or a failed result naming the file and the problem (`stack_contract_invalid`). */
export function loadStackFor(services: Services): { ok: true; stack: MailStackConfig } | { ok: false; result: CapabilityResult } {
  try {
    return { ok: true, stack: loadMailStack(policiesDirOf(services)) };
  } catch (err) {
    return {
      ok: false,
      result: failed("stack_contract_invalid", `Mail stack contract: ${describeError(err)}`, { error: describeError(err) }),
    };
  }
}

/** Where secrets come from: `Services` and `ConnectorDeps` both qualify. */
interface SecretSource {
  secret(id: string): string | null;
}

/** IMAP settings from the contract; the password is read from `imap.password_secret` at each login. */
export function imapConfigOf(
  stack: MailStackConfig,
  secrets: SecretSource,
  timeoutMs: number = DEFAULT_MAIL_RUNTIME.timeoutMs,
): ImapClientConfig {
  return {
    host: stack.imap.host,
    port: stack.imap.port,
    secure: stack.imap.tls === "implicit",
    starttls: stack.imap.tls === "starttls",
    user: stack.imap.user,
    password: () => secrets.secret(stack.imap.password_secret),
    ...IMAP_CLIENT_DEFAULTS,
    connectTimeoutMs: timeoutMs,
  };
}

/** SMTP settings from the contract, or null when the `smtp.password_secret` secret is absent. */
export function smtpConfigOf(
  stack: MailStackConfig,
  secrets: SecretSource,
  timeoutMs: number = DEFAULT_MAIL_RUNTIME.timeoutMs,
): SmtpClientConfig | null {
  const password = secrets.secret(stack.smtp.password_secret);
  if (!password) return null;
  return { host: stack.smtp.host, port: stack.smtp.port, tls: stack.smtp.tls, user: stack.smtp.user, password, timeoutMs };
}

/** A mail port over the given adapters (the email connector's view of IMAP). */
export function mailPortOf(adapters: MailAdapters, cfg: ImapClientConfig): MailPort {
  return { connect: (opts) => adapters.connectImap(cfg, opts) };
}

/** Run `fn` on a fresh (non-IDLE) IMAP session and always log out. */
export async function withImapSession<T>(adapters: MailAdapters, cfg: ImapClientConfig, fn: (s: MailSession) => Promise<T>): Promise<T> {
  const session = await adapters.connectImap(cfg, { idle: false });
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

/** The reason code of a mail failure: the adapter's own code, `stack_contract_invalid`, or `mail_unexpected_error`. */
export function reasonOf(err: unknown): string {
  if (err instanceof MailPortError || err instanceof SmtpError) return err.reason;
  if (err instanceof ConfigError) return "stack_contract_invalid";
  return "mail_unexpected_error";
}

/** A failed capability result for a thrown mail error. */
export function failedFrom(err: unknown, what: string): CapabilityResult {
  const reason = reasonOf(err);
  return failed(reason, `${what} failed: ${reason} (${describeError(err)})`, { reason_code: reason, error: describeError(err) });
}
