/**
 * @module The IMAP adapter: the only importer of imapflow and mailparser. Implements the mail port
 * (`connectors/shared/mail-port.ts`) with bounded connect/login and per-operation deadlines, and maps every
 * failure to a reason code. The password is handed to imapflow only; imapflow's own logger is off.
 * @see https://imapflow.com/module-imapflow-ImapFlow.html (imapflow 2.1.2, pinned: PROVIDERS.md registry pitfall)
 */
import { ImapFlow, type FetchMessageObject, type ImapFlowOptions, type MailboxObject, type MessageStructureObject } from "imapflow";
import { simpleParser, type AddressObject, type ParsedMail } from "mailparser";
import {
  MailPortError,
  type FetchBatch,
  type FetchedMail,
  type MailAddress,
  type MailboxInfo,
  type MailboxState,
  type MailPortCode,
  type MailSearchHit,
  type MailSession,
} from "../../contracts/mail-port.ts";

/** Where and how to log in. `password` comes from `services.secret("imap-password")`. */
export interface ImapClientConfig {
  host: string;
  port: number;
  /** Implicit TLS (IMAPS, usually 993). */
  secure: boolean;
  /** On a plain port: require STARTTLS (true) or stay in cleartext (false; loopback and tests only). */
  starttls: boolean;
  user: string;
  /** Read at every login (a rotated secret needs no restart); null → `missing_imap_password`. */
  password: () => string | null;
  /** PEM CA for a private or self-signed server certificate. */
  caPem?: string;
  /** Budget for TCP connect + greeting + (STARTTLS) + LOGIN; no answer within it → `imap_timeout`. */
  connectTimeoutMs: number;
  /** Deadline for one operation (search, fetch, list); the connection is dropped when it expires. */
  operationTimeoutMs: number;
  /** Inactivity before IMAP IDLE starts on a watching session (imapflow `autoIdleDelay`). */
  idleDelayMs: number;
  /** Sources larger than this are fetched partially (`BODY.PEEK[]<0.N>`) and flagged `sourceTruncated`. */
  maxSourceBytes: number;
}

export { IMAP_CLIENT_DEFAULTS } from "./imap-defaults.ts";
import { IMAP_CLIENT_DEFAULTS } from "./imap-defaults.ts";

/** Bytes fetched per search hit to build a snippet. */
const SNIPPET_SOURCE_BYTES = 8 * 1024;
const SNIPPET_CHARS = 200;

const TIMEOUT_CODES = new Set(["CONNECT_TIMEOUT", "GREETING_TIMEOUT", "UPGRADE_TIMEOUT", "ETIMEOUT", "ETIMEDOUT", "LockTimeout"]);
const REFUSED_CODES = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "EADDRNOTAVAIL"]);
const CLOSED_CODES = new Set([
  "NoConnection",
  "EConnectionClosed",
  "ClosedAfterConnectText",
  "ClosedAfterConnectTLS",
  "ECONNRESET",
  "EPIPE",
  "StateLogout",
]);

interface ImapErrorLike {
  code?: string;
  authenticationFailed?: boolean;
  serverResponseCode?: string;
  mailboxMissing?: boolean;
  responseText?: string;
  message?: string;
}

/** Map an imapflow / socket error to a reason code. `connected`: the session was up (a drop is then "lost"). */
function toMailPortCode(err: unknown, connected: boolean): MailPortCode {
  if (err instanceof MailPortError) return err.reason;
  const e = (err ?? {}) as ImapErrorLike;
  const code = e.code ?? "";
  if (e.authenticationFailed || e.serverResponseCode === "AUTHENTICATIONFAILED") return "imap_auth_failed";
  if (TIMEOUT_CODES.has(code)) return "imap_timeout";
  if (e.mailboxMissing || e.serverResponseCode === "NONEXISTENT") return "imap_mailbox_missing";
  if (REFUSED_CODES.has(code)) return "imap_connection_refused";
  if (CLOSED_CODES.has(code)) return connected ? "imap_connection_lost" : "imap_connection_refused";
  return "imap_protocol_error";
}

