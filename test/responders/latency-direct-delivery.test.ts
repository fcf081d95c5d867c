/**
 * The responder's short paths (issue: responders, performance): a job is claimed in its decision's own commit when it
 * can start at once, and a finished job's reply is sent by the worker right after the job's commit instead of waiting
 * for a runner cycle. Real runner and worker over a real SQLite state, the real `openai` SDK against the local
 * OpenAI-compatible server, grammY against the local Telegram Bot API server (provider mode). What must still hold:
 * each reply is sent once, a conversation's replies in order, and a claim only counts once its batch committed.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createAppRunner, openApp, openIngressWriter, type App } from "../../src/app/index.ts";
import { replyTargetOf } from "../../src/contracts/reply-target.ts";
import type { Envelope } from "../../src/contracts/envelope.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY } from "../helpers/tau-home.ts";
import { lastUserText, startOpenAIServer } from "../helpers/openai-server.ts";
import { startTelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";

const KEY = "sk-test-direct";
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

beforeAll(async () => {
  // The provider senders load their connector on first use; load it now so its import time cannot reorder requests.
  await import("../../connectors/telegram/sender.ts");
});

/** A provider-mode tau home answering every DM with `answer: <question>` after `delayMs`. */
async function rig(delayMs = 0) {
  const openai = await startOpenAIServer({ apiKey: KEY });
  cleanups.push(() => openai.close());
  const tg = await startTelegramBotApiServer();
  cleanups.push(() => tg.close());
  openai.setDefault((body) => ({ text: `answer: ${lastUserText(body)}`, delayMs }));
  const h = makeTauHome(
    `runner:\n  coalesce_window_ms: 0\noutbound:\n  mode: provider\n  http_timeout_ms: 2000\n  pacing: { enabled: false }\nconnectors:\n  telegram:\n    api_root: ${tg.url}\n` +
      `telemetry:\n  typing_presence: false\nresponders:\n  assistant:\n    kind: llm\n    provider: openai\n    base_url: ${openai.url}\n` +
      `    model: gpt-test\n    sdk_max_retries: 0\n    timeout_ms: 5000\ndefault_responder: assistant\n`,
    { "channel-policy.yaml": OPEN_CHANNEL_POLICY },
  );
  cleanups.push(() => h.cleanup());
  const app = openApp({
    stateDir: h.stateDir,
    configPath: h.configPath,
    env: { TAU_OPENAI_API_KEY: KEY, TAU_TELEGRAM_BOT_TOKEN: tg.token },
  });
  cleanups.push(() => app.close());
  return { app, tg, openai };
}

async function ingest(app: App, ...envs: Envelope[]) {
  const w = openIngressWriter(app);
  await w.append("telegram", envs);
  await w.close();
}

const sentTexts = (tg: Awaited<ReturnType<typeof rig>>["tg"]) =>
  tg
    .callsTo("sendMessage")
    .filter((r) => r.status === 200)
    .map((r) => [Number(r.params.chat_id), String(r.params.text)]);

/** A responder job row for `env`, as the runner's decision would insert it. */
function jobRow(env: Envelope, jobId: string) {
  return {
    job_id: jobId,
    event_id: env.event_id,
    responder: "assistant",
    conversation_key: `${env.transport}:${env.conversation_id}:`,
    session_key: `telegram:dm:${env.conversation_id}`,
    principal: `telegram:${env.actor.id}`,
    role: "viewer",
    envelope: JSON.stringify(env),
    route: "{}",
    reply_target: JSON.stringify(replyTargetOf(env)),
  };
}

