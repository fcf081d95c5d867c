/**
 * @module The SMTP adapter: the only importer of nodemailer. A probe (connect + EHLO + STARTTLS + AUTH via
 * `verify()`) and one submission, both bounded, failures mapped to reason codes. The password goes to nodemailer
 * only; its logger is off.
 * @see https://nodemailer.com/smtp/ (nodemailer 10.6.0)
 */
import nodemailer from "nodemailer";
import type { TlsMode } from "./stack.ts";

export { SmtpError, type SmtpCode } from "./smtp-error.ts";
import { SmtpError, type SmtpCode } from "./smtp-error.ts";

export interface SmtpClientConfig {
  host: string;
  port: number;
  tls: TlsMode;
  /** AUTH user and the envelope sender (submission servers require them to match). */
  user: string;
  password: string;
  caPem?: string;
  /** Bound on connect, greeting and every later reply. */
  timeoutMs: number;
}

export interface SmtpSendReceipt {
  message_id: string;
  accepted: string[];
  rejected: string[];
  response: string;
}

interface NodemailerErrorLike {
  code?: string;
  /** nodemailer reports socket errors as `ESOCKET` and keeps the system code here (e.g. ECONNREFUSED). */
  originalCode?: string;
  responseCode?: number;
  response?: string;
  message?: string;
}

/** Map a nodemailer error to a reason code. */
function toSmtpCode(err: unknown): SmtpCode {
  if (err instanceof SmtpError) return err.reason;
  const e = (err ?? {}) as NodemailerErrorLike;
  switch (e.code === "ESOCKET" || e.code === "ECONNECTION" ? (e.originalCode ?? e.code) : e.code) {
    case "EAUTH":
    case "ENOAUTH":
      return "smtp_auth_failed";
    case "ETIMEDOUT":
    case "ETIMEOUT":
      return "smtp_timeout";
    case "ECONNREFUSED":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "ENOTFOUND":
    case "EDNS":
      return "smtp_connection_refused";
    case "EENVELOPE":
    case "EMESSAGE":
      return "smtp_rejected";
    default:
      return "smtp_protocol_error";
  }
}

function wrap(err: unknown, operation: string): SmtpError {
  if (err instanceof SmtpError) return err;
  const e = (err ?? {}) as NodemailerErrorLike;
  const reason = toSmtpCode(err);
  return new SmtpError(reason, `SMTP ${operation} failed (${reason}): ${e.response ?? e.message ?? String(err)}`, {
    cause: err,
    responseCode: e.responseCode ?? null,
  });
}

function transportFor(cfg: SmtpClientConfig) {
  return nodemailer.createTransport({
    host: cfg.host,
    port: cfg.port,
    secure: cfg.tls === "implicit",
    requireTLS: cfg.tls === "starttls",
    ignoreTLS: cfg.tls === "none",
    ...(cfg.caPem ? { tls: { ca: cfg.caPem } } : {}),
    auth: { user: cfg.user, pass: cfg.password },
    connectionTimeout: cfg.timeoutMs,
    greetingTimeout: cfg.timeoutMs,
    socketTimeout: cfg.timeoutMs,
    logger: false,
  });
}

/** Race against a hard deadline (nodemailer's own timeouts should fire first; this bounds anything they miss). */
async function bounded<T>(p: Promise<T>, ms: number, operation: string, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          onTimeout();
          reject(new SmtpError("smtp_timeout", `SMTP ${operation}: no response within ${ms} ms`));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Connect, EHLO, STARTTLS when configured, AUTH, QUIT. Resolves on success; rejects with SmtpError. */
export async function probeSmtp(cfg: SmtpClientConfig): Promise<void> {
  const transport = transportFor(cfg);
  try {
    await bounded(transport.verify(), cfg.timeoutMs * 2, "probe", () => transport.close());
  } catch (err) {
    throw wrap(err, "probe");
  } finally {
    transport.close();
  }
}

/** Submit one plain-text message from the configured user. */
export async function sendMail(
  cfg: SmtpClientConfig,
  msg: { to: string; subject: string; text: string; headers?: Record<string, string> },
): Promise<SmtpSendReceipt> {
  const transport = transportFor(cfg);
  try {
    const info = await bounded(
      transport.sendMail({
        from: cfg.user,
        to: msg.to,
        subject: msg.subject,
        text: msg.text,
        ...(msg.headers ? { headers: msg.headers } : {}),
      }),
      cfg.timeoutMs * 3,
      "send",
      () => transport.close(),
    );
    return {
      message_id: String(info.messageId ?? "").replace(/^<|>$/g, ""),
      accepted: (info.accepted ?? []).map(String),
      rejected: (info.rejected ?? []).map(String),
      response: String(info.response ?? ""),
    };
  } catch (err) {
    throw wrap(err, "send");
  } finally {
    transport.close();
  }
}