/** Wrap any failure once, with the operation; the message never contains the password (imapflow never echoes it). */
function wrap(err: unknown, operation: string, connected: boolean): MailPortError {
  if (err instanceof MailPortError) return err;
  const reason = toMailPortCode(err, connected);
  const e = (err ?? {}) as ImapErrorLike;
  const text = e.responseText ?? e.message ?? String(err);
  return new MailPortError(reason, operation, `IMAP ${operation} failed (${reason}): ${text}`, {
    cause: err,
    details: { imap_code: e.code ?? null },
  });
}

/** Race `p` against a deadline; on expiry run `onTimeout` (drop the connection) and reject with `imap_timeout`. */
function withDeadline<T>(p: Promise<T>, ms: number, operation: string, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new MailPortError("imap_timeout", operation, `IMAP ${operation}: no response within ${ms} ms`));
    }, ms);
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}

function firstAddress(a: AddressObject | AddressObject[] | undefined): MailAddress | null {
  const list = Array.isArray(a) ? a : a ? [a] : [];
  for (const group of list) {
    for (const v of group.value) if (v.address) return { address: v.address, name: v.name || null };
  }
  return null;
}

function allAddresses(a: AddressObject | AddressObject[] | undefined): MailAddress[] {
  const list = Array.isArray(a) ? a : a ? [a] : [];
  return list.flatMap((g) => g.value.filter((v) => v.address).map((v) => ({ address: v.address as string, name: v.name || null })));
}

function dateMs(d: Date | string | undefined | null): number | null {
  if (d === undefined || d === null) return null;
  const t = (d instanceof Date ? d : new Date(d)).getTime();
  return Number.isFinite(t) ? t : null;
}

function stripBrackets(id: string | undefined): string | null {
  if (!id) return null;
  const s = id.trim().replace(/^<|>$/g, "");
  return s === "" ? null : s;
}

/** Headers that mark automated mail, read as text (PROVIDERS.md §10.4); `list-*`, content-type, return-path below. */
const AUTO_HEADER_NAMES = [
  "auto-submitted",
  "precedence",
  "x-precedence",
  "x-autoreply",
  "x-autorespond",
  "x-autoresponder",
  "x-auto-response-suppress",
  "x-ms-exchange-inbox-rules-loop",
  "x-ms-exchange-generated-message-source",
  "x-apple-action",
  "x-loop",
  "x-tau-outbox-id",
] as const;

function headerText(v: unknown): string | null {
  if (typeof v === "string") return v;
  if (Array.isArray(v))
    return v
      .map(headerText)
      .filter((x) => x !== null)
      .join(", ");
  if (v && typeof v === "object" && typeof (v as { value?: unknown }).value === "string") return (v as { value: string }).value;
  return null;
}

/**
 * The automation headers present, as text: mailparser folds every `List-*` into `list` and parses content-type and
 * return-path into objects, so those are flattened here (`return-path` is `""` for the null sender `<>`).
 */
function automationHeaders(h: ParsedMail["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of AUTO_HEADER_NAMES) {
    const text = headerText(h.get(name));
    if (text !== null) out[name] = text.slice(0, 200);
  }
  const list = h.get("list") as { id?: { id?: string; name?: string }; unsubscribe?: unknown } | undefined;
  if (list && typeof list === "object") {
    if (list.id) out["list-id"] = (list.id.id ?? list.id.name ?? "present").slice(0, 200);
    if (list.unsubscribe) out["list-unsubscribe"] = "present";
  }
  const ct = h.get("content-type") as { value?: string; params?: Record<string, string> } | undefined;
  if (ct && typeof ct === "object" && typeof ct.value === "string") {
    const report = ct.params?.["report-type"];
    out["content-type"] = report ? `${ct.value}; report-type=${report}` : ct.value;
  }
  const rp = h.get("return-path") as AddressObject | undefined;
  if (rp && typeof rp === "object" && Array.isArray(rp.value)) out["return-path"] = rp.value[0]?.address ?? "";
  return out;
}

