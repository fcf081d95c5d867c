/**
 * Readiness on JetStream ingress, against a real nats-server: a node whose intake cannot be acknowledged (NATS down,
 * not yet connected) is not ready — `/readyz` says so with an `ingress:` line — and a node asked before its first
 * webhook starts connecting, so a load balancer that waits for readiness before sending traffic is not deadlocked.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startConnectors, type RunningConnectors } from "../../src/app/connectors-runtime.ts";
import { startHttpServer, type HttpRuntime } from "../../src/app/http-runtime.ts";
import { healthFor, openApp, type App } from "../../src/app/index.ts";
import { openConfiguredIngressWriter } from "../../src/ingress/index.ts";
import { loadConfig } from "../../src/config/index.ts";
import { makeEnvelope } from "../helpers/envelope-factory.ts";
import { startNats, type TestNats } from "../helpers/nats.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";
import { until } from "../helpers/until.ts";

const natsYaml = (url: string) => `ingress:\n  driver: nats\n  nats_url: "${url}"\n  stream: TAU_READY\nrunner:\n  coalesce_window_ms: 0\n`;

let nats: TestNats | null = null;
let home: TauHome | null = null;
let app: App | null = null;
let running: RunningConnectors | null = null;
let http: HttpRuntime | null = null;
afterEach(async () => {
  await http?.server.close(1000);
  await running?.stop();
  app?.close();
  home?.cleanup();
  await nats?.stop();
  [nats, home, app, running, http] = [null, null, null, null, null];
});

describe("JetStream intake readiness", () => {
  it("the writer: connecting when first asked (and connects), ready, disconnected while NATS is down, ready again", async () => {
    nats = await startNats();
    home = makeTauHome(natsYaml(nats.url));
    const config = loadConfig({ configPath: home.configPath, env: {} }).config;
    const w = openConfiguredIngressWriter(config, home.stateDir, true);
    try {
      // Nothing appended yet: asking starts the connection.
      expect(w.readiness!()).toEqual({ code: "ingress_nats_connecting", ok: false });
      await until("the writer to connect", () => (w.readiness!().ok ? true : null));
      expect(w.readiness!()).toEqual({ code: "ready", ok: true });
      await nats.pause();
      expect(await until("the loss to show", () => (w.readiness!().ok ? null : w.readiness!()))).toEqual({
        code: "ingress_nats_disconnected",
        ok: false,
      });
      await nats.restart();
      await until("the client to reconnect", () => (w.readiness!().ok ? true : null));
      await w.append("telegram", [makeEnvelope({ event_id: "telegram:6112:u:1" })]);
    } finally {
      await w.close();
    }
  }, 60_000);

  it("a server nobody answers on: unavailable, and /readyz is 503 with the ingress line until NATS is there", async () => {
    // A server that has gone away: its port answers nothing until it is started again.
    nats = await startNats();
    await nats.pause();
    home = makeTauHome(natsYaml(nats.url));
    app = openApp({ stateDir: home.stateDir, configPath: home.configPath, env: {} });
    running = await startConnectors(app);
    http = await startHttpServer(app, running, { health: () => healthFor(app!), bind: "127.0.0.1:0" });
    const readyz = async () => {
      const r = await fetch(`${http!.server.url}/readyz`);
      return { status: r.status, lines: (await r.text()).trim().split("\n") };
    };
    // Before: /readyz had no ingress line and answered 200 while every webhook would have been refused.
    const down = await until("the failed connect to show", async () => {
      const r = await readyz();
      return r.lines.includes("ingress:ingress_nats_unavailable") ? r : null;
    });
    expect(down.status).toBe(503);

    await nats.restart();
    const up = await until("readiness once NATS is there", async () => {
      const r = await readyz();
      return r.status === 200 ? r : null;
    });
    expect(up.lines).toContain("ingress:ready");
  }, 60_000);
});
