/**
 * @module The email connector (mode `imap`): one IMAP session per watched mailbox, kept in IDLE so EXISTS pushes
 * new mail (~1 s), plus a polling timer that drains anyway (servers and proxies drop IDLE silently). Each drain
 * fetches UIDs above the mailbox cursor, normalizes, appends durably, and only then commits the cursor
 * `{uidvalidity, lastUid}`, so a crash or restart re-reads at most one batch and never loses one. A UIDVALIDITY
 * change resets the cursor (`email_uidvalidity_reset`) and re-ingests under new event ids. Disconnects and server
 * restarts reconnect with exponential backoff (0.5 s → 30 s).
 * @see https://www.rfc-editor.org/rfc/rfc2177 (IMAP IDLE) and RFC 3501 §2.3.1.1 (UIDVALIDITY)
 */
import { backoffDelay, sleep, type BackoffOptions } from "../shared/backoff.ts";
import type { Connector, ConnectorDeps, PollRoundResult } from "../shared/connector.ts";
import { createIngestor } from "../shared/ingest.ts";
import { MailPortError, type MailPort, type MailSession } from "../shared/mail-port.ts";
import { StatusTracker } from "../shared/status-tracker.ts";
import { normalizeEmail, type EmailItem } from "./normalize.ts";

/** Reason codes this connector logs and reports besides the mail port's `imap_*` codes. */
export const EMAIL_CONNECTOR_CODES = [
  "email_uidvalidity_reset",
  "email_uid_regression",
  "email_drain_failed",
  "ingress_append_failed",
] as const;

export interface EmailConnectorConfig {
  deps: ConnectorDeps;
  /** Opens IMAP sessions (the imapflow adapter, passed in by composition). */
  port: MailPort;
  /** IMAP mailboxes to watch, e.g. ["INBOX"]. */
  mailboxes: readonly string[];
  /** `idle`: IMAP IDLE push plus the polling timer; `poll`: the timer only. */
  mode: "idle" | "poll";
  /** Fallback drain period, also in IDLE mode. Keep it well under 60 s (new mail must be ingested within 60 s). */
  pollIntervalMs: number;
  /** Messages fetched and appended per round trip. */
  batchSize: number;
  /** Where a mailbox with no cursor starts: `latest` (no history replay) or `oldest` (ingest what is there). */
  startAt: "latest" | "oldest";
  backoff: BackoffOptions;
  random?: () => number;
}

/** Defaults for the tuning knobs (PRODUCT.md §8: new mail within 60 s; IDLE usually ~1 s). */
export const EMAIL_CONNECTOR_DEFAULTS = {
  mailboxes: ["INBOX"],
  mode: "idle",
  pollIntervalMs: 15_000,
  batchSize: 25,
  startAt: "latest",
  backoff: { baseMs: 500, maxMs: 30_000 },
} as const satisfies Partial<EmailConnectorConfig>;

/** The persisted position in one mailbox (kv value under `email:cursor:<mailbox>`). */
interface MailboxCursor {
  uidvalidity: string;
  lastUid: number;
}

/** Cursor key for a mailbox. */
function cursorKey(mailbox: string): string {
  return `email:cursor:${mailbox}`;
}

/** A tiny per-key mutex: drains of one mailbox never overlap (watch loop, poll timer, pollOnce). */
function createMutex(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>) => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

/** The email connector: `pollOnce` is always available (one catch-up round on a fresh, non-IDLE session). */
type EmailConnector = Connector & Required<Pick<Connector, "pollOnce">>;