/** mailparser → the port's plain message. Attachment content is dropped here. */
function toFetchedMail(parsed: ParsedMail, m: FetchMessageObject, maxSourceBytes: number): FetchedMail {
  const auto = parsed.headers.get("auto-submitted");
  const autoValue = typeof auto === "string" ? auto.trim().toLowerCase() : "";
  return {
    uid: m.uid,
    messageId: stripBrackets(parsed.messageId),
    inReplyTo: stripBrackets(parsed.inReplyTo),
    from: firstAddress(parsed.from),
    to: allAddresses(parsed.to),
    subject: parsed.subject ?? "",
    dateMs: dateMs(parsed.date),
    internalDateMs: dateMs(m.internalDate),
    text: parsed.text ?? "",
    attachments: parsed.attachments.map((a) => ({
      filename: a.filename ?? null,
      contentType: a.contentType ?? null,
      size: Number.isFinite(a.size) ? a.size : null,
      contentId: stripBrackets(a.contentId),
    })),
    autoSubmitted: autoValue !== "" && autoValue !== "no",
    autoHeaders: automationHeaders(parsed.headers),
    sourceTruncated: (m.size ?? 0) > maxSourceBytes,
    parseFailed: false,
  };
}

/** What is known of a message mailparser rejected: it is still ingested (and flagged), never silently skipped. */
function unparsedMail(m: FetchMessageObject, maxSourceBytes: number): FetchedMail {
  return {
    uid: m.uid,
    messageId: null,
    inReplyTo: null,
    from: null,
    to: [],
    subject: "",
    dateMs: null,
    internalDateMs: dateMs(m.internalDate),
    text: "",
    attachments: [],
    autoSubmitted: false,
    sourceTruncated: (m.size ?? 0) > maxSourceBytes,
    parseFailed: true,
  };
}

function parseSource(source: Buffer): Promise<ParsedMail> {
  return simpleParser(source, { skipTextToHtml: true, skipImageLinks: true, skipTextLinks: true });
}

function snippetOf(text: string): string {
  return Array.from(text.replace(/\s+/g, " ").trim()).slice(0, SNIPPET_CHARS).join("");
}

/** One logged-in imapflow connection behind the MailSession interface. */
class ImapSession implements MailSession {
  private closing = false;
  private failure: MailPortError | null = null;
  private readonly closeListeners = new Set<(err: MailPortError) => void>();
  private readonly existsListeners = new Set<(mailbox: string) => void>();

  constructor(
    private readonly client: ImapFlow,
    private readonly cfg: ImapClientConfig,
  ) {
    client.on("exists", (data: { path: string }) => {
      for (const l of this.existsListeners) l(data.path);
    });
    client.on("close", () => {
      if (this.closing) return;
      this.closing = true;
      const bye = this.client.byeReason ? ` (BYE ${this.client.byeReason})` : "";
      const err =
        this.failure ?? new MailPortError("imap_connection_lost", "session", `IMAP connection closed by the server or the network${bye}`);
      for (const l of this.closeListeners) l(err);
    });
  }

