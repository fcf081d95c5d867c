// Throwaway real Dovecot (IMAP + LMTP, optional IMAPS) on 127.0.0.1 from a temp dir, plus fast mailbox seeding.
import { freePort } from "./free-port.ts";
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";
import nodemailer from "nodemailer";

/** A mail account known to the test Dovecot (user name = full address, compared case-insensitively). */
export interface MailUser {
  user: string;
  pass: string;
}

/** Options for {@link startDovecot}. */
export interface StartDovecotOptions {
  /** Accounts to create. Default: ops@, alerts@, noreply@example.test, all with password "secret". */
  users?: MailUser[];
  /** Also listen with implicit TLS (IMAPS) using a fresh self-signed cert for 127.0.0.1/localhost. Default false. */
  tls?: boolean;
  /** Bounded wait for the IMAP greeting. Default 10 000 ms. */
  startTimeoutMs?: number;
  /** Dovecot binary. Default `/usr/sbin/dovecot` (or `$DOVECOT_BIN`). */
  binary?: string;
}

/** A running (or stopped) test Dovecot. */
export interface DovecotHandle {
  host: "127.0.0.1";
  imapPort: number;
  lmtpPort: number;
  /** Implicit-TLS IMAP port; only when started with `tls: true`. */
  imapsPort?: number;
  /** PEM of the self-signed certificate (use as `tls.ca`); only when started with `tls: true`. */
  caPem?: string;
  users: MailUser[];
  /** Temp dir holding dovecot.conf, passwd, run/, log/ and mail/. */
  dir: string;
  /** Path of the Dovecot log file (useful when a test fails). */
  logPath: string;
  /** Pid of the current Dovecot master process (changes on restart), or null when stopped. */
  readonly pid: number | null;
  /** Maildir of a user (`<dir>/mail/<domain>/<local>/Maildir`). */
  maildirOf(user: string): string;
  /** Last `lines` lines of the Dovecot log. */
  logTail(lines?: number): string;
  /**
   * Kill Dovecot (SIGKILL to its whole process group: the store is discarded anyway, and a graceful
   * shutdown costs ~1.1 s) and remove the temp dir. Idempotent; safe in `afterAll` after a failure.
   */
  stop(): Promise<void>;
  /**
   * Stop Dovecot, keeping the mail store, and start it again on the same ports (clients see a disconnect).
   * Default graceful (SIGTERM, ~1.1 s); `hard: true` kills it like a crash first.
   */
  restart(opts?: { hard?: boolean }): Promise<void>;
}

/** Default accounts used when none are given. */
export const DEFAULT_MAIL_USERS: readonly MailUser[] = Object.freeze([
  { user: "ops@example.test", pass: "secret" },
  { user: "alerts@example.test", pass: "secret" },
  { user: "noreply@example.test", pass: "secret" },
]);

const HOST = "127.0.0.1" as const;

// ---------------------------------------------------------------------------------------------- process bookkeeping
// Every live master is remembered so that an abrupt end of the test worker (uncaught error, process.exit)
// still kills Dovecot and removes the temp dir. stop() is the normal path; this is the safety net.
const live = new Map<number, { pgid: number; dir: string | null }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const { pgid, dir } of live.values()) {
      try {
        process.kill(-pgid, "SIGKILL");
      } catch {
        /* already gone */
      }
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

// ---------------------------------------------------------------------------------------------- small utilities
// freePort: see ./free-port.ts (the retry in startDovecot covers a port taken between the probe and the bind).
export { freePort } from "./free-port.ts";

function lookupId(file: "/etc/passwd" | "/etc/group", name: string): number | null {
  try {
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
      const f = line.split(":");
      if (f[0] === name && f[2] !== undefined) return Number(f[2]);
    }
  } catch {
    /* no such file */
  }
  return null;
}

function groupName(gid: number): string {
  try {
    for (const line of fs.readFileSync("/etc/group", "utf8").split("\n")) {
      const f = line.split(":");
      if (f[2] === String(gid) && f[0]) return f[0];
    }
  } catch {
    /* fall through */
  }
  return String(gid);
}

