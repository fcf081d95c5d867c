/** src/app/connectors-runtime.ts: connectors built from tau.yaml over real state, logout/login flips, persisted status. */
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { connectorsNotLiveOf, readConnectorStatuses, startConnectors, type RunningConnectors } from "../../src/app/connectors-runtime.ts";
import { metricsSnapshotSource } from "../../src/app/http-runtime.ts";
import { openApp, type App } from "../../src/app/index.ts";
import { waitFor } from "../helpers/connector-harness.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";

const TOKEN = "6112:AAH-tau-runtime-token_abcdefghijk";
const ENV = { TAU_TELEGRAM_BOT_TOKEN: TOKEN, TAU_WHATSAPP_APP_SECRET: "rt-secret", TAU_WHATSAPP_VERIFY_TOKEN: "rt-verify" };
const TEXT = {
  message: {
    message_id: 1,
    from: { id: 4242, is_bot: false, first_name: "Ana" },
    chat: { id: 4242, type: "private", first_name: "Ana" },
    date: 1763712000,
    text: "hi",
  },
};

let server: TelegramBotApiServer;
let home: TauHome;
let app: App;
let running: RunningConnectors | null = null;
const extraApps: App[] = [];

beforeEach(async () => {
  server = await startTelegramBotApiServer({ token: TOKEN, botUser: { username: "tau_ops_bot" }, firstUpdateId: 1000 });
  home = makeTauHome(`connectors:
  telegram: { mode: polling, api_root: "${server.url}", poll_timeout_s: 1 }
  whatsapp: { mode: webhook }
`);
  app = openApp({ stateDir: home.stateDir, configPath: home.configPath, env: ENV });
});
afterEach(async () => {
  await running?.stop();
  running = null;
  for (const a of extraApps.splice(0)) a.close();
  app.close();
  await server.close();
  home.cleanup();
});

/** Another process's view of the same state. */
function otherProcess(): App {
  const a = openApp({ stateDir: home.stateDir, configPath: home.configPath, env: {} });
  extraApps.push(a);
  return a;
}
const ingressLines = (t: string) => {
  const f = path.join(home.stateDir, "ingress", `${t}.ndjson`);
  return fs.existsSync(f)
    ? fs
        .readFileSync(f, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { event_id: string })
    : [];
};

describe("startConnectors", () => {
  it("runs the enabled connectors over app state: ingress file, kv cursor, persisted status, webhook routes, readiness", async () => {
    running = await startConnectors(app, { lifecycleCheckMs: 50, statusPersistMs: 20 });
    expect([...running.connectors.keys()]).toEqual(["telegram", "whatsapp"]);
    expect(running.routes.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /webhooks/whatsapp", "POST /webhooks/whatsapp"]);
    await server.waitForParkedPoll();
    server.pushUpdate(TEXT);
    await waitFor(() => app.store.kv.get("connector:telegram:offset") === "1001", 5000, "offset in kv");
    expect(ingressLines("telegram").map((e) => e.event_id)).toEqual(["telegram:6112:u:1000"]);

    const view = otherProcess();
    await waitFor(
      () => readConnectorStatuses(view).find((s) => s.transport === "telegram")!.events_ingested === 1,
      5000,
      "persisted status",
    );
    const statuses = readConnectorStatuses(view);
    expect(statuses.map((s) => [s.transport, s.mode, s.liveness])).toEqual([
      ["telegram", "polling", "live"],
      ["discord", "disabled", "stopped"],
      ["whatsapp", "webhook", "live"],
      ["email", "disabled", "stopped"],
    ]);
    expect(running.readiness()).toEqual([
      { key: "telegram", code: "ready", ok: true },
      { key: "whatsapp", code: "ready", ok: true },
    ]);
    expect(connectorsNotLiveOf(view)).toEqual([]);
    expect(await metricsSnapshotSource(app, running)()).toMatchObject({
      ingestedByTransport: { telegram: 1, whatsapp: 0 },
      connectorLive: { telegram: 1, whatsapp: 1 },
    });
  });

  it("stops a transport when `tau channel logout` flips its lifecycle key, and resumes it on login without losing updates", async () => {
    running = await startConnectors(app, { lifecycleCheckMs: 50, statusPersistMs: 20 });
    await server.waitForParkedPoll();
    app.store.kv.put("lifecycle:telegram", JSON.stringify({ state: "logged_out" }));
    await waitFor(() => running!.connectors.get("telegram")!.status().liveness === "stopped", 5000, "telegram stopped");
    server.pushUpdate(TEXT);
    const view = otherProcess();
    await waitFor(() => readConnectorStatuses(view)[0]!.last_error_code === "logout_requested", 5000, "logout in status");
    expect(readConnectorStatuses(view)[0]!.liveness).toBe("stopped");
    expect(running.readiness()[0]).toEqual({ key: "telegram", code: "logout_requested", ok: true });
    expect(connectorsNotLiveOf(view)).toEqual([]); // logged out on purpose: not a health problem
    expect(ingressLines("telegram")).toEqual([]);
    expect(server.pendingUpdates()).toHaveLength(1);

    app.store.kv.put("lifecycle:telegram", JSON.stringify({ state: "logged_in" }));
    await waitFor(() => ingressLines("telegram").length === 1, 5000, "update after login");
    expect(running.connectors.get("telegram")!.status().liveness).toBe("live");
  });

  it("does not start a transport that is logged out at startup", async () => {
    app.store.kv.put("lifecycle:telegram", JSON.stringify({ state: "logged_out" }));
    running = await startConnectors(app, { lifecycleCheckMs: 50 });
    expect(running.connectors.get("telegram")!.status().liveness).toBe("stopped");
    expect(server.requests).toEqual([]);
    expect(readConnectorStatuses(app)[0]).toMatchObject({ liveness: "stopped", last_error_code: "logout_requested" });
  });

  it("reports a status whose writer went quiet as stale, and not-live connectors to health", async () => {
    const at = app.clock();
    app.store.kv.put(
      "connector_status:telegram",
      JSON.stringify({
        status: {
          transport: "telegram",
          mode: "polling",
          liveness: "live",
          events_ingested: 4,
          duplicates_skipped: 0,
          retry_attempts: 0,
          auth_failures: 0,
          parse_failures: 0,
          provider_failures: 0,
          last_error_code: null,
          last_success_unix_ms: at - 60_000,
          last_error_unix_ms: null,
        },
        updated_at_ms: at - 60_000,
      }),
    );
    expect(readConnectorStatuses(app)[0]).toMatchObject({ liveness: "stale", events_ingested: 4 });
    expect(connectorsNotLiveOf(app)).toEqual(["telegram", "whatsapp"]);
  });
});