  /** Run one operation under the deadline; a timeout drops the connection (its state is unknown). */
  private async op<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await withDeadline(fn(), this.cfg.operationTimeoutMs, operation, () => {
        this.failure = new MailPortError(
          "imap_timeout",
          operation,
          `IMAP ${operation}: no response within ${this.cfg.operationTimeoutMs} ms`,
        );
        this.client.close();
      });
    } catch (err) {
      throw wrap(err, operation, true);
    }
  }

  listMailboxes(): Promise<MailboxInfo[]> {
    return this.op("list", async () => {
      const rows = await this.client.list({ statusQuery: { messages: true } });
      return rows.map((r) => ({ path: r.path, specialUse: r.specialUse ?? null, messages: r.status?.messages ?? null }));
    });
  }

  open(mailbox: string): Promise<MailboxState> {
    return this.op("select", async () => {
      const mb = await this.client.mailboxOpen(mailbox);
      return stateOf(mb);
    });
  }

  fetchSince(mailbox: string, afterUid: number, limit: number): Promise<FetchBatch> {
    return this.op("fetch", async () => {
      const lock = await this.client.getMailboxLock(mailbox);
      try {
        // NOOP first: Dovecot only shows messages delivered since the last command after a sync.
        await this.client.noop();
        const uidValidity = stateOf(this.client.mailbox as MailboxObject).uidValidity;
        const found = await this.client.search({ uid: `${afterUid + 1}:*` }, { uid: true });
        // `n:*` always matches the highest UID, even when it is below n.
        const uids = (found || []).filter((u) => u > afterUid).sort((a, b) => a - b);
        const batch = uids.slice(0, limit);
        const messages: FetchedMail[] = [];
        if (batch.length > 0) {
          const query = { uid: true, size: true, internalDate: true, source: { maxLength: this.cfg.maxSourceBytes } };
          for await (const m of this.client.fetch(batch.join(","), query, { uid: true })) {
            const max = this.cfg.maxSourceBytes;
            const parsed = m.source ? await parseSource(m.source).catch(() => null) : null;
            messages.push(parsed ? toFetchedMail(parsed, m, max) : unparsedMail(m, max));
          }
        }
        messages.sort((a, b) => a.uid - b.uid);
        return { uidValidity, messages, more: uids.length > batch.length };
      } finally {
        lock.release();
      }
    });
  }

  search(
    mailbox: string,
    q: { field: "subject" | "from" | "text"; query: string },
    top: number,
  ): Promise<{ total: number; hits: MailSearchHit[] }> {
    return this.op("search", async () => {
      // EXAMINE: a search never changes flags (no \Recent consumed, no \Seen set).
      const lock = await this.client.getMailboxLock(mailbox, { readOnly: true });
      try {
        const needle = q.query.trim();
        const criteria = needle === "" || needle === "*" ? { all: true } : { [q.field]: needle };
        const found = await this.client.search(criteria, { uid: true });
        // Newest first = highest UID first (UIDs grow with arrival order in a mailbox).
        const uids = (found || []).sort((a, b) => b - a);
        const pick = uids.slice(0, Math.max(0, top));
        const hits: MailSearchHit[] = [];
        if (pick.length > 0) {
          const query = { uid: true, envelope: true, internalDate: true, source: { maxLength: SNIPPET_SOURCE_BYTES } };
          for await (const m of this.client.fetch(pick.join(","), query, { uid: true })) {
            const parsed = m.source ? await parseSource(m.source).catch(() => null) : null;
            const when = dateMs(m.envelope?.date) ?? dateMs(m.internalDate);
            const from = m.envelope?.from?.[0]?.address ?? null;
            hits.push({
              uid: m.uid,
              subject: m.envelope?.subject ?? parsed?.subject ?? "",
              from,
              date: when === null ? null : new Date(when).toISOString(),
              snippet: snippetOf(parsed?.text ?? ""),
            });
          }
        }
        hits.sort((a, b) => b.uid - a.uid);
        return { total: uids.length, hits };
      } finally {
        lock.release();
      }
    });
  }

  onExists(listener: (mailbox: string) => void): () => void {
    this.existsListeners.add(listener);
    return () => this.existsListeners.delete(listener);
  }

  onClose(listener: (err: MailPortError) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closing) {
      this.client.close();
      return;
    }
    this.closing = true;
    try {
      await withDeadline(this.client.logout(), 2000, "logout", () => this.client.close());
    } catch {
      // logout failures are irrelevant: the socket is dropped below either way
    }
    this.client.close();
  }
}

function stateOf(mb: MailboxObject): MailboxState {
  return { path: mb.path, uidValidity: String(mb.uidValidity), uidNext: mb.uidNext, exists: mb.exists };
}

/** The imapflow options for a config. */
function imapFlowOptions(cfg: ImapClientConfig, password: string, idle: boolean): ImapFlowOptions {
  return {
    host: cfg.host,
    port: cfg.port,
    secure: cfg.secure,
    ...(cfg.secure ? {} : { doSTARTTLS: cfg.starttls }),
    ...(cfg.caPem ? { tls: { ca: cfg.caPem } } : {}),
    auth: { user: cfg.user, pass: password },
    logger: false,
    connectionTimeout: cfg.connectTimeoutMs,
    greetingTimeout: cfg.connectTimeoutMs,
    disableAutoIdle: !idle,
    autoIdleDelay: cfg.idleDelayMs,
    // Re-issue IDLE every 5 min: some servers and NATs silently drop long-idle connections.
    maxIdleTime: 5 * 60_000,
  };
}