function splitAddress(user: string): { local: string; domain: string } {
  const u = user.toLowerCase();
  const at = u.lastIndexOf("@");
  if (at <= 0 || at === u.length - 1) throw new Error(`dovecot helper: user must be a full address, got "${user}"`);
  return { local: u.slice(0, at), domain: u.slice(at + 1) };
}

/** Read the first line the server sends on a fresh connection, or reject on error/timeout. */
function readGreeting(port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: HOST, port });
    let buf = "";
    const done = (err: Error | null, line?: string) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(line ?? "");
    };
    const timer = setTimeout(() => done(new Error("greeting timeout")), timeoutMs);
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl >= 0) done(null, buf.slice(0, nl).trim());
    });
    sock.on("error", (e) => done(e));
    sock.on("close", () => done(new Error("closed before greeting")));
  });
}

function tail(file: string, lines: number): string {
  try {
    return fs
      .readFileSync(file, "utf8")
      .split("\n")
      .slice(-lines - 1)
      .join("\n");
  } catch {
    return "";
  }
}

// ---------------------------------------------------------------------------------------------- startDovecot
interface Layout {
  dir: string;
  conf: string;
  log: string;
  stdoutLog: string;
  mailRoot: string;
  mailUid: number;
  mailGid: number;
  root: boolean;
}

/** Temp dir: short (unix socket paths under base_dir must stay < 108 bytes) and traversable by dovecot's users. */
function makeTempDir(root: boolean): string {
  const candidates = [os.tmpdir(), "/tmp"];
  for (const base of candidates) {
    if (base.length > 40) continue;
    if (root) {
      // unprivileged children (auth as `dovecot`, mail as nobody) must traverse every parent
      let ok = true;
      for (let p = path.resolve(base); ; p = path.dirname(p)) {
        try {
          if ((fs.statSync(p).mode & 0o001) === 0) ok = false;
        } catch {
          ok = false;
        }
        if (p === path.dirname(p)) break;
      }
      if (!ok) continue;
    }
    try {
      return fs.mkdtempSync(path.join(base, "tau-dc-"));
    } catch {
      /* try next */
    }
  }
  throw new Error("dovecot helper: no usable short, world-traversable temp dir (tried $TMPDIR and /tmp)");
}

