/** @module SMTP failure reason codes and their error, apart from the nodemailer adapter so callers need not load it. */
import { TauError } from "../../contracts/errors.ts";

const SMTP_CODES = ["smtp_auth_failed", "smtp_timeout", "smtp_connection_refused", "smtp_rejected", "smtp_protocol_error"] as const;
export type SmtpCode = (typeof SMTP_CODES)[number];

/** A failed SMTP operation with its reason code and, when the server answered, its response code. */
export class SmtpError extends TauError {
  override readonly reason: SmtpCode;
  readonly responseCode: number | null;
  constructor(reason: SmtpCode, message: string, options: { cause?: unknown; responseCode?: number | null } = {}) {
    super(reason.toUpperCase(), message, { reason, cause: options.cause, details: { response_code: options.responseCode ?? null } });
    this.name = `SmtpError[${reason}]`;
    this.reason = reason;
    this.responseCode = options.responseCode ?? null;
  }
}
