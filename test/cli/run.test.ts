/** `tau run` as a child process: connectors + server + runner in one process; SIGHUP reloads, SIGTERM drains and exits 0. */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../helpers/free-port.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";
import { inboundMessage, signWebhook, webhookBody } from "../helpers/whatsapp-graph-server.ts";

const CHILD = fileURLToPath(new URL("../helpers/tau-cli-child.ts", import.meta.url));
const APP_SECRET = "run-app-secret";

let home: TauHome | null = null;
let child: ChildProcess | null = null;
afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  home?.cleanup();
});

async function until<T>(fn: () => Promise<T | null>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("tau run", () => {
  it("serves webhooks, processes them, reloads policies on SIGHUP, and exits 0 on SIGTERM", async () => {
    home = makeTauHome("outbound:\n  mode: dry-run\nrunner:\n  coalesce_window_ms: 0\n  poll_interval_ms: 50\n");
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let stderr = "";
    child = spawn(process.execPath, ["--import", "tsx", CHILD, "run", "--state-dir", home.stateDir, "--config", home.configPath], {
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        ...process.env,
        TAU_LOG_LEVEL: "info",
        TAU_CONNECTORS_WHATSAPP_MODE: "webhook",
        TAU_WHATSAPP_APP_SECRET: APP_SECRET,
        TAU_SERVER_BIND: `127.0.0.1:${port}`,
      },
    });
    child.stderr!.on("data", (d) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child!.once("exit", (code, signal) => resolve({ code, signal })),
    );

    const ready = await until(
      async () => {
        const r = await fetch(`${url}/readyz`);
        return r.status === 200 ? await r.text() : null;
      },
      30_000,
      "/readyz 200",
    );
    // The health verdict is part of readiness (this home lacks rbac.yaml, so it is degraded: ready, not failing).
    expect(ready).toBe("whatsapp:ready\nrunner:ready\nhealth:degraded\n");

    const body = webhookBody({
      messages: [inboundMessage({ from: "16505551234", id: "wamid.RUN1", timestamp: 1763712000, text: "hello tau" })],
    });
    const r = await fetch(`${url}/webhooks/whatsapp`, {
      method: "POST",
      headers: { "x-hub-signature-256": signWebhook(APP_SECRET, body) },
      body,
    });
    expect(r.status).toBe(200);
    const metrics = await until(
      async () => {
        const text = await (await fetch(`${url}/metrics`)).text();
        return text.includes("tau_events_processed_total 1") ? text : null;
      },
      15_000,
      "the runner to process the event",
    );
    expect(metrics.split("\n")).toContain('tau_events_ingested_total{transport="whatsapp"} 1');

    child.kill("SIGHUP");
    await until(async () => (stderr.includes('"event":"policy.reloaded"') ? true : null), 10_000, "policy reload log line");

    const t0 = Date.now();
    child.kill("SIGTERM");
    const exit = await exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(stderr).toContain('"event":"service.stopped"');
    expect(stderr).not.toContain(APP_SECRET);
  }, 90_000);
});
