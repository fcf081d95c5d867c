/**
 * Every runtime cycle reason code of PRODUCT.md §10 is emitted when its condition happens — one test per code, over
 * the real runner (src/app wiring), real SQLite, and the local Telegram Bot API server for provider deliveries.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createAppRunner, openApp, openIngressWriter, type App } from "../../src/app/index.ts";
import { healthFor } from "../../src/app/index.ts";
import type { Envelope } from "../../src/contracts/envelope.ts";
import { createLogger } from "../../src/log.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";

const T0 = 1_796_000_000_000;
const TOKEN = "6112:TEST-token_abcdefghijklmnopqrstuvwx";
const ENFORCED_POLICY =
  "schema_version: 1\ndefaultPolicy: { dmPolicy: allow, allowFrom: allowlist_or_pairing, groupPolicy: deny, requireMention: true }\n";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function setup(
  yaml = "",
  channelPolicy = OPEN_CHANNEL_POLICY,
  opts: { env?: Record<string, string>; randomBytes?: (n: number) => Uint8Array; runner?: string } = {},
) {
  const h: TauHome = makeTauHome(`runner:\n  coalesce_window_ms: 0\n${opts.runner ?? ""}features:\n  communications: false\n${yaml}`, {
    "channel-policy.yaml": channelPolicy,
    "route-bindings.yaml": "schema_version: 1\nbindings: []\n",
    "rbac.yaml": "schema_version: 1\n",
  });
  const now = { ms: T0 };
  const app = openApp({
    stateDir: h.stateDir,
    configPath: h.configPath,
    env: opts.env ?? {},
    clock: () => now.ms,
    randomBytes: opts.randomBytes,
    logger: createLogger({ level: "silent", includeIdentifiers: false }),
  });
  const { runner, close } = createAppRunner(app);
  cleanups.push(
    () => h.cleanup(),
    () => app.close(),
    () => close(),
  );
  return { app, runner, now };
}

async function ingest(app: App, envs: Envelope[]): Promise<void> {
  const w = openIngressWriter(app);
  await w.append("telegram", envs);
  await w.close();
}

/** Reason codes of the runtime events written so far, oldest first, one array per event. */
const events = (app: App, name = "runner.cycle") =>
  app.store.inspect
    .runtimeEvents({ sinceMs: 0, afterId: 0, limit: 100 })
    .reverse()
    .filter((e) => e.event === name)
    .map((e) => JSON.parse(e.reason_codes) as string[]);

const dm = (id: number, actor = "4242", text = "hello") => makeDm(actor, { event_id: `telegram:6112:u:${id}`, received_at_ms: T0, text });

async function telegram(): Promise<TelegramBotApiServer> {
  const tg = await startTelegramBotApiServer({ token: TOKEN });
  cleanups.push(() => tg.close());
  return tg;
}
const providerYaml = (url: string, extra = "") =>
  `outbound:\n  mode: provider\n  base_backoff_ms: 1000\n  max_backoff_ms: 1000\n${extra}connectors:\n  telegram: { mode: disabled, api_root: "${url}" }\n`;

