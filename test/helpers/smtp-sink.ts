// Real SMTP server (npm smtp-server) for tests: AUTH against the Dovecot users, delivers accepted mail into Dovecot over LMTP.
import { EventEmitter } from "node:events";
import nodemailer from "nodemailer";
import { SMTPServer, type SMTPServerSession } from "smtp-server";
import type { DovecotHandle, MailUser } from "./dovecot.ts";

/**
 * Options for {@link startSmtpSink}.
 *
 * Transport security: by default the sink is plain SMTP on 127.0.0.1 with STARTTLS disabled
 * (`disabledCommands: ['STARTTLS']`, `allowInsecureAuth: true`), so clients must use
 * `secure: false` and must not set `requireTLS`. Pass `tls` (e.g. the Dovecot `caPem` pair) to offer STARTTLS.
 */
export interface StartSmtpSinkOptions {
  /** Where to deliver (LMTP) and, by default, whose users may authenticate. */
  dovecot: Pick<DovecotHandle, "host" | "lmtpPort" | "users">;
  /** Submission semantics (AUTH required, sender must be the authenticated user). Default true. false = inbound MX semantics. */
  requireAuth?: boolean;
  /** Accounts allowed to AUTH and to receive mail. Default: `dovecot.users`. */
  users?: MailUser[];
  /** Domains whose recipients must exist (550 otherwise) and are delivered to Dovecot. Default: the users' domains. */
  localDomains?: string[];
  /** Listen port on 127.0.0.1. Default 0 (a free port). */
  port?: number;
  /** PEM key/cert: enables STARTTLS. Default: STARTTLS disabled. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Server name used in the greeting and the trace header. Default `smtp-sink.example.test`. */
  name?: string;
  /** SIZE limit in bytes (552 when exceeded). Default 10 MiB. */
  maxSize?: number;
}

/** One message the sink accepted (250 after DATA). */
export interface SinkMessage {
  envelope: { from: string; to: string[] };
  /** The message exactly as the client sent it (without the sink's trace header). */
  raw: Buffer;
  /** Authenticated user, or null. */
  user: string | null;
  receivedAt: Date;
  /** Recipients Dovecot accepted over LMTP (empty for external-only mail). */
  delivered: string[];
  /** Recipients Dovecot rejected over LMTP (should stay empty: unknown users are refused at RCPT). */
  lmtpRejected: string[];
  lmtpResponse: string | null;
}

/** A command the sink refused, for assertions on negative paths. */
export interface SinkRejection {
  stage: "auth" | "mail" | "rcpt" | "data";
  code: number;
  message: string;
  address?: string;
  user?: string | null;
}

/** A running SMTP sink. */
export interface SmtpSinkHandle {
  host: "127.0.0.1";
  port: number;
  /** Accepted messages, in order. */
  messages: SinkMessage[];
  /** Refused commands, in order. */
  rejections: SinkRejection[];
  /** Resolve with the first (already recorded or future) message matching `pred`; reject after `timeoutMs` (default 5000). */
  waitFor(pred: (m: SinkMessage) => boolean, timeoutMs?: number): Promise<SinkMessage>;
  /** Stop listening (open connections are closed after ~1 s) and close the LMTP transport. */
  close(): Promise<void>;
}

