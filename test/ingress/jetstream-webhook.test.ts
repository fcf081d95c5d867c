/**
 * A Telegram webhook on a `tau run` whose ingress is JetStream (real nats-server, tau as shipped): the 200 goes out
 * only once the update is in the stream (publish acknowledged); with nats-server stopped the webhook answers 5xx so
 * Telegram retries, and the retry after the restart is taken; a redelivered update is stored once and processed once.
 */
import { spawn, type ChildProcess } from "node:child_process";
import Database from "better-sqlite3";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../helpers/free-port.ts";
import { inspectStream, startNats, type TestNats } from "../helpers/nats.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";
import { until } from "../helpers/until.ts";

const SECRET = "tau-webhook_secret-0123456789";
const STREAM = "TAU_INGRESS";

let nats: TestNats | null = null;
let child: ChildProcess | null = null;
let home: TauHome | null = null;
afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child!.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  }
  child = null;
  await nats?.stop();
  nats = null;
  home?.cleanup();
  home = null;
});

/** A private message as Telegram posts it to the webhook. */
function update(updateId: number) {
  return {
    update_id: updateId,
    message: {
      message_id: updateId,
      date: 1_765_000_000,
      chat: { id: 4242, type: "private", first_name: "Ana" },
      from: { id: 4242, is_bot: false, first_name: "Ana" },
      text: `hello ${updateId}`,
    },
  };
}

async function post(url: string, body: unknown): Promise<number> {
  const r = await fetch(`${url}/webhooks/telegram`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-telegram-bot-api-secret-token": SECRET },
    body: JSON.stringify(body),
  });
  await r.arrayBuffer();
  return r.status;
}

function events(h: TauHome): string[] {
  try {
    const db = new Database(path.join(h.stateDir, "tau.db"), { readonly: true, fileMustExist: true });
    try {
      return db.prepare("SELECT event_id FROM events ORDER BY event_id").pluck().all() as string[];
    } finally {
      db.close();
    }
  } catch {
    return [];
  }
}

describe("Telegram webhook → JetStream", () => {
  it("answers 200 only after the publish ack, 5xx while nats-server is down; the retry is taken and processed once", async () => {
    nats = await startNats();
    home = makeTauHome(
      `runner:\n  coalesce_window_ms: 0\ningress:\n  driver: nats\n  nats_url: "${nats.url}"\n  stream: ${STREAM}\n  nats_ack_wait_ms: 1000\nconnectors:\n  telegram: { mode: webhook }\n`,
    );
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let stderr = "";
    child = spawn(process.execPath, ["bin/tau.js", "run", "--state-dir", home.stateDir, "--config", home.configPath], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, TAU_LOG_LEVEL: "error", TAU_SERVER_BIND: `127.0.0.1:${port}`, TAU_TELEGRAM_WEBHOOK_SECRET: SECRET },
    });
    child.stderr!.on("data", (d) => (stderr += d));
    await until(
      "tau run to serve HTTP",
      async () => {
        if (child!.exitCode !== null) throw new Error(`tau run exited ${child!.exitCode}: ${stderr}`);
        return fetch(`${url}/healthz`).then(
          (r) => r.arrayBuffer().then(() => true),
          () => null,
        );
      },
      60_000,
    );

    expect(await post(url, update(101))).toBe(200);
    // Acknowledged means stored: the stream holds it already (whether or not the runner took it since).
    expect((await inspectStream(nats.url, STREAM)).lastSeq).toBe(1);
    await until("update 101 to be processed", () => (events(home!).length === 1 ? true : null));

    await nats.pause();
    const down = await post(url, update(102));
    expect(down).toBeGreaterThanOrEqual(500);
    expect(down).toBeLessThan(600);

    await nats.restart();
    // Telegram retries a 5xx; once tau's connection is back, the retry gets its 200.
    await until("the retried update to be acknowledged", async () => ((await post(url, update(102))) === 200 ? true : null));
    expect((await inspectStream(nats.url, STREAM)).lastSeq).toBe(2);
    // A second delivery of the same update (a 200 lost on the way back): the stream keeps one copy.
    expect(await post(url, update(102))).toBe(200);
    expect((await inspectStream(nats.url, STREAM)).lastSeq).toBe(2);

    await until("update 102 to be processed", () => (events(home!).length === 2 ? true : null));
    await until("the consumer to settle", async () => {
      const s = await inspectStream(nats!.url, STREAM);
      return s.messages === 0 && s.consumer?.ackPending === 0 ? s : null;
    });
    expect(events(home)).toEqual(["telegram:6112:u:101", "telegram:6112:u:102"]);
    const exited = new Promise<number | null>((r) => child!.once("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  }, 120_000);
});
