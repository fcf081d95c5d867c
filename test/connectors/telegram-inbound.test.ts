/** Telegram inbound: polling with the real grammY client against the local Bot API server, and the webhook handler. */
import { readFileSync } from "node:fs";
import { Hono } from "hono";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTelegramConnector, type TelegramConnector, type TelegramConnectorConfig } from "../../connectors/telegram/inbound.ts";
import { setTelegramWebhook } from "../../connectors/telegram/api.ts";
import { createMetrics } from "../../src/health/metrics.ts";
import { createServer, startServer, type RunningServer } from "../../src/server/index.ts";
import { failingSink, makeHarness, waitFor, type Harness } from "../helpers/connector-harness.ts";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";

const TOKEN = "6112:AAH-tau-test-token_abcdefghijklmno";
const SECRET = "tau-webhook_secret-0123456789";
const FAST_BACKOFF = { baseMs: 20, maxMs: 80 };

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../../fixtures/raw/telegram/${name}`, import.meta.url), "utf8")) as Record<string, unknown>;
}
/** The fixture's payload without its update_id (the server assigns one). */
function payloadOf(name: string): Record<string, unknown> {
  const { update_id: _ignored, ...rest } = fixture(name);
  return rest;
}

let server: TelegramBotApiServer;
let h: Harness;
const connectors: TelegramConnector[] = [];
const httpServers: RunningServer[] = [];

beforeEach(async () => {
  server = await startTelegramBotApiServer({ token: TOKEN, botUser: { username: "tau_ops_bot" }, firstUpdateId: 1000 });
  h = makeHarness();
});
afterEach(async () => {
  for (const c of connectors.splice(0)) await c.stop();
  for (const s of httpServers.splice(0)) await s.close(100);
  await server.close();
  await h.cleanup();
});

function connector(
  overrides: Partial<TelegramConnectorConfig> = {},
  secrets: Record<string, string> = { "telegram-bot-token": TOKEN },
): TelegramConnector {
  const c = createTelegramConnector({
    ...h.deps(secrets),
    mode: "polling",
    apiRoot: server.url,
    pollTimeoutS: 2,
    stallMarginMs: 2000,
    backoff: FAST_BACKOFF,
    ...overrides,
  });
  connectors.push(c);
  return c;
}

describe("telegram polling (grammY client, local Bot API)", () => {
  it("deletes the webhook, long-polls, appends updates durably and only then commits the offset", async () => {
    const c = connector();
    await c.start();
    await server.waitForParkedPoll();
    expect(server.requests.map((r) => r.method)).toEqual(["deleteWebhook", "getUpdates"]);
    expect(server.callsTo("getUpdates")[0]!.params).toEqual({
      limit: 100,
      timeout: 2,
      allowed_updates: [
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "callback_query",
        "my_chat_member",
        "message_reaction",
        "business_message",
        "edited_business_message",
      ],
    });

    server.pushUpdate(payloadOf("private-text.json"));
    server.pushUpdate({ message: { message_id: 9, date: 1763712000 } }); // no chat: refused, must not block the rest
    server.pushUpdate(payloadOf("edited-message.json"));
    await waitFor(() => h.read("telegram").length === 2, 5000, "two envelopes in ingress");
    const envs = h.read("telegram");
    expect(envs.map((e) => [e.event_id, e.kind, e.chat_type])).toEqual([
      ["telegram:6112:u:1000", "message", "dm"],
      ["telegram:6112:u:1002", "edit", "dm"],
    ]);
    await waitFor(() => h.cursors.get("telegram:offset") === "1003", 5000, "offset 1003");
    // The next getUpdates confirms everything with the server.
    await waitFor(() => server.pendingUpdates().length === 0, 5000, "updates confirmed");
    const s = c.status();
    expect(s).toMatchObject({
      transport: "telegram",
      mode: "polling",
      liveness: "live",
      events_ingested: 2,
      parse_failures: 1,
      last_error_code: "ingress_payload_invalid",
    });
    expect(h.logger.codes()).toContain("ingress_payload_invalid");
  });

  it("resumes from the persisted offset and does not re-ingest confirmed updates", async () => {
    h.cursors.put("telegram:offset", "1001");
    server.pushUpdate({ ...payloadOf("private-text.json"), update_id: 1000 });
    server.pushUpdate({ ...payloadOf("private-text.json"), update_id: 1001 });
    const c = connector();
    await c.start();
    await waitFor(() => h.read("telegram").length === 1, 5000, "one envelope");
    expect(h.read("telegram").map((e) => e.event_id)).toEqual(["telegram:6112:u:1001"]);
    expect(server.callsTo("getUpdates")[0]!.params["offset"]).toBe(1001);
  });

  it("never commits the offset when the append fails; the update is redelivered after a restart", async () => {
    const sink = failingSink();
    const a = connector({ ingress: sink });
    await a.start();
    await server.waitForParkedPoll();
    server.pushUpdate(payloadOf("private-text.json"));
    await waitFor(() => sink.calls >= 2, 5000, "append retried");
    expect(h.cursors.get("telegram:offset")).toBe(undefined);
    expect(a.status()).toMatchObject({ last_error_code: "ingress_append_failed", events_ingested: 0 });
    expect(a.status().retry_attempts).toBeGreaterThanOrEqual(1);
    await a.stop();
    expect(a.status().liveness).toBe("stopped");

    const b = connector();
    await b.start();
    await waitFor(() => h.read("telegram").length === 1, 5000, "redelivered update in ingress");
    expect(h.read("telegram")[0]!.event_id).toBe("telegram:6112:u:1000");
    await waitFor(() => h.cursors.get("telegram:offset") === "1001", 5000, "offset 1001");
    await waitFor(() => server.pendingUpdates().length === 0, 5000, "update confirmed");
  });

  it("a second poller's 409 becomes telegram_conflict_409 with backoff, and polling recovers", async () => {
    const c = connector();
    await c.start();
    await server.waitForParkedPoll();
    // Another instance (blue/green deploy) long-polls the same bot: our parked poll is terminated with 409.
    const other = fetch(`${server.url}/bot${TOKEN}/getUpdates`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ timeout: 1 }),
    }).then((r) => r.status);
    await waitFor(() => c.status().last_error_code === "telegram_conflict_409", 5000, "conflict recorded");
    expect(
      server
        .callsTo("getUpdates")
        .some(
          (r) => r.status === 409 && (r.response as { description: string }).description.includes("terminated by other getUpdates request"),
        ),
    ).toBe(true);
    expect(c.status().provider_failures).toBeGreaterThanOrEqual(1);
    await other;
    await waitFor(() => server.isPollParked() && c.status().retry_attempts >= 1, 5000, "polling again");
    server.pushUpdate(payloadOf("private-text.json"));
    await waitFor(() => h.read("telegram").length === 1, 5000, "update after recovery");
    expect(c.status().liveness).toBe("live");
    expect(
      h.logger.records.some(
        (r) => r.obj["event"] === "connector.poll_failed" && r.obj["code"] === "telegram_conflict_409" && r.obj["status"] === 409,
      ),
    ).toBe(true);
  });

  it("a wrong token is telegram_unauthorized and failing, retried with backoff, never a crash", async () => {
    const c = connector({}, { "telegram-bot-token": "6112:wrong-token" });
    await c.start();
    await waitFor(() => c.status().auth_failures >= 2, 5000, "401 retried");
    expect(c.status()).toMatchObject({ liveness: "failing", last_error_code: "telegram_unauthorized", events_ingested: 0 });
    expect(server.requests.every((r) => r.status === 401)).toBe(true);
    expect(JSON.stringify(h.logger.records)).not.toContain("wrong-token");
    await c.stop();
    expect(c.status().liveness).toBe("stopped");
  });

  it("honours retry_after on 429", async () => {
    server.rateLimitNext(1, { method: "getUpdates" });
    const c = connector();
    await c.start();
    await waitFor(() => server.callsTo("getUpdates").length >= 2, 5000, "poll after the flood wait");
    const [limited, next] = server.callsTo("getUpdates");
    expect(limited!.status).toBe(429);
    expect(next!.at - limited!.at).toBeGreaterThanOrEqual(950);
    expect(c.status().last_error_code).toBe("telegram_rate_limited");
  });

  it("aborts a stalled getUpdates after timeout + margin and polls again", async () => {
    server.delayNext(2500, { method: "getUpdates" });
    const c = connector({ pollTimeoutS: 0, stallMarginMs: 300 });
    await c.start();
    await waitFor(() => h.logger.codes().includes("telegram_poll_stalled"), 5000, "stall detected");
    server.pushUpdate(payloadOf("private-text.json"));
    await waitFor(() => h.read("telegram").length === 1, 8000, "update after the stall");
  });

  it("pollOnce does one round and commits", async () => {
    server.pushUpdate(payloadOf("private-text.json"));
    const c = connector();
    expect(await c.pollOnce!()).toEqual({ ok: true, appended: 1, code: null });
    expect(h.cursors.get("telegram:offset")).toBe("1001");
    expect(await c.pollOnce!()).toEqual({ ok: true, appended: 0, code: null });
  });
});

describe("telegram webhook handler", () => {
  function webhookApp(maxBodyBytes = 4096): { app: Hono; c: TelegramConnector } {
    const c = connector({ mode: "webhook", maxBodyBytes }, { "telegram-webhook-secret": SECRET });
    const app = new Hono();
    for (const r of c.webhooks) app.on(r.method, r.path, r.handler);
    return { app, c };
  }
  const post = (app: Hono, body: string, headers: Record<string, string> = { "x-telegram-bot-api-secret-token": SECRET }) =>
    app.request("/webhooks/telegram", { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

  it("refuses a missing or wrong secret with 401 before reading anything, writing nothing", async () => {
    const { app, c } = webhookApp();
    await c.start();
    const body = JSON.stringify(fixture("private-text.json"));
    expect((await post(app, body, {})).status).toBe(401);
    expect((await post(app, body, { "x-telegram-bot-api-secret-token": "tau-webhook_secret-0123456788" })).status).toBe(401);
    expect((await post(app, body, { "x-telegram-bot-api-secret-token": "short" })).status).toBe(401);
    expect(h.read("telegram")).toEqual([]);
    expect(c.status()).toMatchObject({
      auth_failures: 3,
      events_ingested: 0,
      last_error_code: "telegram_webhook_secret_mismatch",
      liveness: "live",
    });
  });

  it("400 for malformed JSON, 413 for oversized bodies, nothing written", async () => {
    const { app, c } = webhookApp(1024);
    await c.start();
    expect((await post(app, "{not json")).status).toBe(400);
    expect((await post(app, "[1,2]")).status).toBe(400);
    const big = JSON.stringify({ ...fixture("private-text.json"), pad: "x".repeat(2000) });
    const r = await post(app, big);
    expect([r.status, r.headers.get("connection")]).toEqual([413, "close"]);
    // A declared Content-Length over the limit is refused without reading the (small) body.
    expect((await post(app, "{}", { "x-telegram-bot-api-secret-token": SECRET, "content-length": "5000000" })).status).toBe(413);
    expect(h.read("telegram")).toEqual([]);
  });

  it("acknowledges every update type with 200: appended before the answer, or recorded as ignored", async () => {
    const { app, c } = webhookApp();
    await c.start();
    const r1 = await post(app, JSON.stringify(fixture("private-text.json")));
    expect(r1.status).toBe(200);
    expect(h.read("telegram").map((e) => e.event_id)).toEqual(["telegram:6112:u:900001"]); // durable when the 200 left
    expect((await post(app, JSON.stringify(fixture("callback-query.json")))).status).toBe(200);
    expect((await post(app, JSON.stringify(fixture("chat-member-unsupported.json")))).status).toBe(200);
    expect(
      (
        await post(
          app,
          JSON.stringify({
            update_id: 900100,
            inline_query: { id: "1", from: { id: 4242, is_bot: false, first_name: "Ana" }, query: "", offset: "" },
          }),
        )
      ).status,
    ).toBe(200);
    expect(h.read("telegram").map((e) => [e.event_id, e.kind])).toEqual([
      ["telegram:6112:u:900001", "message"],
      ["telegram:6112:u:900014", "callback"],
    ]);
    expect(h.logger.records.filter((r) => r.obj["event"] === "connector.ignored").map((r) => r.obj["code"])).toEqual([
      "telegram_update_type_unsupported",
      "telegram_update_type_unsupported",
    ]);
    // A redelivery of the same update is skipped, still 200.
    expect((await post(app, JSON.stringify(fixture("private-text.json")))).status).toBe(200);
    expect(h.read("telegram")).toHaveLength(2);
    expect(c.status()).toMatchObject({ events_ingested: 2, duplicates_skipped: 1, liveness: "live" });
    expect(c.status().last_success_unix_ms).not.toBe(null);
  });

  it("answers 503 while stopped so Telegram keeps the update, and 500 when the append fails", async () => {
    const { app, c } = webhookApp();
    expect((await post(app, JSON.stringify(fixture("private-text.json")))).status).toBe(503);
    const sink = failingSink();
    const failing = connector({ mode: "webhook", ingress: sink }, { "telegram-webhook-secret": SECRET });
    const app2 = new Hono();
    for (const r of failing.webhooks) app2.on(r.method, r.path, r.handler);
    await failing.start();
    expect((await post(app2, JSON.stringify(fixture("private-text.json")))).status).toBe(500);
    expect(failing.status().last_error_code).toBe("ingress_append_failed");
    expect(c.status().liveness).toBe("stopped");
  });

  it("refuses to start webhook mode without a secret", async () => {
    const c = connector({ mode: "webhook" }, {});
    await expect(c.start()).rejects.toMatchObject({ code: "MISSING_TELEGRAM_WEBHOOK_SECRET", reason: "missing_telegram_webhook_secret" });
    expect(c.status()).toMatchObject({ liveness: "stopped", last_error_code: "missing_telegram_webhook_secret" });
  });

  it("end to end: setTelegramWebhook with secret_token, the Bot API delivers to the listening server", async () => {
    const c = connector({ mode: "webhook" }, { "telegram-webhook-secret": SECRET });
    await c.start();
    const app = createServer({
      routes: c.webhooks,
      health: () => ({ state: "healthy" }),
      ready: () => [],
      metrics: createMetrics(),
      maxBodyBytes: 1 << 20,
      clock: () => 1_763_712_000_000,
    });
    const http = await startServer(app, "127.0.0.1:0");
    httpServers.push(http);
    await setTelegramWebhook(server.url, TOKEN, `${http.url}/webhooks/telegram`, SECRET);
    expect(server.webhook()).toMatchObject({ url: `${http.url}/webhooks/telegram`, secret_token: SECRET });
    server.pushUpdate(payloadOf("private-text.json"));
    server.pushUpdate(payloadOf("callback-query.json"));
    await waitFor(() => server.webhookDeliveries.length === 2, 5000, "two deliveries");
    expect(server.webhookDeliveries.map((d) => d.status)).toEqual([200, 200]);
    expect(
      h
        .read("telegram")
        .map((e) => e.event_id)
        .sort(),
    ).toEqual(["telegram:6112:u:1000", "telegram:6112:u:1001"]);
  });
});
