/**
 * @module The HTTP app (Hono): webhook routes handed in by the composition root (this folder never imports
 * connectors), `GET /healthz`, `GET /readyz`, `GET /metrics`, a body limit on every request and the webhook
 * latency histogram.
 */
import { Hono, type Handler } from "hono";
import type { Metrics } from "../health/metrics.ts";
import { bodyLimit, BodyLimitError, tooLarge } from "./body-limit.ts";

/** A route to mount; structurally the same as `WebhookRoute` in connectors/shared/webhook.ts. */
export interface MountedRoute {
  method: "GET" | "POST";
  path: string;
  handler: Handler;
}

/** One readiness line, printed as `key:code`. */
export interface ReadinessCheck {
  key: string;
  code: string;
  ok: boolean;
}

/** What `/healthz` reports beyond "the process answers": the health state and its reasons. */
export interface HealthLike {
  state: "healthy" | "degraded" | "failing";
}

interface ServerOptions {
  routes: readonly MountedRoute[];
  health: () => HealthLike;
  ready: () => readonly ReadinessCheck[] | Promise<readonly ReadinessCheck[]>;
  metrics: Metrics;
  maxBodyBytes: number;
  /** Where unexpected handler errors are reported (never with request bodies). */
  onError?: (err: unknown, path: string) => void;
  /** Wall-clock milliseconds, supplied by the composition (`/healthz` reports the uptime). */
  clock: () => number;
  /** Sub-apps mounted under a path (the web control page at `/ui`), built by the composition root. */
  mounts?: readonly { path: string; app: Hono<any> }[];
}

export function createServer(opts: ServerOptions): Hono {
  const app = new Hono();
  const started = opts.clock();
  app.use("*", bodyLimit(opts.maxBodyBytes));

  for (const route of opts.routes) {
    app.on(route.method, route.path, async (c, next) => {
      const t0 = performance.now();
      await next();
      opts.metrics.observeWebhook(route.path, c.res.status, (performance.now() - t0) / 1000);
    });
    app.on(route.method, route.path, route.handler);
  }

  app.get("/healthz", (c) => {
    const health = opts.health();
    const body = { process: "alive", uptime_ms: opts.clock() - started, ...health };
    return c.json(body, health.state === "failing" ? 503 : 200);
  });

  app.get("/readyz", async (c) => {
    const checks = await opts.ready();
    const ok = checks.every((check) => check.ok);
    const text = checks.map((check) => `${check.key}:${check.code}`).join("\n");
    return c.text(text.length > 0 ? `${text}\n` : "", ok ? 200 : 503);
  });

  app.get("/metrics", async (c) => {
    const text = await opts.metrics.render();
    return c.body(text, 200, { "content-type": opts.metrics.contentType });
  });

  for (const m of opts.mounts ?? []) app.route(m.path, m.app);

  app.notFound((c) => c.body(null, 404));
  app.onError((err, c) => {
    if (err instanceof BodyLimitError) return tooLarge(c);
    opts.onError?.(err, c.req.path);
    return c.body(null, 500);
  });
  return app;
}