function smtpError(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

/**
 * Start a real SMTP submission server on 127.0.0.1 that behaves like a strict submission service:
 * AUTH PLAIN/LOGIN against the users (535 on failure); MAIL FROM must equal the authenticated user
 * (553 5.7.1); recipients in a local domain must exist (550 5.1.1); local mail is delivered into Dovecot
 * over LMTP (451 4.3.0 if that fails); mail to other domains is accepted and recorded, not delivered.
 * With `requireAuth: false` (MX semantics) unauthenticated relaying to non-local domains gets 554 5.7.1.
 * Note: smtp-server delays every greeting by a hard-coded 100 ms ("early talker" check); pool client connections.
 */
export async function startSmtpSink(opts: StartSmtpSinkOptions): Promise<SmtpSinkHandle> {
  const requireAuth = opts.requireAuth ?? true;
  const users = new Map((opts.users ?? opts.dovecot.users).map((u) => [u.user.toLowerCase(), u.pass]));
  const localDomains = new Set(
    (opts.localDomains ?? [...users.keys()].map((u) => u.slice(u.lastIndexOf("@") + 1))).map((d) => d.toLowerCase()),
  );
  const name = opts.name ?? "smtp-sink.example.test";
  const events = new EventEmitter();
  const messages: SinkMessage[] = [];
  const rejections: SinkRejection[] = [];
  const lmtp = nodemailer.createTransport({
    host: opts.dovecot.host,
    port: opts.dovecot.lmtpPort,
    lmtp: true,
    secure: false,
    ignoreTLS: true,
  });
  const domainOf = (a: string) => a.slice(a.lastIndexOf("@") + 1).toLowerCase();
  const sessionUser = (s: SMTPServerSession): string | null => (typeof s.user === "string" ? s.user : null);
  const reject = (cb: (err: Error) => void, r: SinkRejection) => {
    rejections.push(r);
    cb(smtpError(r.code, r.message));
  };

  const server = new SMTPServer({
    ...(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert } : {}),
    name,
    banner: "tau test sink",
    secure: false,
    disabledCommands: opts.tls ? [] : ["STARTTLS"],
    allowInsecureAuth: true, // loopback only: AUTH without TLS
    authOptional: !requireAuth,
    authMethods: ["PLAIN", "LOGIN"],
    size: opts.maxSize ?? 10 * 1024 * 1024,
    disableReverseLookup: true,
    logger: false,
    closeTimeout: 1000,
    onAuth(auth, session, cb) {
      const user = (auth.username ?? "").toLowerCase();
      if (users.has(user) && users.get(user) === auth.password) return cb(null, { user });
      rejections.push({ stage: "auth", code: 535, message: "5.7.8 Authentication credentials invalid", user });
      return cb(smtpError(535, "5.7.8 Authentication credentials invalid"));
    },
    onMailFrom(address, session, cb) {
      const user = sessionUser(session);
      if (user && address.address.toLowerCase() !== user) {
        return reject(cb, {
          stage: "mail",
          code: 553,
          message: `5.7.1 <${address.address}>: Sender address rejected: not owned by user ${user}`,
          address: address.address,
          user,
        });
      }
      cb();
    },
    onRcptTo(address, session, cb) {
      const rcpt = address.address.toLowerCase();
      const user = sessionUser(session);
      if (localDomains.has(domainOf(rcpt))) {
        if (!users.has(rcpt)) {
          return reject(cb, {
            stage: "rcpt",
            code: 550,
            message: `5.1.1 <${rcpt}>: Recipient address rejected: User unknown in local recipient table`,
            address: rcpt,
            user,
          });
        }
      } else if (!user) {
        return reject(cb, { stage: "rcpt", code: 554, message: `5.7.1 <${rcpt}>: Relay access denied`, address: rcpt, user });
      }
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        void (async () => {
          const user = sessionUser(session);
          if (stream.sizeExceeded) {
            return reject(cb, { stage: "data", code: 552, message: "5.3.4 Message size exceeds fixed maximum message size", user });
          }
          const raw = Buffer.concat(chunks);
          const mailFrom = session.envelope.mailFrom;
          const envelope = {
            from: mailFrom ? mailFrom.address : "",
            to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
          };
          const rec: SinkMessage = {
            envelope,
            raw,
            user,
            receivedAt: new Date(),
            delivered: [],
            lmtpRejected: [],
            lmtpResponse: null,
          };
          const local = envelope.to.filter((a) => localDomains.has(domainOf(a)));
          if (local.length) {
            try {
              const trace = Buffer.from(
                `Received: from ${session.hostNameAppearsAs || "unknown"} ([${session.remoteAddress}])\r\n` +
                  `\tby ${name} (tau smtp-sink) with ${session.transmissionType}; ${new Date().toUTCString()}\r\n`,
              );
              const info = await lmtp.sendMail({ envelope: { from: envelope.from, to: local }, raw: Buffer.concat([trace, raw]) });
              rec.delivered = info.accepted.map(String);
              rec.lmtpRejected = info.rejected.map(String);
              rec.lmtpResponse = info.response;
            } catch (e) {
              return reject(cb, { stage: "data", code: 451, message: `4.3.0 LMTP delivery failed: ${(e as Error).message}`, user });
            }
          }
          messages.push(rec);
          events.emit("message", rec);
          cb(null, `2.0.0 Ok: queued as sink-${messages.length}`);
        })();
      });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", () => {
    /* per-connection errors (resets) must not crash the test worker */
  });
  const addr = server.server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;

  let closed: Promise<void> | null = null;
  return {
    host: "127.0.0.1",
    port,
    messages,
    rejections,
    waitFor(pred, timeoutMs = 5000) {
      const hit = messages.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise<SinkMessage>((resolve, reject) => {
        const on = (m: SinkMessage) => {
          if (!pred(m)) return;
          clearTimeout(timer);
          events.off("message", on);
          resolve(m);
        };
        const timer = setTimeout(() => {
          events.off("message", on);
          reject(new Error(`smtp-sink waitFor: no matching message within ${timeoutMs} ms (${messages.length} recorded)`));
        }, timeoutMs);
        events.on("message", on);
      });
    },
    close() {
      closed ??= new Promise<void>((resolve) =>
        server.close(() => {
          lmtp.close();
          resolve();
        }),
      );
      return closed;
    },
  };
}
