/**
 * `/metrics` Prometheus can alert on (issue 11): the health verdict and the facts behind it, kill switches, connector
 * liveness and failure counters, deliveries by transport, alerts, build info and the default process metrics — served
 * by the real HTTP runtime over real state, the same verdict `/healthz` and `tau health` give.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createServices, healthFor, openApp, openIngressWriter, createAppRunner, type App } from "../../src/app/index.ts";
import { startHttpServer, type HttpRuntime } from "../../src/app/http-runtime.ts";
import { createWatchdog } from "../../src/app/watchdog.ts";
import { setKillSwitch } from "../../src/capabilities/killswitch/index.ts";
import { connectorStatusKey } from "../../src/health/connector-liveness.ts";
import { initialStatus } from "../../src/contracts/connector.ts";
import { createLogger } from "../../src/log.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";

let h: TauHome;
let app: App;
let http: HttpRuntime | null = null;
afterEach(async () => {
  await http?.server.close(100);
  http = null;
  app.close();
  h.cleanup();
});

describe("/metrics", () => {
  it("exposes health state, backlog, queue, outbox, dead letters, kill switches, connectors, last cycle, alerts, build", async () => {
    h = makeTauHome(
      [
        "runner:\n  coalesce_window_ms: 0\n",
        "features:\n  communications: false\n",
        "connectors:\n  telegram: { mode: polling }\n",
        'alerts:\n  cooldown_ms: 0\n  startup_grace_ms: 0\n  targets:\n    - { transport: telegram, account_id: "6112", conversation_id: "-1" }\n',
      ].join(""),
      {
        "channel-policy.yaml": OPEN_CHANNEL_POLICY,
        "route-bindings.yaml": "schema_version: 1\nbindings: []\n",
        "rbac.yaml": "schema_version: 1\n",
      },
    );
    app = openApp({
      stateDir: h.stateDir,
      configPath: h.configPath,
      env: {},
      logger: createLogger({ level: "silent", includeIdentifiers: false }),
    });
    const services = createServices(app);
    const w = openIngressWriter(app);
    await w.append("telegram", [makeDm("4242", { event_id: "telegram:6112:u:1", received_at_ms: Date.now(), text: "hi" })]);
    await w.close();
    const { runner, close } = createAppRunner(app, { services });
    await runner.drain();
    close();
    // A second event waits (90 s old); the outbound switch is on; the Telegram connector failed auth twice.
    const w2 = openIngressWriter(app);
    await w2.append("telegram", [makeDm("4242", { event_id: "telegram:6112:u:2", received_at_ms: Date.now() - 90_000, text: "hi" })]);
    await w2.close();
    setKillSwitch(app.store, { scope: "outbound", on: true, reason: "drill", actor: "cli:ops", surface: "cli" }, Date.now(), (e) =>
      services.audit(e),
    );
    app.store.kv.put(
      connectorStatusKey("telegram"),
      JSON.stringify({
        status: { ...initialStatus("telegram", "polling"), liveness: "failing", auth_failures: 2 },
        updated_at_ms: Date.now(),
      }),
    );
    await createWatchdog(app, services, { startedAt: 0 }).tick();
    http = await startHttpServer(app, null, { health: () => healthFor(app), bind: "127.0.0.1:0" });
    const text = await (await fetch(`${http.server.url}/metrics`)).text();
    const lines = text.split("\n");
    for (const line of [
      'tau_health_state{state="healthy"} 0',
      'tau_health_state{state="degraded"} 1',
      'tau_health_state{state="failing"} 0',
      'tau_health_reason{reason="kill_switch_on:outbound"} 1',
      'tau_health_reason{reason="backlog_over_threshold"} 1',
      'tau_health_reason{reason="connector_not_live:telegram"} 1',
      "tau_queue_depth 1",
      "tau_dead_letters 0",
      'tau_kill_switch{scope="outbound"} 1',
      'tau_connector_live{transport="telegram"} 0',
      'tau_connector_failures_total{transport="telegram",kind="auth"} 2',
      'tau_deliveries_total{reason="delivery_dry_run",transport="telegram"} 1',
      'tau_alerts_total{severity="SEV-2",transition="firing"} 3',
      'tau_alerts_total{severity="SEV-3",transition="firing"} 1',
      "tau_alerts_undelivered 1",
      "tau_outbox_pending 1",
    ])
      expect(lines).toContain(line);
    const gauge = (name: string) => Number(lines.find((l) => l.startsWith(`${name} `))!.split(" ")[1]);
    expect(gauge("tau_backlog_age_seconds")).toBeGreaterThanOrEqual(90);
    expect(gauge("tau_runner_last_cycle_timestamp_seconds")).toBeGreaterThan(1_700_000_000);
    expect(lines.some((l) => /^tau_build_info\{version="0\.1\.0",node="\d+\.\d+\.\d+"\} 1$/.test(l))).toBe(true);
    expect(text).toContain("process_resident_memory_bytes");
    expect(text).toContain("nodejs_heap_size_used_bytes");
    // The same verdict as /healthz.
    const hz = (await (await fetch(`${http.server.url}/healthz`)).json()) as { state: string; reason_codes: string[] };
    expect(hz.state).toBe("degraded");
    expect(hz.reason_codes.map((r) => `tau_health_reason{reason="${r}"} 1`).every((l) => lines.includes(l))).toBe(true);
  });
});