export function createEmailConnector(config: EmailConnectorConfig): EmailConnector {
  const { deps, port } = config;
  const log = deps.logger;
  const tracker = new StatusTracker({
    transport: "email",
    mode: config.mode,
    clock: deps.clock,
    onStatus: deps.onStatus,
    // A successful drain happens at least every poll interval; missing three in a row means we are stale.
    staleAfterMs: config.pollIntervalMs * 3 + 5_000,
  });
  const ingestor = createIngestor({
    transport: "email",
    sink: deps.ingress,
    tracker,
    logger: log,
    clock: deps.clock,
    identity: () => deps.identity,
    normalize: normalizeEmail,
    quarantine: deps.quarantine,
    source: "imap",
  });
  const locks = new Map(config.mailboxes.map((m) => [m, createMutex()]));
  const sessions = new Map<string, MailSession>();
  tracker.connected = () => config.mailboxes.every((m) => sessions.has(m));

  function readCursor(mailbox: string): MailboxCursor | null {
    const raw = deps.cursors.get(cursorKey(mailbox));
    if (!raw) return null;
    try {
      const c = JSON.parse(raw) as Partial<MailboxCursor>;
      if (typeof c.uidvalidity === "string" && Number.isSafeInteger(c.lastUid) && (c.lastUid as number) >= 0) return c as MailboxCursor;
    } catch {
      // fall through: an unreadable cursor is treated as absent (and logged)
    }
    log.warn({ event: "email.cursor_invalid", connector: "email", mailbox }, "ignoring an unreadable mailbox cursor");
    return null;
  }

  function writeCursor(mailbox: string, c: MailboxCursor): void {
    deps.cursors.put(cursorKey(mailbox), JSON.stringify(c));
  }

  /**
   * Check the cursor against the state just seen by SELECT: a mailbox without one gets its starting point; a
   * server whose UID counter went backwards under the same UIDVALIDITY (an RFC 3501 violation, e.g. a mail store
   * rebuilt within the same second) would hide every new message below our cursor, so the cursor restarts at 0
   * (`email_uid_regression`; ids that collide with earlier ones are then dropped by the runner's dedupe).
   */
  function checkCursor(mailbox: string, state: { uidValidity: string; uidNext: number }): void {
    const current = readCursor(mailbox);
    if (current && current.uidvalidity === state.uidValidity && state.uidNext <= current.lastUid) {
      log.warn(
        {
          event: "email.uid_regression",
          connector: "email",
          reason_code: "email_uid_regression",
          mailbox,
          uidvalidity: state.uidValidity,
          last_uid: current.lastUid,
          uid_next: state.uidNext,
        },
        "the server's next UID is not above the cursor: cursor reset to 0",
      );
      tracker.note("email_uid_regression");
      writeCursor(mailbox, { uidvalidity: state.uidValidity, lastUid: 0 });
      return;
    }
    if (current) return;
    const lastUid = config.startAt === "latest" ? Math.max(0, state.uidNext - 1) : 0;
    writeCursor(mailbox, { uidvalidity: state.uidValidity, lastUid });
    log.info(
      { event: "email.cursor_initialized", connector: "email", mailbox, uidvalidity: state.uidValidity, last_uid: lastUid },
      "mailbox cursor initialized",
    );
  }

  /** Fetch → normalize → durable append → commit cursor, batch by batch, until nothing is left. */
  async function drain(session: MailSession, mailbox: string, signal?: AbortSignal): Promise<number> {
    let appended = 0;
    // Between batches a stop is honoured: everything appended so far is committed, the rest waits for next time.
    while (!signal?.aborted) {
      const cursor = readCursor(mailbox);
      const batch = await session.fetchSince(mailbox, cursor?.lastUid ?? 0, config.batchSize);
      if (!cursor || cursor.uidvalidity !== batch.uidValidity) {
        if (cursor) {
          log.warn(
            {
              event: "email.uidvalidity_reset",
              connector: "email",
              reason_code: "email_uidvalidity_reset",
              mailbox,
              old_uidvalidity: cursor.uidvalidity,
              new_uidvalidity: batch.uidValidity,
              last_uid: cursor.lastUid,
            },
            "UIDVALIDITY changed: cursor reset, the mailbox is re-ingested under new event ids",
          );
          tracker.note("email_uidvalidity_reset");
        }
        writeCursor(mailbox, { uidvalidity: batch.uidValidity, lastUid: 0 });
        if ((cursor?.lastUid ?? 0) > 0) continue; // that batch started after the old cursor: fetch again from UID 1
      }
      if (batch.messages.length === 0) return appended;
      const items: EmailItem[] = batch.messages.map((mail) => ({ mailbox, uidValidity: batch.uidValidity, mail }));
      const result = await ingestor.ingest(items); // rejects (cursor untouched) unless the lines are fsynced
      const lastUid = Math.max(...batch.messages.map((m) => m.uid));
      writeCursor(mailbox, { uidvalidity: batch.uidValidity, lastUid });
      appended += result.appended;
      if (!batch.more) return appended;
    }
    return appended;
  }

  function recordFailure(err: unknown, mailbox: string, what: string): string {
    const code = err instanceof MailPortError ? err.reason : ((err as { code?: string })?.code ?? "email_drain_failed");
    const kind = code === "imap_auth_failed" || code === "missing_imap_password" ? "auth" : "provider";
    // The ingestor has already counted an append failure; count everything else here.
    if (code !== "ingress_append_failed") tracker.failure(kind, code);
    log.warn(
      { event: `email.${what}_failed`, connector: "email", mailbox, reason_code: code, error: (err as Error)?.message },
      `email ${what} failed`,
    );
    return code;
  }

  // ------------------------------------------------------------------------------------------ watch loop
  let abort: AbortController | null = null;
  let loops: Promise<void>[] = [];

  async function watch(mailbox: string, signal: AbortSignal): Promise<void> {
    const lock = locks.get(mailbox)!;
    // Made once, up front: `stop()` may abort while a session is still catching up.
    const aborted = new Promise<null>((resolve) => {
      if (signal.aborted) resolve(null);
      else signal.addEventListener("abort", () => resolve(null), { once: true });
    });
    let attempt = 0;
    while (!signal.aborted) {
      let session: MailSession | null = null;
      let timer: NodeJS.Timeout | undefined;
      let draining: Promise<void> | null = null;
      let rerun = false;
      try {
        const connecting = port.connect({ idle: config.mode === "idle" });
        const connected = await Promise.race([connecting, aborted]);
        if (connected === null) {
          // Stopped while connecting: log out the session if the login still succeeds.
          void connecting.then(
            (late) => late.close(),
            () => undefined,
          );
          break;
        }
        session = connected;
        const s = connected;
        const closed = new Promise<MailPortError>((resolve) => s.onClose(resolve));
        // Coalesce EXISTS bursts and timer ticks: one drain at a time, re-run once if more arrived meanwhile.
        const kick = (): void => {
          if (draining) {
            rerun = true;
            return;
          }
          draining = (async () => {
            do {
              rerun = false;
              try {
                await lock(() => drain(s, mailbox, signal));
                tracker.success();
              } catch (err) {
                // A dropped connection is recorded once, by the session loop that reconnects.
                if (!(err instanceof MailPortError && err.reason === "imap_connection_lost")) recordFailure(err, mailbox, "drain");
              }
            } while (rerun && !signal.aborted);
          })().finally(() => {
            draining = null;
          });
        };
        s.onExists((mb) => {
          if (mb === mailbox) kick();
        });
        const state = await s.open(mailbox);
        checkCursor(mailbox, state);
        await lock(() => drain(s, mailbox, signal)); // catch-up: everything that arrived while we were away
        if (signal.aborted) break;
        sessions.set(mailbox, s);
        attempt = 0;
        tracker.success();
        log.info({ event: "email.watching", connector: "email", mailbox, mode: config.mode }, "watching mailbox");
        timer = setInterval(kick, config.pollIntervalMs);
        const err = await Promise.race([closed, aborted]);
        if (err) throw err;
      } catch (err) {
        if (!signal.aborted) recordFailure(err, mailbox, "session");
      } finally {
        clearInterval(timer);
        sessions.delete(mailbox);
        await session?.close();
        await (draining as Promise<void> | null)?.catch(() => undefined);
      }
      if (signal.aborted) break;
      tracker.retry();
      const delay = backoffDelay(attempt++, config.backoff, config.random);
      log.info({ event: "email.reconnect_scheduled", connector: "email", mailbox, delay_ms: delay, attempt }, "reconnecting");
      await sleep(delay, signal);
    }
  }

  return {
    transport: "email",
    mode: config.mode,
    async start() {
      if (abort) return;
      abort = new AbortController();
      tracker.setRunning(true);
      const signal = abort.signal;
      loops = config.mailboxes.map((m) => watch(m, signal));
    },
    async stop() {
      if (!abort) return;
      abort.abort();
      abort = null;
      await Promise.all(loops);
      loops = [];
      tracker.setRunning(false);
    },
    status: () => tracker.status(),
    async pollOnce(): Promise<PollRoundResult> {
      let session: MailSession | null = null;
      let appended = 0;
      try {
        session = await port.connect({ idle: false });
        for (const mailbox of config.mailboxes) {
          const s = session;
          const state = await s.open(mailbox);
          checkCursor(mailbox, state);
          appended += await locks.get(mailbox)!(() => drain(s, mailbox));
        }
        tracker.success();
        return { ok: true, appended, code: null };
      } catch (err) {
        return { ok: false, appended, code: recordFailure(err, config.mailboxes.join(","), "poll") };
      } finally {
        await session?.close();
      }
    },
  };
}
