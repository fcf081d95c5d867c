/**
 * The ingress writer on JetStream (`ingress.driver: nats`) against a real nats-server with JetStream: one message per
 * envelope on `tau.ingress.<transport>` with the event id as `Nats-Msg-Id`, deduplicated by the stream within its
 * window, resolved only after the publish ack, refused (nothing published) like the file writer, and rejected while
 * NATS is down so the webhook answers non-2xx.
 */
import { spawnSync } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createJetStreamIngressWriter, jetStreamSettings, lazyJetStream, openConfiguredIngressWriter } from "../../src/ingress/index.ts";
import { loadConfig } from "../../src/config/index.ts";
import { makeEnvelope } from "../helpers/envelope-factory.ts";
import { deleteAllStreams, inspectStream, startNats, streamMessages, type TestNats } from "../helpers/nats.ts";
import { makeTauHome } from "../helpers/tau-home.ts";

let nats: TestNats;
beforeAll(async () => {
  nats = await startNats();
}, 30_000);
afterAll(async () => {
  await nats?.stop();
});
// Every stream takes `tau.ingress.>`: one stream per server at a time.
afterEach(async () => {
  await deleteAllStreams(nats.url);
});

let streams = 0;
/** A config (through tau.yaml, as an operator writes it) for a fresh stream on the test server. */
function natsConfig(url = nats.url, extra = "") {
  const stream = `TAU_W${++streams}`;
  const home = makeTauHome(`ingress:\n  driver: nats\n  nats_url: "${url}"\n  stream: ${stream}\n  nats_ack_wait_ms: 1000\n${extra}`);
  const config = loadConfig({ configPath: home.configPath, env: {} }).config;
  home.cleanup();
  return { config, stream };
}

