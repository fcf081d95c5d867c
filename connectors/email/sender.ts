/**
 * @module Provider-mode email replies: one SMTP submission per chunk, through a submit port the composition
 * builds from `policies/communications/stack.yaml` (nodemailer lives in src/capabilities/mail/smtp-client.ts).
 * Replies thread under the triggering message (`In-Reply-To`/`References`) and say they are automatic
 * (`Auto-Submitted: auto-replied`, RFC 3834) so well-behaved mail systems never answer them back.
 * SMTP has no idempotency key: a submission whose fate is unknown (a timeout, a session cut short) is ambiguous,
 * never re-sent; an SMTP reply code decides whatever else the failure says.
 */
import type { ProviderSender, SendFailure, SendOutcome } from "../../src/contracts/delivery.ts";
import type { ChunkJob } from "../../src/contracts/outbound.ts";
import { emailSubmissionFor, type EmailSubmission } from "./request.ts";

export type { EmailSubmission } from "./request.ts";

/** Submit one message; resolves with the Message-ID the server accepted, throws an SMTP failure otherwise. */
type SmtpSubmit = (msg: EmailSubmission) => Promise<{ message_id: string }>;

/** Why the email sender cannot send at all (stack in simulation, no SMTP password, bad contract): a value. */
type SubmitSetup = { ok: true; submit: SmtpSubmit } | { ok: false; code: SendFailure["code"]; detail: string };

interface EmailSenderOptions {
  /** Resolved at each send, so a fixed contract or a new secret takes effect without a restart. */
  setup(): SubmitSetup;
  /** Subject of replies (the original subject is not kept with the outbox row). */
  subject?: string;
}

/**
 * An SMTP failure (the adapter's `reason` code and server response code) as a delivery outcome. A reply code decides
 * whatever the reason: 4xx is "try again later" (the server did not take the message), 5xx is final. Without one,
 * only a connection that never opened is safe to retry; a timeout or a session cut short may have come after the
 * server took the message (after the final "."), so it is ambiguous and never submitted twice.
 */
export function classifySmtpFailure(err: unknown): SendFailure {
  const e = err as { reason?: unknown; responseCode?: unknown; message?: unknown };
  const reason = typeof e?.reason === "string" ? e.reason : "smtp_protocol_error";
  const status = typeof e?.responseCode === "number" ? e.responseCode : null;
  const detail = `${reason}${status ? ` ${status}` : ""}: ${String(e?.message ?? err)
    .replace(/\s+/g, " ")
    .slice(0, 200)}`;
  const fail = (code: SendFailure["code"], retryable: boolean, ambiguous = false): SendFailure => ({
    ok: false,
    code,
    retryable,
    ambiguous,
    retry_after_ms: null,
    status,
    detail,
  });
  if (status !== null && status >= 400 && status < 500) return fail("delivery_provider_unavailable", true);
  if (status !== null && status >= 500) return fail("delivery_request_rejected", false);
  switch (reason) {
    case "smtp_connection_refused":
      return fail("delivery_transport_error", true);
    case "smtp_auth_failed":
    case "smtp_rejected":
      return fail("delivery_request_rejected", false);
    default:
      // smtp_timeout, smtp_protocol_error (a reset, a closed session): the server may have taken the DATA.
      return fail("delivery_ambiguous", false, true);
  }
}

export function createEmailSender(o: EmailSenderOptions): ProviderSender {
  return {
    transport: "email",
    idempotent: false,
    async send(job: ChunkJob): Promise<SendOutcome> {
      const s = o.setup();
      if (!s.ok)
        return { ok: false, code: s.code, retryable: false, ambiguous: false, retry_after_ms: null, status: null, detail: s.detail };
      try {
        const r = await s.submit(emailSubmissionFor(job, o.subject));
        return { ok: true, provider_message_id: r.message_id };
      } catch (err) {
        return classifySmtpFailure(err);
      }
    },
  };
}