function writeConfig(L: Layout, users: MailUser[], ports: { imap: number; lmtp: number; imaps?: number }, greeting: string): void {
  let internalUser: string;
  let internalGroup: string;
  let loginUser: string;
  let firstValidUid: number;
  let nonRootBlock = "";
  if (L.root) {
    // master keeps root; login procs -> dovenull, internal (auth, stats, ...) -> dovecot, mail procs -> nobody
    // (Dovecot refuses uid 0 for mail access). Debian's dovecot-core postinst creates dovecot/dovenull.
    if (lookupId("/etc/passwd", "dovecot") === null || lookupId("/etc/passwd", "dovenull") === null) {
      throw new Error("dovecot helper: system users dovecot/dovenull missing (apt-get install dovecot-imapd dovecot-lmtpd)");
    }
    internalUser = "dovecot";
    internalGroup = "dovecot";
    loginUser = "dovenull";
    firstValidUid = 1;
  } else {
    // non-root: every process runs as the invoking user; chroot(2) needs root -> disable it where it's on by
    // default (imap-login here, anvil in the anvil block below)
    const me = os.userInfo();
    internalUser = me.username;
    internalGroup = groupName(me.gid);
    loginUser = me.username;
    firstValidUid = me.uid;
    nonRootBlock = "service imap-login {\n  chroot =\n}\n";
  }

  const passwd = users.map((u) => `${u.user.toLowerCase()}:{PLAIN}${u.pass}::::::`).join("\n") + "\n";
  const passwdPath = path.join(L.dir, "passwd");
  fs.writeFileSync(passwdPath, passwd, { mode: 0o640 });
  if (L.root) fs.chownSync(passwdPath, 0, lookupId("/etc/group", internalGroup) ?? 0);

  let sslBlock = "ssl = no";
  let imapsListener = "";
  if (ports.imaps !== undefined) {
    sslBlock = `ssl = yes\nssl_cert = <${L.dir}/cert.pem\nssl_key = <${L.dir}/key.pem`;
    imapsListener = `  inet_listener imaps {\n    address = ${HOST}\n    port = ${ports.imaps}\n    ssl = yes\n  }\n`;
  }

  const conf = `# Throwaway test instance written by test/helpers/dovecot.ts. Never includes /etc/dovecot.
instance_name = tau-test-${ports.imap}
protocols = imap lmtp
listen = ${HOST}
base_dir = ${L.dir}/run
state_dir = ${L.dir}/state
log_path = ${L.log}
info_log_path = ${L.log}
debug_log_path = ${L.log}
default_internal_user = ${internalUser}
default_internal_group = ${internalGroup}
default_login_user = ${loginUser}
first_valid_uid = ${firstValidUid}
${sslBlock}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Lu
# fail bad logins at once (default 2 s) so negative-path tests stay fast
auth_failure_delay = 0
# unique greeting: the readiness probe proves it is talking to *this* instance, not whoever owns the port
login_greeting = ${greeting}
postmaster_address = postmaster@example.test
# test store: durability is irrelevant, speed is not
mail_fsync = never
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${passwdPath}
}
userdb {
  driver = passwd-file
  args = username_format=%u ${passwdPath}
  default_fields = uid=${L.mailUid} gid=${L.mailGid} home=${L.mailRoot}/%d/%n
}
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
}
# IDLE pushes EXISTS quickly (inotify on the Maildir; this is the fallback poll)
mailbox_idle_check_interval = 1 secs
service imap-login {
  inet_listener imap {
    address = ${HOST}
    port = ${ports.imap}
  }
${imapsListener}}
service lmtp {
  inet_listener lmtp {
    address = ${HOST}
    port = ${ports.lmtp}
  }
}
# no brute-force penalty for 127.0.0.1 (it doubles the delay per failure up to 15 s and would slow negative tests)
service anvil {
${L.root ? "" : "  chroot =\n"}  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
# mail processes run as a uid outside the dovecot group -> let them write stats
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
${nonRootBlock}protocol lmtp {
  auth_username_format = %Lu
}
`;
  fs.writeFileSync(L.conf, conf);
}

function generateCert(dir: string): string {
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "7",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-keyout",
      path.join(dir, "key.pem"),
      "-out",
      path.join(dir, "cert.pem"),
    ],
    { stdio: "ignore" },
  );
  fs.chmodSync(path.join(dir, "key.pem"), 0o600);
  return fs.readFileSync(path.join(dir, "cert.pem"), "utf8");
}

