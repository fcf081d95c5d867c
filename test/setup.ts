/**
 * @module Test setup: no network but loopback (TESTING.md). Outbound sockets to anything other than
 * 127.0.0.1/::1/localhost fail loudly, in the spirit of discord.js's `disableNetConnect()`.
 */
import net from "node:net";

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost", "::ffff:127.0.0.1"]);
const originalConnect = net.Socket.prototype.connect;

function hostOf(args: unknown[]): string | undefined {
  const first = args[0];
  if (Array.isArray(first)) return hostOf(first);
  if (first && typeof first === "object") {
    const o = first as { host?: string; path?: string };
    if (o.path) return "unix";
    return o.host ?? "localhost";
  }
  if (typeof first === "number") return typeof args[1] === "string" ? args[1] : "localhost";
  if (typeof first === "string") return "unix";
  return undefined;
}

net.Socket.prototype.connect = function patchedConnect(this: net.Socket, ...args: unknown[]) {
  const host = hostOf(args);
  if (host !== undefined && host !== "unix" && !LOOPBACK.has(host)) {
    throw new Error(`test/setup.ts: network access to ${host} is blocked in tests; point the client at a local server`);
  }
  return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
} as typeof net.Socket.prototype.connect;
