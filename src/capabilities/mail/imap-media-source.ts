/**
 * @module Email media source: an attachment of an ingested email is fetched from the IMAP server, by the envelope's
 * `meta.mailbox` / `meta.uid` / `meta.uidvalidity` and the attachment's `ref` (Content-ID, else `part:<n>`, the n-th
 * of mailparser's attachments). Resolve EXAMINEs the mailbox (read-only), refuses a changed UIDVALIDITY, and finds
 * the part in BODYSTRUCTURE; download streams only that part, decoded, with the caller's byte cap. One connection
 * is kept for a short idle time (the download follows its resolve), then logged out. The password is read at each
 * login and never reported.
 * @see https://www.rfc-editor.org/rfc/rfc3501#section-2.3.1.1 (UIDVALIDITY)
 */
import type { Attachment, Envelope } from "../../contracts/envelope.ts";
import type { DownloadOutcome, MediaSource, ResolveOutcome } from "../../contracts/media.ts";
import { describeError } from "../../contracts/errors.ts";
import { connectImapPartReader, type ImapClientConfig, type ImapPartReader, type MailPart } from "./imap-client.ts";
import { DEFAULT_MAIL_RUNTIME, imapConfigOf } from "./mail-context.ts";
import { loadMailStack } from "./stack.ts";

/** `connectors/shared/download.ts` `streamToFile`, injected by the composition (src/ never imports connectors). */
export type StreamToFile = (body: NodeJS.ReadableStream, dest: string, maxBytes: number, signal: AbortSignal) => Promise<DownloadOutcome>;

export interface EmailMediaOptions {
  /** IMAP settings, read at each new connection (a changed stack contract needs no restart); throws when there are none. */
  imap(): ImapClientConfig;
  streamToFile: StreamToFile;
  /** Bound on one whole download; past it the stream is cut (`media_provider_error`) and the connection dropped. */
  timeoutMs: number;
  /** How long an unused connection stays open for the next resolve or download. Default {@link EMAIL_MEDIA_IDLE_MS}. */
  idleMs?: number;
  /** Default: the imapflow reader of `imap-client.ts`. */
  connect?(cfg: ImapClientConfig): Promise<ImapPartReader>;
}

/** Long enough for the download that follows a resolve and for the next attachment of the same message. */
export const EMAIL_MEDIA_IDLE_MS = 2000;

/** IMAP settings from `policies/communications/stack.yaml`, the password from its `imap.password_secret`. */
export function stackImapConfig(policiesDir: string, secret: (id: string) => string | null): () => ImapClientConfig {
  return () => imapConfigOf(loadMailStack(policiesDir), { secret }, DEFAULT_MAIL_RUNTIME.timeoutMs);
}

/** Where an ingested message lives: the envelope's `meta` as the email normalizer wrote it. */
interface Where {
  mailbox: string;
  uid: number;
  uidValidity: string;
}

/** Where an email envelope's message lives; null when the envelope does not say. */
function locate(env: Envelope): Where | null {
  const { mailbox, uid, uidvalidity } = env.meta;
  if (typeof mailbox !== "string" || mailbox === "") return null;
  if (typeof uid !== "number" || !Number.isSafeInteger(uid) || uid < 1) return null;
  if (typeof uidvalidity !== "string" || !/^\d{1,10}$/.test(uidvalidity)) return null;
  return { mailbox, uid, uidValidity: uidvalidity };
}

/** The part an attachment ref names: a Content-ID match first, else `part:<n>` (1-based, as the normalizer numbered). */
export function pickPart(parts: MailPart[], ref: string): MailPart | null {
  const byId = parts.find((p) => p.contentId !== null && p.contentId === ref);
  if (byId) return byId;
  const n = ref.match(/^part:(\d{1,4})$/);
  return n ? (parts[Number(n[1]) - 1] ?? null) : null;
}

/** Decoded size known without downloading: only when the part is stored as is (no base64 / quoted-printable). */
function decodedSizeOf(p: MailPart): number | null {
  return p.encoding === null || ["7bit", "8bit", "binary"].includes(p.encoding) ? p.encodedSize : null;
}

const fail = (detail: string): { ok: false; reason: "media_provider_error"; detail: string } => ({
  ok: false,
  reason: "media_provider_error",
  detail: detail.slice(0, 200),
});

/** Reject as soon as `signal` aborts (running `onAbort` first); otherwise settle with `p`. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal, onAbort: () => void): Promise<T> {
  if (signal.aborted) {
    onAbort();
    return Promise.reject(signal.reason);
  }
  let listener: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    listener = () => {
      onAbort();
      reject(signal.reason);
    };
    signal.addEventListener("abort", listener, { once: true });
  });
  return Promise.race([p, aborted]).finally(() => signal.removeEventListener("abort", listener!));
}

/**
 * One reader at a time, used by one operation at a time (a download holds it until its stream is consumed), closed
 * after `idleMs` unused, and dropped after any failure or abort (its state is then unknown).
 */