describe("runtime cycle reason codes", () => {
  it("healthy_cycle and pairing_policy_permissive: an open channel policy admitted the event", async () => {
    const { app, runner } = setup();
    await ingest(app, [dm(1)]);
    await runner.drain();
    expect(events(app)).toEqual([["healthy_cycle", "pairing_policy_permissive"]]);
  });

  it("pairing_policy_enforced and pairing_policy_denied_events, which counts pairing challenges", async () => {
    const { app, runner } = setup("", ENFORCED_POLICY);
    await ingest(app, [dm(1, "7101")]);
    await runner.drain();
    expect(app.store.inspect.tracesAfter(0).map((t) => t.reason)).toEqual(["pairing_challenge_issued"]);
    expect(events(app)).toEqual([["healthy_cycle", "pairing_policy_enforced", "pairing_policy_denied_events"]]);
  });

  it("duplicate_events_skipped", async () => {
    const { app, runner } = setup();
    await ingest(app, [dm(1), dm(1)]);
    await runner.drain();
    expect(events(app)[0]).toEqual(["healthy_cycle", "duplicate_events_skipped", "pairing_policy_permissive"]);
  });

  it("queue_backpressure_applied: queue_limit leaves events for the next cycle", async () => {
    const { app, runner } = setup("", OPEN_CHANNEL_POLICY, { runner: "  queue_limit: 1\n" });
    await ingest(app, [dm(1), dm(2), dm(3)]);
    await runner.drain();
    expect(events(app).map((c) => c.includes("queue_backpressure_applied"))).toEqual([true, true, false]);
  });

  it("event_processing_failed, and failing health at a streak of 3", async () => {
    // Randomness that never yields a pairing code: issuing the challenge throws inside the pipeline.
    const { app, runner } = setup("", ENFORCED_POLICY, { randomBytes: (n) => new Uint8Array(n).fill(255) });
    for (let i = 1; i <= 3; i++) {
      await ingest(app, [dm(i, String(7100 + i))]);
      await runner.cycle();
    }
    expect(events(app)).toEqual([
      ["event_processing_failed", "pairing_policy_enforced", "pairing_policy_denied_events"],
      ["event_processing_failed", "pairing_policy_enforced", "pairing_policy_denied_events"],
      ["event_processing_failed", "pairing_policy_enforced", "pairing_policy_denied_events"],
    ]);
    expect(healthFor(app)).toMatchObject({ state: "failing", reason_codes: ["failure_streak_exceeded", "event_processing_failed"] });
  });

  it("transient_failures_observed on a 500, then retry_attempted when the retry comes due", async () => {
    const tg = await telegram();
    const { app, runner, now } = setup(providerYaml(tg.url), OPEN_CHANNEL_POLICY, { env: { TAU_TELEGRAM_BOT_TOKEN: TOKEN } });
    tg.failNext({ method: "sendMessage", status: 500 });
    await ingest(app, [dm(1)]);
    await runner.cycle();
    now.ms += 5_000;
    await runner.cycle();
    expect(events(app)).toEqual([
      ["transient_failures_observed", "pairing_policy_permissive"],
      ["healthy_cycle", "retry_attempted"],
    ]);
    expect(tg.sentMessages.filter((m) => m.chat_id === 4242)).toHaveLength(1);
  });

  it("a 500 that dead-letters the reply is not a healthy cycle: dead_letters_created, health degraded", async () => {
    const tg = await telegram();
    const { app, runner } = setup(providerYaml(tg.url, "  max_attempts: 1\n"), OPEN_CHANNEL_POLICY, {
      env: { TAU_TELEGRAM_BOT_TOKEN: TOKEN },
    });
    tg.failNext({ method: "sendMessage", status: 500 });
    await ingest(app, [dm(1)]);
    await runner.cycle();
    expect(events(app)).toEqual([["transient_failures_observed", "dead_letters_created", "pairing_policy_permissive"]]);
    expect(JSON.parse(app.store.kv.get("runner_state")!)).toMatchObject({ health: "degraded" });
    expect(healthFor(app).reason_codes).toEqual(["transient_failures_observed", "dead_letters_created", "dead_letters_present"]);
  });

  it("telemetry_usage_summary_emitted and telemetry_lifecycle_emitted after responder jobs (dry-run, no model call)", async () => {
    const { app, runner } = setup(
      "responders:\n  assistant:\n    kind: llm\n    provider: openai\n    model: m\ndefault_responder: assistant\n",
    );
    await ingest(app, [dm(1, "4242", "what is the rollout gate?")]);
    await runner.drain();
    const all = app.store.inspect
      .runtimeEvents({ sinceMs: 0, afterId: 0, limit: 100 })
      .reverse()
      .map((e) => [e.event, JSON.parse(e.reason_codes) as string[]] as const);
    expect(all.filter(([e]) => e.startsWith("responder."))).toEqual([
      ["responder.usage", ["telemetry_usage_summary_emitted"]],
      ["responder.lifecycle", ["telemetry_lifecycle_emitted"]],
    ]);
  });
});
