/**
 * @module Test helper: a throwaway real Radicale (Debian package `radicale`, CalDAV + CardDAV) on 127.0.0.1 from a
 * temp dir, with htpasswd authentication and owner-only rights, plus raw WebDAV calls to set it up (MKCALENDAR,
 * extended MKCOL for address books, PUT) the way another client would. `stop()`/`start()` take it down and bring it
 * back on the same port with the same data (server-down tests).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "./free-port.ts";

export interface RadicaleUser {
  user: string;
  pass: string;
}

export interface RadicaleHandle {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  port: number;
  dir: string;
  users: RadicaleUser[];
  readonly running: boolean;
  /** A raw authenticated request (`path` relative to the root), as another CalDAV client would make it. */
  request(user: RadicaleUser, method: string, pathname: string, body?: string, headers?: Record<string, string>): Promise<Response>;
  /** MKCALENDAR `/<user>/<name>/` with a display name; returns the collection URL. */
  mkcalendar(user: RadicaleUser, name: string, displayName?: string): Promise<string>;
  /** Extended MKCOL (RFC 5689) of an address book `/<user>/<name>/`; returns its URL. */
  mkaddressbook(user: RadicaleUser, name: string, displayName?: string): Promise<string>;
  /** PUT an object into a collection (`/<user>/<collection>/<file>`); returns its ETag. */
  put(user: RadicaleUser, collectionPath: string, file: string, body: string, contentType?: string): Promise<string | null>;
  logTail(lines?: number): string;
  /** Stop the server (its data stays). */
  stop(): Promise<void>;
  /** Start it again on the same port. */
  start(): Promise<void>;
  /** Stop and remove the temp dir. Idempotent. */
  close(): Promise<void>;
}

/** The radicale binary (`$RADICALE_BIN`, else `/usr/bin/radicale`), or null when it is not installed. */
export function radicaleBinary(): string | null {
  for (const candidate of [process.env.RADICALE_BIN, "/usr/bin/radicale", "/usr/local/bin/radicale"]) {
    if (candidate && fs.existsSync(candidate)) return candidate;
  }
  return null;
}

/** Why Radicale tests are skipped, or null when they can run. */
export function radicaleSkipReason(): string | null {
  return radicaleBinary()
    ? null
    : "radicale is not installed (Debian: apt-get install -y radicale; .ci/run installs it) — CalDAV tests skipped";
}

const live = new Set<ChildProcess>();
let hookInstalled = false;
function installExitHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  process.on("exit", () => {
    for (const c of live) {
      try {
        process.kill(-c.pid!, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
  });
}

async function waitUntilServing(url: string, child: ChildProcess, deadlineMs: number, log: () => string): Promise<void> {
  const until = performance.now() + deadlineMs;
  while (performance.now() < until) {
    if (child.exitCode !== null) throw new Error(`radicale exited with ${child.exitCode}:\n${log()}`);
    try {
      const r = await fetch(url, { method: "OPTIONS", signal: AbortSignal.timeout(500) });
      await r.arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error(`radicale did not answer on ${url} within ${deadlineMs} ms:\n${log()}`);
}

/** Start Radicale with `users` (default `ops`/`secret`) on a free loopback port. */
export async function startRadicale(
  opts: {
    users?: RadicaleUser[];
    startTimeoutMs?: number;
    /** Parent of the temp dir (default the OS temp dir; benches pass /dev/shm: Radicale fsyncs every item it writes). */
    baseDir?: string;
  } = {},
): Promise<RadicaleHandle> {
  const bin = radicaleBinary();
  if (!bin) throw new Error(radicaleSkipReason()!);
  installExitHook();
  const users = opts.users ?? [{ user: "ops", pass: "secret" }];
  const dir = fs.mkdtempSync(path.join(opts.baseDir ?? os.tmpdir(), "tau-radicale-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  fs.writeFileSync(path.join(dir, "users"), users.map((u) => `${u.user}:${u.pass}`).join("\n") + "\n", { mode: 0o600 });
  fs.writeFileSync(
    path.join(dir, "config"),
    [
      "[server]",
      `hosts = 127.0.0.1:${port}`,
      "[auth]",
      "type = htpasswd",
      `htpasswd_filename = ${path.join(dir, "users")}`,
      "htpasswd_encryption = plain",
      // No artificial delay after a wrong password: the wrong-password test stays fast.
      "delay = 0",
      "[rights]",
      "type = owner_only",
      "[storage]",
      `filesystem_folder = ${path.join(dir, "collections")}`,
      "[web]",
      "type = none",
      "[logging]",
      "level = warning",
      "mask_passwords = True",
      "",
    ].join("\n"),
  );
  const logPath = path.join(dir, "radicale.log");
  let child: ChildProcess | null = null;
  const logTail = (lines = 30) => {
    try {
      return fs.readFileSync(logPath, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  };
  const start = async () => {
    if (child) return;
    const out = fs.openSync(logPath, "a");
    const c = spawn(bin, ["-C", path.join(dir, "config")], { detached: true, stdio: ["ignore", out, out] });
    fs.closeSync(out);
    live.add(c);
    child = c;
    await waitUntilServing(url, c, opts.startTimeoutMs ?? 15_000, logTail);
  };
  const stop = async () => {
    const c = child;
    if (!c) return;
    child = null;
    const exited = new Promise<void>((resolve) => (c.exitCode !== null ? resolve() : c.once("exit", () => resolve())));
    try {
      process.kill(-c.pid!, "SIGKILL");
    } catch {
      /* already gone */
    }
    await exited;
    live.delete(c);
  };
  const auth = (u: RadicaleUser) => `Basic ${Buffer.from(`${u.user}:${u.pass}`).toString("base64")}`;
  const request = (u: RadicaleUser, method: string, pathname: string, body?: string, headers: Record<string, string> = {}) =>
    fetch(new URL(pathname, url), { method, body, headers: { authorization: auth(u), ...headers } });
  const handle: RadicaleHandle = {
    url,
    port,
    dir,
    users,
    get running() {
      return child !== null;
    },
    request,
    async mkcalendar(u, name, displayName = name) {
      const body = `<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>${displayName}</D:displayname><C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>`;
      const r = await request(u, "MKCALENDAR", `/${u.user}/${name}/`, body, { "content-type": "application/xml" });
      if (r.status !== 201) throw new Error(`MKCALENDAR ${name}: HTTP ${r.status} ${await r.text()}`);
      return new URL(`/${u.user}/${name}/`, url).href;
    },
    async mkaddressbook(u, name, displayName = name) {
      const body = `<?xml version="1.0" encoding="utf-8"?><D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype><D:displayname>${displayName}</D:displayname></D:prop></D:set></D:mkcol>`;
      const r = await request(u, "MKCOL", `/${u.user}/${name}/`, body, { "content-type": "application/xml" });
      if (r.status !== 201) throw new Error(`MKCOL ${name}: HTTP ${r.status} ${await r.text()}`);
      return new URL(`/${u.user}/${name}/`, url).href;
    },
    async put(u, collectionPath, file, body, contentType = "text/calendar; charset=utf-8") {
      const r = await request(u, "PUT", `${collectionPath.replace(/\/?$/, "/")}${file}`, body, { "content-type": contentType });
      if (r.status !== 201 && r.status !== 204) throw new Error(`PUT ${file}: HTTP ${r.status} ${await r.text()}`);
      return r.headers.get("etag");
    },
    logTail,
    stop,
    start,
    async close() {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await start();
  } catch (err) {
    await handle.close();
    throw err;
  }
  return handle;
}
