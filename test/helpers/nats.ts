/**
 * @module Test helper: a real nats-server (Debian `nats-server`) with JetStream on, listening on a free loopback port
 * with its store in a temp dir. `stop()` ends it (SIGTERM, then the dir is removed), `kill()` crashes it (SIGKILL,
 * the store dir kept so `restart()` brings the same streams back on the same port). Every server still alive when
 * the test worker exits is killed and its dir removed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { freePort } from "./free-port.ts";

export interface TestNats {
  /** `nats://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** The JetStream store dir (`-sd`). */
  storeDir: string;
  /** Graceful stop (SIGTERM, waits for the exit) and removal of the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL, like a crash; the store dir stays for `restart()`. Idempotent. */
  kill(): Promise<void>;
  /** Start again on the same port with the same store dir (after `kill()`, or a `stop({ keep: true })`). */
  restart(): Promise<void>;
  /** Stop without removing the store dir (the next `restart()` finds the streams). */
  pause(): Promise<void>;
}

const HOST = "127.0.0.1";

/** The nats-server binary: PATH first, then the Debian location. */
export function natsServerBinary(): string | null {
  for (const dir of [...(process.env.PATH ?? "").split(":").filter(Boolean), "/usr/sbin", "/usr/bin", "/usr/local/bin"]) {
    const p = path.join(dir, "nats-server");
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

const live = new Set<ChildProcess>();
const dirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of live) {
      try {
        child.kill("SIGKILL");
      } catch {
        /* gone */
      }
    }
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });
}

/** The INFO line the server sends first, parsed; rejects on error, close or timeout. */
function readInfo(port: number, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: HOST, port });
    let buf = "";
    const done = (err: Error | null, info?: Record<string, unknown>) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(info ?? {});
    };
    const timer = setTimeout(() => done(new Error("no INFO from nats-server")), timeoutMs);
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      const line = buf.slice(0, nl).trim();
      try {
        done(null, JSON.parse(line.replace(/^INFO\s+/, "")) as Record<string, unknown>);
      } catch (err) {
        done(err as Error);
      }
    });
    sock.on("error", (e) => done(e));
    sock.on("close", () => done(new Error("closed before INFO")));
  });
}