/** A logged-in imapflow client: connect + greeting + LOGIN within `connectTimeoutMs`, or a reason-coded MailPortError. */
async function loginClient(cfg: ImapClientConfig, idle: boolean): Promise<ImapFlow> {
  const password = cfg.password();
  if (password === null || password === "") {
    throw new MailPortError(
      "missing_imap_password",
      "login",
      "no IMAP password: the secret named by imap.password_secret (default imap-password, env TAU_IMAP_PASSWORD) is not set",
    );
  }
  const client = new ImapFlow(imapFlowOptions(cfg, password, idle));
  // imapflow emits 'error' on socket failures; unhandled, it would crash the process. Failures surface
  // through the awaited calls and the 'close' event instead.
  client.on("error", () => undefined);
  try {
    await withDeadline(client.connect(), cfg.connectTimeoutMs, "login", () => client.close());
  } catch (err) {
    client.close();
    throw wrap(err, "login", false);
  }
  return client;
}

/** Open one session: connect + greeting + LOGIN within `connectTimeoutMs`, or a reason-coded MailPortError. */
export async function connectImap(cfg: ImapClientConfig, opts: { idle?: boolean } = {}): Promise<MailSession> {
  return new ImapSession(await loginClient(cfg, opts.idle ?? false), cfg);
}

// ---------------------------------------------------------------------------------------------- attachment parts
// Media understanding fetches one attachment of a message it has already ingested, by UID, without the rest of the
// message: BODYSTRUCTURE says where the part is, `BODY.PEEK[<part>]` (in chunks, decoded by imapflow) brings it.

/** One attachment of a message as the server describes it (BODYSTRUCTURE), never its content. */
export interface MailPart {
  /** IMAP section (`2`, `1.2`, `3.1`): what `BODY[<part>]` fetches. */
  part: string;
  /** Lowercase `type/subtype`. */
  contentType: string;
  /** Content-ID without angle brackets, when the part has one. */
  contentId: string | null;
  filename: string | null;
  /** Content-Transfer-Encoding, lowercase (`base64`, `quoted-printable`, `7bit`, …); null when the server gave none. */
  encoding: string | null;
  /** Octets of the part as stored, still transfer-encoded; null when the server gave none. */
  encodedSize: number | null;
}

/** The types mailparser keeps in the body unless a disposition says otherwise (`textTypes`, keepDeliveryStatus off). */
const BODY_TYPES = new Set(["text/plain", "text/html", "message/delivery-status"]);
/** Encodings under which mailsplit parses an inline message/rfc822 as a nested message rather than a file. */
const NESTABLE_ENCODINGS = new Set(["", "7bit", "8bit", "binary"]);

/**
 * The parts mailparser 3.9.31 reports as `attachments`, in its order (depth-first document order), so the n-th entry
 * here is the n-th of `FetchedMail.attachments` (`part:<n>` refs in the email envelope). mailparser's rule
 * (`MailParser.createNode`): a leaf is an attachment unless it is text/plain, text/html or message/delivery-status
 * with no disposition or `inline`; a message/rfc822 that is `inline` and not base64/QP-encoded is parsed into
 * (mailsplit `messageNode`) — its own attachments count, it does not — any other message/rfc822 is one attachment.
 * Part numbers follow RFC 3501 §6.4.5: a multipart's children are `<n>.1…`; a non-multipart message body is `<n>.1`.
 * @see https://www.rfc-editor.org/rfc/rfc3501#section-6.4.5
 */
export function attachmentPartsOf(root: MessageStructureObject): MailPart[] {
  const out: MailPart[] = [];
  const leaf = (node: MessageStructureObject, part: string): void => {
    if (node.type.startsWith("multipart/")) {
      for (const [i, child] of (node.childNodes ?? []).entries()) leaf(child, part ? `${part}.${i + 1}` : String(i + 1));
      return;
    }
    const disposition = node.disposition?.trim() || null;
    const encoding = node.encoding?.trim() || null;
    const nested = node.childNodes?.[0];
    if (node.type === "message/rfc822" && disposition === "inline" && NESTABLE_ENCODINGS.has(encoding ?? "") && nested) {
      body(nested, part);
      return;
    }
    if (BODY_TYPES.has(node.type) && (disposition === null || disposition === "inline")) return;
    out.push({
      part,
      contentType: node.type,
      contentId: stripBrackets(node.id),
      filename: node.dispositionParameters?.filename ?? node.parameters?.name ?? null,
      encoding,
      encodedSize: typeof node.size === "number" && Number.isFinite(node.size) ? node.size : null,
    });
  };
  // A message's body: a multipart numbers its children under `base`; a single part is `<base>.1` (`1` at the top).
  const body = (node: MessageStructureObject, base: string): void =>
    leaf(node, node.type.startsWith("multipart/") ? base : base ? `${base}.1` : "1");
  body(root, "");
  return out;
}