/** Spawn the master in its own session/process group and wait for our IMAP greeting (bounded). */
async function launch(
  binary: string,
  L: Layout,
  ports: { imap: number; lmtp: number; imaps?: number },
  greeting: string,
  timeoutMs: number,
): Promise<ChildProcess> {
  const out = fs.openSync(L.stdoutLog, "a");
  let child: ChildProcess;
  try {
    // -F: stay in the foreground so child.pid is the master; detached: setsid -> pgid = pid, so the
    // whole tree can be killed with one kill(-pgid).
    child = spawn(binary, ["-F", "-c", L.conf], { detached: true, stdio: ["ignore", out, out] });
  } finally {
    fs.closeSync(out);
  }
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  child.once("exit", (code, signal) => (exited = { code, signal }));
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  const pid = child.pid;
  if (pid === undefined) throw await spawnError;
  // Don't let a forgotten stop() keep the test worker alive; the exit hook still kills Dovecot.
  child.unref();
  live.set(pid, { pgid: pid, dir: L.dir });
  installExitHook();

  const deadline = Date.now() + timeoutMs;
  let lastErr = "no attempt";
  while (Date.now() < deadline) {
    if (exited) break;
    try {
      const line = await readGreeting(ports.imap, Math.max(50, Math.min(1000, deadline - Date.now())));
      if (line.startsWith("* OK") && line.includes(greeting)) {
        // LMTP is bound by the same master; a bind failure there is fatal to it, so check both.
        const lmtp = await readGreeting(ports.lmtp, 2000);
        if (!lmtp.startsWith("220")) throw new Error(`unexpected LMTP greeting: ${lmtp}`);
        if (!exited) return child;
      }
      lastErr = `foreign greeting on port ${ports.imap}: ${line}`;
    } catch (e) {
      lastErr = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const why = exited ? `master exited (${JSON.stringify(exited)})` : `no IMAP greeting within ${timeoutMs} ms (${lastErr})`;
  killGroup(pid);
  live.delete(pid);
  const err = new Error(`dovecot failed to start: ${why}\n--- log ---\n${tail(L.log, 20)}\n${tail(L.stdoutLog, 10)}`);
  (err as Error & { portInUse?: boolean }).portInUse = /Address already in use/.test(tail(L.log, 20) + tail(L.stdoutLog, 10));
  throw err;
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    /* already gone */
  }
}

/**
 * Stop a master and its children. `graceful`: SIGTERM (Dovecot needs ~1.1 s to shut down), escalating to SIGKILL
 * of the process group after `timeoutMs`. `kill`: SIGKILL the process group at once (like a crash; ~instant).
 * Either way any leftover process in the group is killed before returning.
 */
async function terminate(child: ChildProcess, mode: "graceful" | "kill", timeoutMs = 5000): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  if (child.exitCode === null && child.signalCode === null) {
    const gone = new Promise<void>((r) => child.once("exit", () => r()));
    if (mode === "kill") killGroup(pid);
    else {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        /* already gone */
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      gone.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      killGroup(pid);
      await Promise.race([gone, new Promise((r) => setTimeout(r, 2000))]);
    }
  }
  killGroup(pid); // leftovers (e.g. an imap process still flushing) share the master's process group
  // Bounded wait until the group is gone (killed children are reaped by init asynchronously), so the ports and
  // files are really released when stop()/restart() resolve.
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline && groupAlive(pid)) await new Promise((r) => setTimeout(r, 10));
  live.delete(pid);
}

