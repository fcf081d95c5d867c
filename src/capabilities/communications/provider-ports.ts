/**
 * @module The ports the send capabilities use: an email sender and an SMS sender that return outcomes with
 * reason codes instead of throwing, plus a credential probe. The Resend and Twilio adapters implement them.
 */

/** Provider failure reason codes (stable; PRODUCT.md §9 and the runbook). */
const PROVIDER_CODES = [
  "provider_rate_limited",
  "provider_auth_failed",
  "provider_validation_failed",
  "provider_unavailable",
  "provider_timeout",
  "provider_recipient_unsubscribed",
  "provider_credentials_missing",
] as const;
export type ProviderCode = (typeof PROVIDER_CODES)[number];

/** What one send attempt did. `timeout` is ambiguous: the request may have arrived. */
export type SendOutcome =
  | { ok: true; status: "sent"; reason_code: "delivery_sent"; provider_id: string; latency_ms: number; segments: number | null }
  | {
      ok: false;
      status: "failed" | "timeout";
      reason_code: ProviderCode;
      /** HTTP status when there was a response. */
      http_status: number | null;
      /** The provider's own error code or name (`rate_limit_exceeded`, `21610`). */
      provider_code: string | null;
      retry_after_ms: number | null;
      latency_ms: number;
      /** One line for operators, with no credentials in it. */
      detail: string;
    };

/** A credential probe: `probe_ok` when the provider accepted the credentials. */
export interface ProbeOutcome {
  ok: boolean;
  reason_code: "probe_ok" | ProviderCode;
  http_status: number | null;
  latency_ms: number;
  detail: string;
}

export interface EmailMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  replyTo: string | null;
  /** Sent as `Idempotency-Key`; the provider answers a repeat with the original message. */
  idempotencyKey: string;
}

export interface SmsMessage {
  from: string | null;
  messagingServiceSid: string | null;
  to: string;
  body: string;
  statusCallback: string | null;
}

export interface EmailSender {
  readonly provider: "resend";
  send(msg: EmailMessage): Promise<SendOutcome>;
  probe(): Promise<ProbeOutcome>;
}

export interface SmsSender {
  readonly provider: "twilio";
  send(msg: SmsMessage): Promise<SendOutcome>;
  probe(): Promise<ProbeOutcome>;
}

/** Replace every occurrence of each secret with `<redacted>` (SDK messages sometimes echo request data). */
export function scrub(text: string, secrets: readonly (string | null | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join("<redacted>");
  return out.replace(/\s+/g, " ").slice(0, 300);
}
