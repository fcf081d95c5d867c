/**
 * @module Test child: open the app over `<stateDir> <configPath>`, append one envelope through `openIngressWriter`
 * (files or JetStream, as the config says), then print which `@nats-io/*` modules this process loaded.
 * Usage: node --import tsx test/helpers/nats-sdk-probe.ts <stateDir> <configPath>
 */
import { createRequire } from "node:module";
import { openApp, openIngressWriter } from "../../src/app/index.ts";
import { makeEnvelope } from "./envelope-factory.ts";

const [stateDir, configPath] = process.argv.slice(2);
const app = openApp({ stateDir: stateDir!, configPath, env: {} });
const w = openIngressWriter(app, true);
await w.append("telegram", [makeEnvelope({ event_id: "telegram:6112:u:probe" })]);
await w.close();
app.close();
const cache = createRequire(import.meta.url).cache;
const loaded = Object.keys(cache)
  .filter((k) => k.includes("/@nats-io/"))
  .map((k) => k.slice(k.indexOf("@nats-io/")).split("/").slice(0, 2).join("/"));
process.stdout.write(JSON.stringify({ appended: 1, nats_modules_loaded: [...new Set(loaded)].sort() }));