/** A read-only IMAP connection that reads single attachment parts. Every method rejects with a {@link MailPortError}. */
export interface ImapPartReader {
  /** EXAMINE `mailbox` (read-only: no flag ever changes), or NOOP when it is already open; its UIDVALIDITY. */
  examine(mailbox: string): Promise<string>;
  /** The attachment parts of message `uid` in the examined mailbox ({@link attachmentPartsOf}); null when no such UID. */
  attachmentsOf(uid: number): Promise<MailPart[] | null>;
  /**
   * The decoded content of one part, streamed in chunks of `BODY.PEEK[<part>]<offset.len>`, at most `maxBytes`
   * (the fetching stops there); null when the part is not there. The caller consumes it before the next call.
   */
  download(uid: number, part: string, maxBytes: number): Promise<NodeJS.ReadableStream | null>;
  /** False once the connection has ended. */
  readonly usable: boolean;
  /** Log out (bounded), then drop the socket. Never rejects. */
  close(): Promise<void>;
}

/** Bytes asked for per partial FETCH of a part: a 1 MB image in two round trips, not twenty (imapflow's default is 64 KiB). */
const PART_CHUNK_BYTES = 1024 * 1024;

class ImapPartReaderImpl implements ImapPartReader {
  private ended = false;
  private examined: string | null = null;

  constructor(
    private readonly client: ImapFlow,
    private readonly cfg: ImapClientConfig,
  ) {
    client.on("close", () => {
      this.ended = true;
    });
  }

  get usable(): boolean {
    return !this.ended && this.client.usable;
  }

  private async op<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await withDeadline(fn(), this.cfg.operationTimeoutMs, operation, () => this.client.close());
    } catch (err) {
      throw wrap(err, operation, true);
    }
  }

  examine(mailbox: string): Promise<string> {
    return this.op("examine", async () => {
      const open = this.client.mailbox;
      if (open && this.examined === mailbox) {
        // Dovecot shows what arrived since the last command only after a sync.
        await this.client.noop();
      } else {
        this.examined = null;
        await this.client.mailboxOpen(mailbox, { readOnly: true });
        this.examined = mailbox;
      }
      return stateOf(this.client.mailbox as MailboxObject).uidValidity;
    });
  }

  attachmentsOf(uid: number): Promise<MailPart[] | null> {
    return this.op("fetch", async () => {
      const m = await this.client.fetchOne(String(uid), { uid: true, bodyStructure: true }, { uid: true });
      if (!m || m.uid !== uid || !m.bodyStructure) return null;
      return attachmentPartsOf(m.bodyStructure);
    });
  }

  download(uid: number, part: string, maxBytes: number): Promise<NodeJS.ReadableStream | null> {
    return this.op("download", async () => {
      // Base64 takes ~1.37 encoded bytes per byte: one window covers a small cap without fetching far past it.
      const chunkSize = Math.min(PART_CHUNK_BYTES, Math.max(64 * 1024, Math.ceil(maxBytes * 1.4)));
      const d = await this.client.download(String(uid), part, { uid: true, maxBytes, chunkSize });
      return d.content ?? null;
    });
  }

  async close(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    try {
      await withDeadline(this.client.logout(), 2000, "logout", () => this.client.close());
    } catch {
      // logout failures are irrelevant: the socket is dropped below either way
    }
    this.client.close();
  }
}

/** Open a read-only part reader (no IDLE): connect + LOGIN within `connectTimeoutMs`, or a reason-coded MailPortError. */
export async function connectImapPartReader(cfg: ImapClientConfig): Promise<ImapPartReader> {
  return new ImapPartReaderImpl(await loginClient(cfg, false), cfg);
}