describe("JetStream ingress writer", () => {
  it("publishes one message per envelope, the NDJSON line, with the event id as Nats-Msg-Id; a redelivered event is a stream duplicate", async () => {
    const { config, stream } = natsConfig();
    const w = openConfiguredIngressWriter(config, "/nonexistent-state-dir", false);
    const a = makeEnvelope({ event_id: "telegram:6112:u:1", text: "first\nline two" });
    const b = makeEnvelope({ event_id: "telegram:6112:u:2" });
    await w.append("telegram", [a, b]);
    // The provider redelivers update 1 (and a new one with it): the stream keeps one copy within its duplicate window.
    await w.append("telegram", [a, makeEnvelope({ event_id: "telegram:6112:u:3" })]);
    await w.append("discord", [makeEnvelope({ event_id: "discord:c:1", transport: "discord", provider: "discord-gateway" })]);
    const stats = w.stats() as unknown as { events: number; duplicates: number };
    await w.close();

    const msgs = await streamMessages(nats.url, stream);
    expect(msgs.map((m) => [m.seq, m.subject, m.msgId])).toEqual([
      [1, "tau.ingress.telegram", "telegram:6112:u:1"],
      [2, "tau.ingress.telegram", "telegram:6112:u:2"],
      [3, "tau.ingress.telegram", "telegram:6112:u:3"],
      [4, "tau.ingress.discord", "discord:c:1"],
    ]);
    // The body is the envelope's NDJSON line (no trailing newline); a newline in the text stays escaped.
    expect(msgs[0]!.body).toBe(JSON.stringify(a));
    expect(JSON.parse(msgs[0]!.body)).toEqual(a);
    expect(stats).toMatchObject({ events: 5, duplicates: 1 });
  });

  it("refuses an invalid envelope or an oversized line like the file writer, publishing nothing of that call", async () => {
    const { config, stream } = natsConfig(nats.url, "  max_line_bytes: 2048\n");
    const w = openConfiguredIngressWriter(config, "/nonexistent-state-dir", false);
    const bad = { ...makeEnvelope(), chat_type: "supergroup" } as unknown as ReturnType<typeof makeEnvelope>;
    await expect(w.append("telegram", [makeEnvelope({ event_id: "telegram:6112:u:1" }), bad])).rejects.toMatchObject({
      code: "INGRESS_ENVELOPE_INVALID",
      reason: "ingress_envelope_invalid",
    });
    await expect(w.append("telegram", [makeEnvelope({ event_id: "telegram:6112:u:9", text: "x".repeat(4000) })])).rejects.toMatchObject({
      code: "INGRESS_LINE_TOO_LARGE",
    });
    await w.append("telegram", [makeEnvelope({ event_id: "telegram:6112:u:2" })]);
    await w.close();
    expect((await streamMessages(nats.url, stream)).map((m) => m.msgId)).toEqual(["telegram:6112:u:2"]);
  });

  it("rejects while NATS is down (INGRESS_NATS_UNAVAILABLE) and publishes again once it is back, without a new writer", async () => {
    const own = await startNats();
    try {
      const { config, stream } = natsConfig(own.url);
      const w = openConfiguredIngressWriter(config, "/nonexistent-state-dir", true);
      await w.append("telegram", [makeEnvelope({ event_id: "telegram:6112:u:1" })]);
      await own.pause();
      await expect(w.append("telegram", [makeEnvelope({ event_id: "telegram:6112:u:2" })])).rejects.toMatchObject({
        code: "INGRESS_NATS_UNAVAILABLE",
      });
      await own.restart();
      // The client reconnects on its own; until it has, appends keep failing (the provider keeps retrying).
      const deadline = performance.now() + 20_000;
      for (;;) {
        try {
          await w.append("telegram", [makeEnvelope({ event_id: "telegram:6112:u:2" })]);
          break;
        } catch (err) {
          expect(err).toMatchObject({ code: "INGRESS_NATS_UNAVAILABLE" });
          if (performance.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      await w.close();
      expect((await streamMessages(own.url, stream)).map((m) => m.msgId)).toEqual(["telegram:6112:u:1", "telegram:6112:u:2"]);
    } finally {
      await own.stop();
    }
  }, 60_000);

  it("a stream deleted under a running writer is made again on the next publish", async () => {
    const { config, stream } = natsConfig();
    const w = openConfiguredIngressWriter(config, "/nonexistent-state-dir", true);
    await w.append("telegram", [makeEnvelope({ event_id: "telegram:6112:u:1" })]);
    await deleteAllStreams(nats.url);
    await w.append("telegram", [makeEnvelope({ event_id: "telegram:6112:u:2" })]);
    await w.close();
    expect((await streamMessages(nats.url, stream)).map((m) => [m.seq, m.msgId])).toEqual([[1, "telegram:6112:u:2"]]);
  });

  it("a first connect that fails is not cached: the append after the server started goes through", async () => {
    const own = await startNats();
    const { config, stream } = natsConfig(own.url);
    await own.pause();
    try {
      const js = lazyJetStream({ ...jetStreamSettings(config), requestTimeoutMs: 1000 }, "publisher");
      const w = createJetStreamIngressWriter({ connect: () => js.get(), close: () => js.close(), maxLineBytes: 1 << 20 });
      await expect(w.append("telegram", [makeEnvelope({ event_id: "telegram:6112:u:1" })])).rejects.toMatchObject({
        code: "INGRESS_NATS_UNAVAILABLE",
      });
      await own.restart();
      await w.append("telegram", [makeEnvelope({ event_id: "telegram:6112:u:1" })]);
      await w.close();
      expect(await inspectStream(own.url, stream)).toMatchObject({ messages: 1, lastSeq: 1, consumer: null });
    } finally {
      await own.stop();
    }
  }, 60_000);

  it("a files-ingress tau never loads the NATS SDK; a nats one loads it on its first publish", () => {
    const probe = (yaml: string) => {
      const home = makeTauHome(yaml);
      try {
        const r = spawnSync(process.execPath, ["--import", "tsx", "test/helpers/nats-sdk-probe.ts", home.stateDir, home.configPath], {
          encoding: "utf8",
          env: { ...process.env, TAU_LOG_LEVEL: "silent" },
        });
        expect(r.stderr).toBe("");
        return JSON.parse(r.stdout) as unknown;
      } finally {
        home.cleanup();
      }
    };
    expect(probe("runner:\n  coalesce_window_ms: 0\n")).toEqual({ appended: 1, nats_modules_loaded: [] });
    // The probe does see the SDK when it is used (so the empty list above means something).
    expect(probe(`ingress:\n  driver: nats\n  nats_url: "${nats.url}"\n  stream: TAU_PROBE\n`)).toEqual({
      appended: 1,
      nats_modules_loaded: ["@nats-io/jetstream", "@nats-io/nats-core", "@nats-io/nkeys", "@nats-io/nuid", "@nats-io/transport-node"],
    });
  });
});
