/**
 * @module The mail port: what the email connector and the mail capabilities need from an IMAP server, as plain
 * data. `src/capabilities/mail/imap-client.ts` implements it with imapflow + mailparser; composition passes it in,
 * so `connectors/email` never imports an SDK from src/. Shared by core and connectors, so it is a contract.
 */
import { TauError } from "./errors.ts";

/** Why an IMAP operation failed (stable reason codes; matched by scripts and `stack status`). */
export const MAIL_PORT_CODES = [
  "imap_auth_failed",
  "imap_timeout",
  "imap_connection_refused",
  /** The connection dropped after it was established (server restart, network reset). */
  "imap_connection_lost",
  "imap_mailbox_missing",
  "imap_protocol_error",
  /** No password configured (`TAU_IMAP_PASSWORD` or the `imap-password` integration secret). */
  "missing_imap_password",
] as const;
export type MailPortCode = (typeof MAIL_PORT_CODES)[number];

/** A failed IMAP operation: `reason` is the lowercase reason code, `code` its SCREAMING form (STYLE.md §5). */
export class MailPortError extends TauError {
  override readonly reason: MailPortCode;
  readonly operation: string;
  constructor(
    reason: MailPortCode,
    operation: string,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(reason.toUpperCase(), message, { ...options, reason });
    this.name = `MailPortError[${reason}]`;
    this.reason = reason;
    this.operation = operation;
  }
}

/** One address from a header, as the sender wrote it. */
export interface MailAddress {
  address: string;
  name: string | null;
}

/** One attachment, described but never carried (content stays on the server). */
export interface MailAttachment {
  filename: string | null;
  contentType: string | null;
  size: number | null;
  /** Content-ID without angle brackets, when the part has one. */
  contentId: string | null;
}

/** A new message as fetched and parsed by the port: the input of `connectors/email/normalize.ts`. */
export interface FetchedMail {
  uid: number;
  messageId: string | null;
  inReplyTo: string | null;
  from: MailAddress | null;
  to: MailAddress[];
  subject: string;
  /** `Date:` header, epoch ms; null when absent or unparsable. */
  dateMs: number | null;
  /** IMAP INTERNALDATE (arrival at the server), epoch ms; null when unknown. */
  internalDateMs: number | null;
  /** Plain-text body (mailparser derives it from HTML when there is no text part). */
  text: string;
  attachments: MailAttachment[];
  /** `Auto-Submitted:` other than `no` (RFC 3834): auto-replies and notifications, never answered. */
  autoSubmitted: boolean;
  /**
   * The headers that mark automated mail beyond Auto-Submitted, lower-cased names → raw values (only those present):
   * `precedence`, `x-precedence`, `x-autoreply`, `x-autorespond`, `x-autoresponder`, `x-auto-response-suppress`,
   * `x-ms-exchange-inbox-rules-loop`, `x-ms-exchange-generated-message-source`, `x-apple-action`, `x-loop`,
   * `x-tau-outbox-id` (tau's own replies),
   * `list-id`, `list-unsubscribe`, `content-type` (with `report-type`), `return-path` (`""` for `<>`),
   * `auto-submitted`. `connectors/email` decides from them (PROVIDERS.md §10.4).
   */
  autoHeaders?: Record<string, string>;
  /** The source was larger than the fetch limit and was cut; body and attachments may be incomplete. */
  sourceTruncated: boolean;
  /** mailparser could not parse the source: only the UID and dates are known (the message is still ingested). */
  parseFailed: boolean;
}

/** A mailbox's identity and size right now. */
export interface MailboxState {
  path: string;
  /** UIDVALIDITY as a decimal string (it is a 32-bit unsigned number; imapflow gives a bigint). */
  uidValidity: string;
  uidNext: number;
  exists: number;
}

/** Mailboxes from LIST, with the special-use role the server reports (e.g. `\Sent`). */
export interface MailboxInfo {
  path: string;
  specialUse: string | null;
  messages: number | null;
}

export interface MailSearchQuery {
  field: "subject" | "from" | "text";
  /** Substring to match (IMAP SEARCH semantics: case-insensitive); `*` or empty matches everything. */
  query: string;
}

/** One search hit, newest first (highest UID first). */
export interface MailSearchHit {
  uid: number;
  subject: string;
  from: string | null;
  /** `Date:` header (or INTERNALDATE) as ISO-8601, null when unknown. */
  date: string | null;
  /** The first ~200 characters of the plain-text body, whitespace collapsed. */
  snippet: string;
}

/** New messages after a UID: `messages` ascending by UID; `more` when the batch limit cut the list. */
export interface FetchBatch {
  uidValidity: string;
  messages: FetchedMail[];
  more: boolean;
}

/** One logged-in IMAP connection. Every method rejects with a {@link MailPortError}. */
export interface MailSession {
  listMailboxes(): Promise<MailboxInfo[]>;
  /** Select `mailbox` (keeping it selected: with IDLE on, the server then pushes EXISTS) and sync its state. */
  open(mailbox: string): Promise<MailboxState>;
  /** Messages with UID > `afterUid` in `mailbox`, at most `limit`, parsed. Syncs the mailbox first (NOOP). */
  fetchSince(mailbox: string, afterUid: number, limit: number): Promise<FetchBatch>;
  search(mailbox: string, query: MailSearchQuery, top: number): Promise<{ total: number; hits: MailSearchHit[] }>;
  /** Called when the server reports new messages in the selected mailbox (IDLE EXISTS). Returns an unsubscribe. */
  onExists(listener: (mailbox: string) => void): () => void;
  /** Called once when the connection ends for any reason other than `close()`. */
  onClose(listener: (err: MailPortError) => void): () => void;
  /** Log out (bounded), then drop the socket. Never rejects. */
  close(): Promise<void>;
}

/** Opens sessions. `idle`: keep the selected mailbox in IMAP IDLE between commands (the connector's watch mode). */
export interface MailPort {
  connect(opts?: { idle?: boolean }): Promise<MailSession>;
}
