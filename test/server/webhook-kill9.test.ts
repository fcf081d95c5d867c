/**
 * kill -9 the webhook server mid-load: every request that got a 200 must be in the ingress file exactly
 * once (write ingress before acking). The child is `tau connectors run` with WhatsApp in webhook mode.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../helpers/free-port.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";
import { inboundMessage, signWebhook, webhookBody } from "../helpers/whatsapp-graph-server.ts";

const APP_SECRET = "kill9-app-secret";
const CHILD = fileURLToPath(new URL("../helpers/tau-cli-child.ts", import.meta.url));

let home: TauHome | null = null;
let child: ChildProcess | null = null;
afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  child = null;
  home?.cleanup();
  home = null;
});

async function waitForServer(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fetch(`${url}/healthz`);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`webhook server did not come up within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe("webhook server under kill -9", () => {
  it("every acknowledged webhook is in ingress exactly once", async () => {
    home = makeTauHome("");
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let stderr = "";
    child = spawn(
      process.execPath,
      ["--import", "tsx", CHILD, "connectors", "run", "--state-dir", home.stateDir, "--config", home.configPath],
      {
        stdio: ["ignore", "ignore", "pipe"],
        env: {
          ...process.env,
          TAU_LOG_LEVEL: "error",
          TAU_CONNECTORS_WHATSAPP_MODE: "webhook",
          TAU_WHATSAPP_APP_SECRET: APP_SECRET,
          TAU_WHATSAPP_VERIFY_TOKEN: "kill9-verify",
          TAU_SERVER_BIND: `127.0.0.1:${port}`,
        },
      },
    );
    child.stderr!.on("data", (d) => (stderr += d));
    const exited = new Promise<string | null>((resolve) => child!.once("exit", (_code, signal) => resolve(signal)));
    await waitForServer(url, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${stderr}`);
    });

    const acked: string[] = [];
    let inFlightAtKill = 0;
    let killed = false;
    const KILL_AFTER_ACKS = 300;
    const worker = async (w: number) => {
      // Each worker posts until its connection dies with the server: a kill never lands after the load (a 200 that
      // arrives after the SIGKILL was sent is still an acknowledgement, and counted as one).
      for (let i = 0; i < 10_000; i++) {
        const id = `wamid.K9_${w}_${i}`;
        const body = webhookBody({
          messages: [inboundMessage({ from: "16505551234", id, timestamp: 1763712000, text: `load ${w}/${i} ü` })],
        });
        try {
          const r = await fetch(`${url}/webhooks/whatsapp`, {
            method: "POST",
            headers: { "content-type": "application/json", "x-hub-signature-256": signWebhook(APP_SECRET, body) },
            body,
          });
          await r.arrayBuffer();
          if (r.status === 200) acked.push(`whatsapp:${id}`);
          else throw new Error(`unexpected ${r.status}`);
        } catch (err) {
          if (killed) {
            inFlightAtKill += 1; // the connection died with the server: not acknowledged
            return;
          }
          throw err;
        }
        if (!killed && acked.length >= KILL_AFTER_ACKS) {
          killed = true;
          child!.kill("SIGKILL");
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, w) => worker(w)));
    expect(await exited).toBe("SIGKILL");

    const file = path.join(home.stateDir, "ingress", "whatsapp.ndjson");
    const lines = fs.readFileSync(file, "utf8").split("\n");
    const ids: string[] = [];
    lines.forEach((line, i) => {
      if (line === "") return;
      try {
        ids.push((JSON.parse(line) as { event_id: string }).event_id);
      } catch (err) {
        // Only the very last line may be torn by the kill, and it was never acknowledged.
        if (i !== lines.length - 1) throw err;
      }
    });
    const counts = new Map<string, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect(acked.length).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);
    expect(inFlightAtKill).toBeGreaterThan(0); // the kill landed mid-load, not after it
    expect(acked.filter((id) => counts.get(id) !== 1)).toEqual([]);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  }, 90_000);
});