async function waitReady(child: ChildProcess, port: number, log: () => string, deadlineMs = 15_000): Promise<void> {
  const until = performance.now() + deadlineMs;
  let lastErr: unknown = null;
  while (performance.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`nats-server exited (${child.exitCode ?? child.signalCode}):\n${log()}`);
    try {
      const info = await readInfo(port, 1000);
      if (info.jetstream === true) return;
      lastErr = new Error("JetStream not enabled in INFO");
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nats-server not ready on ${port}: ${(lastErr as Error)?.message}\n${log()}`);
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Start nats-server with JetStream (`-js -sd <temp dir>`) on a free 127.0.0.1 port; resolves once it serves JetStream. */
export async function startNats(): Promise<TestNats> {
  const bin = natsServerBinary();
  if (!bin) throw new Error("nats-server not found: install the Debian package `nats-server` (.ci/run does)");
  installExitHook();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-nats-"));
  dirs.add(dir);
  const storeDir = path.join(dir, "js");
  const logFile = path.join(dir, "nats.log");
  let port = 0;
  let child: ChildProcess | null = null;
  const log = () => {
    try {
      return fs.readFileSync(logFile, "utf8").split("\n").slice(-20).join("\n");
    } catch {
      return "";
    }
  };

  async function launch(fixedPort: number | null): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      port = fixedPort ?? (await freePort());
      const c = spawn(bin!, ["-a", HOST, "-p", String(port), "-js", "-sd", storeDir, "-l", logFile], {
        stdio: "ignore",
      });
      try {
        await waitReady(c, port, log);
        child = c;
        live.add(c);
        return;
      } catch (err) {
        c.kill("SIGKILL");
        await waitExit(c);
        if (attempt >= 3 || fixedPort !== null) throw err;
      }
    }
  }

  async function end(signal: NodeJS.Signals): Promise<void> {
    const c = child;
    if (!c) return;
    child = null;
    live.delete(c);
    c.kill(signal);
    await waitExit(c);
  }

  await launch(null);
  let removed = false;
  return {
    get url() {
      return `nats://${HOST}:${port}`;
    },
    get port() {
      return port;
    },
    storeDir,
    async stop() {
      await end("SIGTERM");
      if (!removed) {
        removed = true;
        dirs.delete(dir);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    async kill() {
      await end("SIGKILL");
    },
    async pause() {
      await end("SIGTERM");
    },
    async restart() {
      if (removed) throw new Error("nats helper: restart() after stop() (the store dir is gone)");
      await end("SIGTERM");
      await launch(port);
    },
  };
}

/** What a stream holds now (`messages` left, `last_seq` ever stored) and its durable consumer's lag, read with the SDK. */
export async function inspectStream(
  url: string,
  stream: string,
  consumer = "tau-runner",
): Promise<{ messages: number; lastSeq: number; consumer: { pending: number; ackPending: number; redelivered: number } | null }> {
  const { connect } = await import("@nats-io/transport-node");
  const { jetstreamManager } = await import("@nats-io/jetstream");
  const nc = await connect({ servers: url, name: "tau-test-inspect" });
  try {
    const jsm = await jetstreamManager(nc);
    const st = (await jsm.streams.info(stream)).state;
    const ci = await jsm.consumers.info(stream, consumer).catch(() => null);
    return {
      messages: st.messages,
      lastSeq: st.last_seq,
      consumer: ci ? { pending: ci.num_pending, ackPending: ci.num_ack_pending, redelivered: ci.num_redelivered } : null,
    };
  } finally {
    await nc.close();
  }
}

/** The messages a stream holds (subject, `Nats-Msg-Id`, body as text), read by sequence with the SDK. */
export async function streamMessages(
  url: string,
  stream: string,
): Promise<{ seq: number; subject: string; msgId: string | null; body: string }[]> {
  const { connect } = await import("@nats-io/transport-node");
  const { jetstreamManager } = await import("@nats-io/jetstream");
  const nc = await connect({ servers: url, name: "tau-test-inspect" });
  try {
    const jsm = await jetstreamManager(nc);
    const st = (await jsm.streams.info(stream)).state;
    const out: { seq: number; subject: string; msgId: string | null; body: string }[] = [];
    for (let seq = st.first_seq; seq <= st.last_seq && st.messages > 0; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (m) out.push({ seq, subject: m.subject, msgId: m.header?.get("Nats-Msg-Id") || null, body: m.string() });
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** Publish raw bytes to a subject of the stream (what another publisher could put there), waiting for the stream's ack. */
export async function publishRaw(
  url: string,
  subject: string,
  body: string | Uint8Array,
  msgId: string,
): Promise<{ seq: number; duplicate: boolean }> {
  const { connect } = await import("@nats-io/transport-node");
  const { jetstream } = await import("@nats-io/jetstream");
  const nc = await connect({ servers: url, name: "tau-test-publish" });
  try {
    const ack = await jetstream(nc).publish(subject, body, { msgID: msgId });
    return { seq: ack.seq, duplicate: ack.duplicate };
  } finally {
    await nc.close();
  }
}

/** Delete every stream (and so its consumers) of the server: tests sharing one server each start from an empty one. */
export async function deleteAllStreams(url: string): Promise<void> {
  const { connect } = await import("@nats-io/transport-node");
  const { jetstreamManager } = await import("@nats-io/jetstream");
  const nc = await connect({ servers: url, name: "tau-test-reset" });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const name of jsm.streams.names()) await jsm.streams.delete(name);
  } finally {
    await nc.close();
  }
}