/** True while a non-zombie process is left in the group (zombies hold no ports/files; init reaps them lazily). */
function groupAlive(pgid: number): boolean {
  let entries: string[];
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${e}/stat`, "utf8");
    } catch {
      continue;
    }
    // "pid (comm) state ppid pgrp ..." - comm may contain spaces/parens, so parse after the last ')'
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(f[2]) === pgid && f[0] !== "Z" && f[0] !== "X") return true;
  }
  return false;
}

/**
 * Start a throwaway Dovecot on 127.0.0.1 with free ports, passwd-file users and Maildirs under a temp dir.
 * Works as root (mail as nobody, auth as dovecot, login as dovenull) and as non-root (everything as the caller).
 * Always pair with `await handle.stop()` (e.g. in `afterAll`); a process-exit hook is the safety net.
 */
export async function startDovecot(opts: StartDovecotOptions = {}): Promise<DovecotHandle> {
  const binary = opts.binary ?? process.env.DOVECOT_BIN ?? "/usr/sbin/dovecot";
  if (!fs.existsSync(binary)) {
    throw new Error(`dovecot helper: ${binary} not found (apt-get install -y --no-install-recommends dovecot-imapd dovecot-lmtpd)`);
  }
  const users = (opts.users ?? DEFAULT_MAIL_USERS).map((u) => ({ user: u.user.toLowerCase(), pass: u.pass }));
  for (const u of users) {
    splitAddress(u.user);
    if (/[:\n]/.test(u.user + u.pass)) throw new Error(`dovecot helper: ':' or newline not allowed in user/pass (${u.user})`);
  }
  const root = process.getuid?.() === 0;
  const dir = makeTempDir(root);
  try {
    let mailUid: number;
    let mailGid: number;
    if (root) {
      mailUid = lookupId("/etc/passwd", "nobody") ?? 65534;
      mailGid = lookupId("/etc/group", "nogroup") ?? lookupId("/etc/group", "nobody") ?? 65534;
      fs.chmodSync(dir, 0o755);
    } else {
      mailUid = process.getuid?.() ?? 0;
      mailGid = process.getgid?.() ?? 0;
    }
    const L: Layout = {
      dir,
      conf: path.join(dir, "dovecot.conf"),
      log: path.join(dir, "log", "dovecot.log"),
      stdoutLog: path.join(dir, "log", "stdout.log"),
      mailRoot: path.join(dir, "mail"),
      mailUid,
      mailGid,
      root,
    };
    for (const d of ["run", "state", "mail", "log"]) fs.mkdirSync(path.join(dir, d));
    if (root) fs.chownSync(L.mailRoot, mailUid, mailGid);
    const caPem = opts.tls ? generateCert(dir) : undefined;
    const greeting = `tau-test-dovecot-${crypto.randomBytes(6).toString("hex")}`;
    const timeoutMs = opts.startTimeoutMs ?? 10_000;

    // Free ports are only free until someone binds them; parallel test files race for them, so retry on EADDRINUSE.
    let child: ChildProcess | null = null;
    let ports: { imap: number; lmtp: number; imaps?: number } = { imap: 0, lmtp: 0 };
    for (let attempt = 1; !child; attempt++) {
      ports = { imap: await freePort(), lmtp: await freePort() };
      if (opts.tls) ports.imaps = await freePort();
      if (new Set(Object.values(ports)).size !== Object.keys(ports).length) continue;
      writeConfig(L, users, ports, greeting);
      try {
        child = await launch(binary, L, ports, greeting, timeoutMs);
      } catch (e) {
        if (!(e as { portInUse?: boolean }).portInUse || attempt >= 5) throw e;
      }
    }

    let current: ChildProcess | null = child;
    let removed = false;
    const handle: DovecotHandle = {
      host: HOST,
      imapPort: ports.imap,
      lmtpPort: ports.lmtp,
      ...(ports.imaps !== undefined ? { imapsPort: ports.imaps } : {}),
      ...(caPem !== undefined ? { caPem } : {}),
      users,
      dir,
      logPath: L.log,
      get pid() {
        return current?.pid ?? null;
      },
      maildirOf(user: string) {
        const { local, domain } = splitAddress(user);
        return path.join(L.mailRoot, domain, local, "Maildir");
      },
      logTail(lines = 30) {
        return tail(L.log, lines);
      },
      async stop() {
        if (current) {
          const c = current;
          current = null;
          await terminate(c, "kill");
        }
        if (!removed) {
          removed = true;
          fs.rmSync(dir, { recursive: true, force: true });
        }
      },
      async restart(restartOpts: { hard?: boolean } = {}) {
        if (removed) throw new Error("dovecot helper: restart() after stop()");
        if (current) {
          const c = current;
          current = null;
          await terminate(c, restartOpts.hard ? "kill" : "graceful");
        }
        current = await launch(binary, L, ports, greeting, timeoutMs);
      },
    };
    return handle;
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------- delivery & seeding
/** Result of an LMTP delivery. */
export interface LmtpDeliveryResult {
  accepted: string[];
  rejected: string[];
  response: string;
}

/**
 * Deliver one raw RFC 5322 message into Dovecot over LMTP (nodemailer `lmtp: true`), exactly as an MTA would.
 * Throws if every recipient is rejected (e.g. unknown user: `550 5.1.1 ... User doesn't exist`).
 */
export async function deliverViaLmtp(
  handle: Pick<DovecotHandle, "host" | "lmtpPort">,
  msg: { from: string; to: string | string[]; raw: string | Buffer },
): Promise<LmtpDeliveryResult> {
  const transport = nodemailer.createTransport({
    host: handle.host,
    port: handle.lmtpPort,
    lmtp: true,
    secure: false,
    ignoreTLS: true,
  });
  try {
    const info = await transport.sendMail({
      envelope: { from: msg.from, to: Array.isArray(msg.to) ? msg.to : [msg.to] },
      raw: msg.raw,
    });
    return {
      accepted: info.accepted.map(String),
      rejected: info.rejected.map(String),
      response: info.response,
    };
  } finally {
    transport.close();
  }
}

/** Options for {@link seedMailbox}. */
export interface SeedOptions {
  /**
   * `maildir` (default): write files straight into the user's `Maildir/new` (tmp → rename, owned by the mail
   * uid), which Dovecot picks up on the next mailbox sync; ~10k messages per second or more.
   * `lmtp`: deliver each message over pooled LMTP connections (slower, exercises Dovecot's delivery path).
   */
  via?: "maildir" | "lmtp";
  /** Envelope sender for `lmtp`. Default `seed@example.test`. */
  from?: string;
  /** Parallel LMTP connections for `lmtp`. Default 4. */
  connections?: number;
}

/** Outcome of {@link seedMailbox}. */
export interface SeedResult {
  count: number;
  elapsedMs: number;
}

const SEED_BASE_SEC = Math.floor(Date.now() / 1000);
let seedSeq = 0;

function mkdirOwned(root: string, rel: string[], uid: number, gid: number, chown: boolean): string {
  let p = root;
  for (const part of rel) {
    p = path.join(p, part);
    if (!fs.existsSync(p)) {
      fs.mkdirSync(p, { mode: 0o700 });
      if (chown) fs.chownSync(p, uid, gid);
    }
  }
  return p;
}

/**
 * Put `count` messages into `user`'s INBOX. `makeMessage(i)` (i = 0..count-1) returns the raw message.
 * With the default `maildir` method, UIDs are assigned in seeding order (file names sort by a per-process
 * sequence) at the next SELECT/STATUS/NOOP or IDLE wake-up; the files' mtime is the IMAP INTERNALDATE.
 * CRLF is stored as LF, as Dovecot's own deliveries do.
 */
export async function seedMailbox(
  handle: DovecotHandle,
  user: string,
  count: number,
  makeMessage: (i: number) => string | Buffer,
  opts: SeedOptions = {},
): Promise<SeedResult> {
  const t0 = performance.now();
  const u = user.toLowerCase();
  if (!handle.users.some((x) => x.user === u)) throw new Error(`seedMailbox: unknown user ${user}`);
  if ((opts.via ?? "maildir") === "lmtp") {
    const transport = nodemailer.createTransport({
      host: handle.host,
      port: handle.lmtpPort,
      lmtp: true,
      secure: false,
      ignoreTLS: true,
      pool: true,
      maxConnections: opts.connections ?? 4,
      maxMessages: Infinity,
    });
    try {
      let next = 0;
      const worker = async () => {
        while (next < count) {
          const i = next++;
          await transport.sendMail({ envelope: { from: opts.from ?? "seed@example.test", to: [u] }, raw: makeMessage(i) });
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, opts.connections ?? 4) }, worker));
    } finally {
      transport.close();
    }
    return { count, elapsedMs: performance.now() - t0 };
  }

  // Maildir delivery (http://cr.yp.to/proto/maildir.html): write into tmp/, rename into new/.
  const { local, domain } = splitAddress(u);
  const root = process.getuid?.() === 0;
  const stat = fs.statSync(path.join(handle.dir, "mail"));
  const uid = stat.uid;
  const gid = stat.gid;
  const maildir = mkdirOwned(path.join(handle.dir, "mail"), [domain, local, "Maildir"], uid, gid, root);
  for (const sub of ["cur", "new", "tmp"]) mkdirOwned(maildir, [sub], uid, gid, root);
  const host = os.hostname().replace(/[/:]/g, "_");
  const nonce = crypto.randomBytes(3).toString("hex");
  for (let i = 0; i < count; i++) {
    const m = makeMessage(i);
    // Maildir files use bare LF (Dovecot's own deliveries do); W= is the CRLF ("virtual") size.
    const text = (typeof m === "string" ? m : m.toString("utf8")).replace(/\r\n/g, "\n");
    const body = Buffer.from(text, "utf8");
    let lf = 0;
    for (const b of body) if (b === 0x0a) lf++;
    // Dovecot orders new files by the <secs>.M<usecs> prefix when assigning UIDs -> encode a process-wide
    // sequence there, so UIDs follow seeding order within and across calls.
    const seq = seedSeq++;
    const s = SEED_BASE_SEC + Math.floor(seq / 1_000_000);
    const usec = seq % 1_000_000;
    const name = `${s}.M${usec}P${process.pid}Q${nonce}.${host},S=${body.length},W=${body.length + lf}`;
    const tmp = path.join(maildir, "tmp", name);
    fs.writeFileSync(tmp, body, { mode: 0o600 });
    if (root) fs.chownSync(tmp, uid, gid);
    fs.renameSync(tmp, path.join(maildir, "new", name));
  }
  return { count, elapsedMs: performance.now() - t0 };
}
