/** The Hono server on a real listening socket: health, readiness, metrics, and 413 before a body is read in full. */
import http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { createMetrics, type MetricsSnapshot } from "../../src/health/metrics.ts";
import { createServer, startServer, type HealthLike, type ReadinessCheck, type RunningServer } from "../../src/server/index.ts";
import { register as promRegister } from "prom-client";

const LIMIT = 64 * 1024;
let running: RunningServer | null = null;
afterEach(async () => {
  await running?.close(100);
  running = null;
});

interface Opts {
  health?: HealthLike & Record<string, unknown>;
  ready?: ReadinessCheck[];
  snapshot?: MetricsSnapshot;
}
async function start(o: Opts = {}) {
  const seen = { bodies: 0 };
  const metrics = createMetrics(o.snapshot ? { snapshot: () => o.snapshot! } : {});
  const app = createServer({
    routes: [
      {
        method: "POST",
        path: "/webhooks/test",
        handler: async (c) => {
          const text = await c.req.text();
          seen.bodies += 1;
          return c.text(String(text.length));
        },
      },
    ],
    health: () => o.health ?? { state: "healthy", reason_codes: ["healthy_cycle"] },
    ready: () => o.ready ?? [],
    metrics,
    maxBodyBytes: LIMIT,
    clock: () => 1_763_712_000_000,
  });
  running = await startServer(app, "127.0.0.1:0");
  return { url: running.url, port: running.port, seen };
}

/** Send headers and `first` bytes; keep writing `chunk` every `everyMs` until a response arrives. Returns status and bytes written. */
function slowUpload(
  port: number,
  headers: Record<string, string>,
  first: Buffer,
  chunk: Buffer | null,
  everyMs = 5,
): Promise<{ status: number; written: number }> {
  return new Promise((resolve, reject) => {
    let written = 0;
    let timer: NodeJS.Timeout | null = null;
    const req = http.request({ host: "127.0.0.1", port, method: "POST", path: "/webhooks/test", headers }, (res) => {
      if (timer) clearInterval(timer);
      res.resume();
      resolve({ status: res.statusCode ?? 0, written });
      req.destroy();
    });
    req.on("error", (err) => {
      if (timer) clearInterval(timer);
      // EPIPE/ECONNRESET after the server answered and closed is expected; the response already resolved.
      if (!(err as NodeJS.ErrnoException).code) reject(err);
    });
    req.write(first);
    written += first.length;
    if (chunk) {
      timer = setInterval(() => {
        if (written > 4 * 1024 * 1024) {
          clearInterval(timer!);
          reject(new Error("server kept reading past 4 MiB"));
          return;
        }
        req.write(chunk);
        written += chunk.length;
      }, everyMs);
    }
  });
}

describe("http server", () => {
  it("GET /healthz: 200 with the health JSON unless failing (503)", async () => {
    const { url } = await start({ health: { state: "degraded", reason_codes: ["connector_not_live:telegram"] } });
    const r = await fetch(`${url}/healthz`);
    const body = (await r.json()) as Record<string, unknown>;
    expect(r.status).toBe(200);
    expect(body).toMatchObject({ process: "alive", state: "degraded", reason_codes: ["connector_not_live:telegram"] });
    expect(typeof body["uptime_ms"]).toBe("number");
    await running!.close(100);
    const failing = await start({ health: { state: "failing", reason_codes: ["event_processing_failed"] } });
    expect((await fetch(`${failing.url}/healthz`)).status).toBe(503);
  });

  it("GET /readyz: key:code lines, 503 when any check fails", async () => {
    const { url } = await start({
      ready: [
        { key: "telegram", code: "ready", ok: true },
        { key: "whatsapp", code: "missing_whatsapp_app_secret", ok: false },
      ],
    });
    const r = await fetch(`${url}/readyz`);
    expect([r.status, await r.text()]).toEqual([503, "telegram:ready\nwhatsapp:missing_whatsapp_app_secret\n"]);
    await running!.close(100);
    const ok = await start({ ready: [{ key: "telegram", code: "ready", ok: true }] });
    const r2 = await fetch(`${ok.url}/readyz`);
    expect([r2.status, await r2.text()]).toEqual([200, "telegram:ready\n"]);
  });

  it("GET /metrics: Prometheus text from our own registry with every tau metric", async () => {
    const { url } = await start({
      snapshot: {
        ingestedByTransport: { telegram: 7, whatsapp: 3 },
        processed: 9,
        deniedByReason: { deny_actor_not_allowlisted: 2 },
        deliveriesByReason: { delivery_dry_run: 4 },
        queueDepth: 1,
        connectorLive: { telegram: 1, whatsapp: 0 },
      },
    });
    expect((await fetch(`${url}/webhooks/test`, { method: "POST", body: "hello" })).status).toBe(200);
    const r = await fetch(`${url}/metrics`);
    const text = await r.text();
    expect(r.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    for (const line of [
      'tau_events_ingested_total{transport="telegram"} 7',
      'tau_events_ingested_total{transport="whatsapp"} 3',
      "tau_events_processed_total 9",
      'tau_events_denied_total{reason="deny_actor_not_allowlisted"} 2',
      'tau_deliveries_total{reason="delivery_dry_run"} 4',
      "tau_queue_depth 1",
      'tau_connector_live{transport="telegram"} 1',
      'tau_connector_live{transport="whatsapp"} 0',
      'tau_webhook_request_duration_seconds_count{route="/webhooks/test",status="200"} 1',
    ]) {
      expect(text.split("\n")).toContain(line);
    }
    // prom-client's default process and Node.js metrics, on our own registry (the global default registry stays empty).
    expect(text).toContain("process_cpu_user_seconds_total");
    expect(text).toContain("nodejs_eventloop_lag_seconds");
    expect(await promRegister.metrics()).not.toContain("tau_");
  });

  it("413 for a declared Content-Length over the limit, before the body arrives", async () => {
    const { port, seen } = await start();
    const r = await slowUpload(
      port,
      { "content-type": "application/json", "content-length": String(10 * 1024 * 1024) },
      Buffer.from('{"a":1}'),
      null,
    );
    expect(r).toEqual({ status: 413, written: 7 });
    expect(seen.bodies).toBe(0);
  });

  it("413 for a chunked body as soon as it crosses the limit, without reading the rest", async () => {
    const { port, seen } = await start();
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    const r = await slowUpload(port, { "content-type": "application/json", "transfer-encoding": "chunked" }, chunk, chunk);
    expect(r.status).toBe(413);
    expect(r.written).toBeLessThan(1024 * 1024);
    expect(seen.bodies).toBe(0);
  });

  it("bodies within the limit reach the handler; unknown paths are 404", async () => {
    const { url } = await start();
    const r = await fetch(`${url}/webhooks/test`, { method: "POST", body: "x".repeat(LIMIT) });
    expect([r.status, await r.text()]).toEqual([200, String(LIMIT)]);
    expect((await fetch(`${url}/nope`)).status).toBe(404);
  });
});
