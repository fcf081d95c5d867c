/**
 * `tau process --once` in provider mode (child processes, the local Bot API): a reply that meets a 429 is not
 * reported as done — the summary says how many replies wait for a retry and when the next is due; `--wait-retries`
 * keeps delivering until they are settled or the bound passes.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";
import { runTau } from "../helpers/run-tau.ts";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";

let tg: TelegramBotApiServer;
let home: TauHome | null = null;
beforeEach(async () => {
  tg = await startTelegramBotApiServer();
});
afterEach(async () => {
  await tg.close();
  home?.cleanup();
  home = null;
});

const g = (h: TauHome) => ["--state-dir", h.stateDir, "--config", h.configPath];

function providerHome(): TauHome {
  return makeTauHome(
    [
      "runner:\n  coalesce_window_ms: 0",
      "outbound:\n  mode: provider\n  http_timeout_ms: 2000",
      `connectors:\n  telegram: { mode: polling, api_root: "${tg.url}" }`,
    ].join("\n") + "\n",
    { "channel-policy.yaml": OPEN_CHANNEL_POLICY },
  );
}

interface Summary {
  processed: number;
  delivered: number;
  retries_waiting: number;
  next_retry_at: string | null;
}

describe("tau process --once with replies waiting for a retry", () => {
  it("reports the waiting reply and its due time instead of exiting as if done; --wait-retries stops at its bound", async () => {
    home = providerHome();
    const env = { TAU_TELEGRAM_BOT_TOKEN: tg.token };
    expect((await runTau([...g(home), "ingest", "fixtures/raw/telegram/private-text.json", "--transport", "telegram"])).code).toBe(0);
    tg.rateLimitNext(30, { method: "sendMessage" });
    const before = Date.now();
    const first = await runTau([...g(home), "process", "--once", "--json"], { env });
    expect(first.code).toBe(0);
    const s1 = first.json<Summary>();
    expect(s1).toMatchObject({ processed: 1, delivered: 0, retries_waiting: 1 });
    // retry_after 30 s, never shortened (jitter may lengthen it).
    expect(Date.parse(s1.next_retry_at!)).toBeGreaterThanOrEqual(before + 30_000);

    const human = await runTau([...g(home), "process", "--once"], { env });
    expect(human.stdout).toContain("NOT settled: 1 reply waits for a scheduled retry");

    const t0 = Date.now();
    const bounded = await runTau([...g(home), "process", "--once", "--wait-retries", "300", "--json"], { env });
    expect(bounded.json<Summary>()).toMatchObject({ retries_waiting: 1 });
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(tg.sentMessages).toHaveLength(0);
  }, 60_000);

  it("--wait-retries keeps delivering as retries fall due until none is left", async () => {
    home = providerHome();
    const env = { TAU_TELEGRAM_BOT_TOKEN: tg.token };
    await runTau([...g(home), "ingest", "fixtures/raw/telegram/private-text.json", "--transport", "telegram"]);
    tg.rateLimitNext(1, { method: "sendMessage", count: 2 });
    const r = await runTau([...g(home), "process", "--once", "--wait-retries", "20000", "--json"], { env });
    expect(r.code).toBe(0);
    // The one reply's one chunk went out (was "delivered 0": only dry-run chunks were counted).
    expect(r.json<Summary>()).toMatchObject({ processed: 1, delivered: 1, retries_waiting: 0, next_retry_at: null });
    expect(tg.callsTo("sendMessage")).toHaveLength(3);
    expect(tg.sentMessages.map((m) => m.chat_id)).toEqual([4242]);
  }, 60_000);
});