class ReaderKeeper {
  private reader: ImapPartReader | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private idle: NodeJS.Timeout | undefined;

  constructor(private readonly opts: EmailMediaOptions) {}

  use<T>(signal: AbortSignal, fn: (r: ImapPartReader, drop: () => void) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      signal.throwIfAborted();
      clearTimeout(this.idle);
      if (!this.reader?.usable) {
        void this.reader?.close();
        this.reader = null;
        this.reader = await (this.opts.connect ?? connectImapPartReader)(this.opts.imap());
      }
      const current = this.reader;
      const drop = () => {
        if (this.reader === current) this.reader = null;
        void current.close();
      };
      try {
        return await untilAborted(fn(current, drop), signal, drop);
      } catch (err) {
        drop();
        throw err;
      } finally {
        this.arm();
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private arm(): void {
    clearTimeout(this.idle);
    const reader = this.reader;
    if (!reader) return;
    this.idle = setTimeout(() => {
      if (this.reader === reader) this.reader = null;
      void reader.close();
    }, this.opts.idleMs ?? EMAIL_MEDIA_IDLE_MS);
    this.idle.unref();
  }
}

const changed = (at: Where, now: string) =>
  fail(`mailbox changed: ${at.mailbox} now has UIDVALIDITY ${now}, the message was ingested under ${at.uidValidity}`);

/** Stream one part to `dest` on the kept connection, the whole download bounded by `timeoutMs`. */
function downloadPart(
  keeper: ReaderKeeper,
  opts: EmailMediaOptions,
  at: Where,
  part: string,
  dest: string,
  maxBytes: number,
  signal: AbortSignal,
): Promise<DownloadOutcome> {
  return keeper.use(signal, async (r, drop) => {
    const uidValidity = await r.examine(at.mailbox);
    if (uidValidity !== at.uidValidity) return changed(at, uidValidity);
    // One byte over the cap is asked for, so that streamToFile sees the cap passed (and says so) rather than a file cut to size.
    const content = await r.download(at.uid, part, maxBytes + 1);
    if (!content) return fail(`part ${part} of message UID ${at.uid} is no longer in ${at.mailbox}`);
    const stream = content as NodeJS.ReadableStream & { destroy(err?: Error): void };
    const timer = setTimeout(() => stream.destroy(new Error(`not complete within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    try {
      const out = await opts.streamToFile(stream, dest, maxBytes, signal);
      // A download cut short (cap, timeout, stream error) may leave a FETCH running: the next one starts afresh.
      if (!out.ok) drop();
      return out;
    } finally {
      clearTimeout(timer);
    }
  });
}

/** The `email` media source. */
export function createEmailMediaSource(opts: EmailMediaOptions): MediaSource {
  const keeper = new ReaderKeeper(opts);
  /** Anything reported has the password taken out, whatever a server or library put in a message. */
  const clean = (text: string): string => {
    let password: string | null = null;
    try {
      password = opts.imap().password();
    } catch {
      // no stack contract, so no password to hide
    }
    return password ? text.split(password).join("<redacted>") : text;
  };
  const failed = (err: unknown, signal: AbortSignal) => {
    if (signal.aborted) throw err;
    return fail(clean(describeError(err)));
  };

  return {
    transport: "email",
    async resolve(att: Attachment, env: Envelope, signal: AbortSignal): Promise<ResolveOutcome> {
      const at = locate(env);
      if (!at) return fail("the envelope does not say where the message is (meta.mailbox, meta.uid, meta.uidvalidity)");
      const ref = att.ref!;
      let found: { uidValidity: string; parts: MailPart[] | null };
      try {
        found = await keeper.use(signal, async (r) => {
          const uidValidity = await r.examine(at.mailbox);
          return { uidValidity, parts: uidValidity === at.uidValidity ? await r.attachmentsOf(at.uid) : null };
        });
      } catch (err) {
        return failed(err, signal);
      }
      if (found.uidValidity !== at.uidValidity) return changed(at, found.uidValidity);
      if (!found.parts) return fail(`message UID ${at.uid} is no longer in ${at.mailbox}`);
      const part = pickPart(found.parts, ref);
      if (!part) return fail(`message UID ${at.uid} has no attachment ${ref} (${found.parts.length} attachment parts)`);
      return {
        ok: true,
        media: {
          // The event id's scheme (email:<mailbox>:<uidvalidity>:<uid>) plus the part; understand prefixes the transport.
          identity: `${at.mailbox}:${at.uidValidity}:${at.uid}:${part.part}`,
          declaredSize: decodedSizeOf(part),
          download: (dest, maxBytes, dsignal) =>
            downloadPart(keeper, opts, at, part.part, dest, maxBytes, dsignal).then(
              (out) => (out.ok ? out : { ...out, detail: clean(out.detail) }),
              (err: unknown) => failed(err, dsignal),
            ),
        },
      };
    },
  };
}