describe("responder short paths (provider mode)", () => {
  it("sends each finished job's reply from the worker right after its commit, once, with no further runner cycle", async () => {
    const { app, tg, openai } = await rig();
    await ingest(
      app,
      makeDm("4242", { event_id: "telegram:6112:u:1", text: "one" }),
      makeDm("4343", { event_id: "telegram:6112:u:2", text: "two" }),
      makeDm("4444", { event_id: "telegram:6112:u:3", text: "three" }),
    );
    const { runner, responders, close } = createAppRunner(app);
    try {
      // One runner cycle (the decisions, their jobs), then the worker alone: no runner pass delivers anything after it.
      await runner.cycle();
      await responders!.drain();
      expect(openai.chatRequests()).toHaveLength(3);
      expect(sentTexts(tg).sort()).toEqual([
        [4242, "answer: one"],
        [4343, "answer: two"],
        [4444, "answer: three"],
      ]);
      expect(app.store.inspect.repliesAfter(0).map((r) => [r.purpose, r.status])).toEqual([
        ["responder", "sent"],
        ["responder", "sent"],
        ["responder", "sent"],
      ]);
      // A later runner drain finds nothing to send again.
      await runner.drain();
      expect(tg.callsTo("sendMessage")).toHaveLength(3);
    } finally {
      close();
    }
  });

  it("a claim made inside a batch counts only once that batch commits: rolled back, nothing starts; committed, its call starts with no claim of its own", async () => {
    const { app, tg, openai } = await rig();
    const { responders, close } = createAppRunner(app);
    try {
      const env = makeDm("4242", { event_id: "telegram:6112:u:1", text: "rolled back" });
      const now = app.clock();
      expect(() =>
        app.store.atomically(() => {
          app.store.responders.insertJob(jobRow(env, "rj_rolled_back"), now);
          expect(responders!.claimInBatch("rj_rolled_back", now)).toBe(true);
          throw new Error("the batch fails after the claim");
        }),
      ).toThrow("the batch fails after the claim");
      responders!.kick();
      await responders!.drain();
      expect(app.store.responders.job("rj_rolled_back")).toBeUndefined();
      expect(openai.chatRequests()).toHaveLength(0);

      const env2 = makeDm("4242", { event_id: "telegram:6112:u:2", text: "committed" });
      app.store.atomically(() => {
        app.store.responders.insertJob(jobRow(env2, "rj_committed"), now);
        expect(responders!.claimInBatch("rj_committed", now)).toBe(true);
      });
      // Claimed in the batch's own commit: running with its one attempt counted before anything else ran.
      expect(app.store.responders.job("rj_committed")).toMatchObject({ status: "running", attempts: 1 });
      responders!.kick();
      await responders!.drain();
      expect(openai.chatRequests().map((r) => lastUserText(r.body!))).toEqual(["committed"]);
      expect(app.store.responders.job("rj_committed")).toMatchObject({ status: "done", attempts: 1 });
      expect(sentTexts(tg)).toEqual([[4242, "answer: committed"]]);
    } finally {
      close();
    }
  });

  it("claims in a batch only what can start now: a conversation's second message waits for its first, in order", async () => {
    const { app, openai } = await rig();
    const { responders, close } = createAppRunner(app);
    try {
      const now = app.clock();
      const first = makeDm("4242", { event_id: "telegram:6112:u:1", text: "first" });
      const second = makeDm("4242", { event_id: "telegram:6112:u:2", text: "second" });
      const other = makeDm("4343", { event_id: "telegram:6112:u:3", text: "other" });
      const claimed = app.store.atomically(() =>
        [
          [first, "rj_first"],
          [second, "rj_second"],
          [other, "rj_other"],
        ].map(([env, id]) => {
          app.store.responders.insertJob(jobRow(env as Envelope, id as string), now);
          return responders!.claimInBatch(id as string, now);
        }),
      );
      expect(claimed).toEqual([true, false, true]);
      expect(app.store.responders.job("rj_second")).toMatchObject({ status: "queued", attempts: 0 });
      responders!.kick();
      await responders!.drain();
      // The second ran after the first was done (in order), each once.
      const asked = openai.chatRequests().map((r) => lastUserText(r.body!));
      expect(asked.filter((t) => t === "first" || t === "second")).toEqual(["first", "second"]);
      expect([...asked].sort()).toEqual(["first", "other", "second"]);
    } finally {
      close();
    }
  });

  it("claims nothing in a batch while the responders kill switch is on: the job stays queued, its attempt unused", async () => {
    const { app, openai } = await rig();
    app.store.killswitches.put({ scope: "responders", is_on: true, reason: "test", changed_by: "cli:root", at_ms: app.clock() });
    const { responders, close } = createAppRunner(app);
    try {
      const held = makeDm("4444", { event_id: "telegram:6112:u:4", text: "held" });
      const heldClaim = app.store.atomically(() => {
        app.store.responders.insertJob(jobRow(held, "rj_held"), app.clock());
        return responders!.claimInBatch("rj_held", app.clock());
      });
      expect(heldClaim).toBe(false);
      responders!.kick();
      await responders!.drain();
      expect(app.store.responders.job("rj_held")).toMatchObject({ status: "queued", attempts: 0 });
      expect(openai.chatRequests()).toHaveLength(0);
    } finally {
      close();
    }
  });

  it("a reply never overtakes an earlier one of its conversation still waiting for a retry: the worker leaves it, the runner sends both in order, once", async () => {
    const { app, tg } = await rig();
    // The first reply's send is refused with a 429 (retry after 1 s): it waits in the outbox, rescheduled.
    tg.rateLimitNext(1, { method: "sendMessage" });
    await ingest(app, makeDm("4242", { event_id: "telegram:6112:u:1", text: "first" }));
    const { runner, responders, close } = createAppRunner(app);
    try {
      await runner.cycle();
      await responders!.drain();
      expect(app.store.inspect.repliesAfter(0).map((r) => r.status)).toEqual(["retry_scheduled"]);
      await ingest(app, makeDm("4242", { event_id: "telegram:6112:u:2", text: "second" }));
      await runner.cycle();
      await responders!.drain();
      // The second reply is written but not sent: the first is still to go.
      expect(app.store.inspect.repliesAfter(0).map((r) => r.status)).toEqual(["retry_scheduled", "queued"]);
      expect(sentTexts(tg)).toEqual([]);
      await new Promise((r) => setTimeout(r, 1100));
      await runner.drain();
      expect(sentTexts(tg)).toEqual([
        [4242, "answer: first"],
        [4242, "answer: second"],
      ]);
      expect(app.store.inspect.repliesAfter(0).map((r) => r.status)).toEqual(["sent", "sent"]);
    } finally {
      close();
    }
  });
});
