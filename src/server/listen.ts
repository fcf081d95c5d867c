/** @module Serve a Hono app with @hono/node-server on `server.bind` (`host:port`, `[v6]:port`; port 0 = any free port). */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import type { Hono } from "hono";

export interface RunningServer {
  host: string;
  port: number;
  /** Base URL, e.g. `http://127.0.0.1:8788`. */
  url: string;
  /** Stop accepting, let in-flight requests finish (up to `graceMs`), then cut remaining connections. */
  close(graceMs?: number): Promise<void>;
}

/** Split `127.0.0.1:8788` or `[::1]:8788`. */
function parseBind(bind: string): { host: string; port: number } {
  const m = bind.match(/^\[([0-9a-fA-F:]+)\]:(\d{1,5})$/) ?? bind.match(/^([^\s:]+):(\d{1,5})$/);
  if (!m || Number(m[2]) > 65535) throw new Error(`server.bind ${bind}: expected host:port, e.g. 127.0.0.1:8788`);
  return { host: m[1]!, port: Number(m[2]) };
}

export function startServer(app: Hono, bind: string): Promise<RunningServer> {
  const { host, port } = parseBind(bind);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }) as Server;
    server.once("error", reject);
    server.once("listening", () => {
      server.off("error", reject);
      const actual = (server.address() as AddressInfo).port;
      const urlHost = host.includes(":") ? `[${host}]` : host;
      resolve({
        host,
        port: actual,
        url: `http://${urlHost}:${actual}`,
        close(graceMs = 5000) {
          return new Promise<void>((done) => {
            const timer = setTimeout(() => server.closeAllConnections(), graceMs);
            timer.unref();
            server.close(() => {
              clearTimeout(timer);
              done();
            });
            server.closeIdleConnections();
          });
        },
      });
    });
  });
}
