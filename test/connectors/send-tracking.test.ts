/**
 * `trackSend` against a real node:http server on loopback: what a call's requests came to on the wire, and that the
 * AsyncLocalStorage behind it is switched off between calls (on Node 20 an enabled one hooks every promise).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trackSend } from "../../connectors/shared/send-tracking.ts";

let server: http.Server;
let url = "";
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(req.url === "/teapot" ? 418 : 200, { "content-type": "text/plain" }).end("ok"));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  agent.destroy();
  await new Promise((r) => server.close(r));
});

function get(pathname: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(`${url}${pathname}`, { agent }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      })
      .on("error", reject);
  });
}

/** True while promise hooks are on: async_hooks marks each new promise with its async id symbols. */
const promisesHooked = () => Object.getOwnPropertySymbols(new Promise<void>(() => {})).length > 0;

describe("trackSend", () => {
  it("sees a call's request after another tracked call ended, and again after every call ended", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // B waits at the gate while A runs and ends; B's request starts after that.
    const b = trackSend(async () => {
      await gate;
      return get("/teapot");
    });
    const a = await trackSend(() => get("/"));
    expect(a).toMatchObject({ ok: true, value: 200, evidence: { requests: 1, handed: true, response: { status: 200 } } });
    release();
    expect(await b).toMatchObject({ ok: true, value: 418, evidence: { requests: 1, handed: true, response: { status: 418 } } });
    // No call in flight: the next one is tracked as the first was.
    expect(await trackSend(() => get("/teapot"))).toMatchObject({ evidence: { requests: 1, response: { status: 418 } } });
  });

  it("keeps promise hooks on only while a tracked call is in flight", async () => {
    let during = false;
    await trackSend(async () => {
      during = promisesHooked();
      return get("/");
    });
    expect(during).toBe(true);
    // Before: the storage stayed enabled after the first call, hooking every promise of the process for good.
    expect(promisesHooked()).toBe(false);
  });
});
