/**
 * kill -9 of `tau process --once` while responder jobs are in flight: the child runs the real runner and worker with
 * the real `openai` SDK against the local OpenAI fake (run here, in the test process), whose answers take 1.5 s. The
 * kill lands once the fake has received the calls (on progress, not on time), so every kill is mid-call. After one
 * kill a rerun repeats each cut-off call once and answers every message exactly once; after two kills of the same call
 * the third run fails those jobs `responder_interrupted` with a short reply and never calls the model a third time.
 */
import { spawn } from "node:child_process";
import Database from "better-sqlite3";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openIngressWriter } from "../../src/app/index.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";
import { lastUserText, startOpenAIServer, type OpenAIServerHandle } from "../helpers/openai-server.ts";

const KEY = "sk-test-kill9";
const MODEL_DELAY_MS = 1500;
const INTERRUPTED = "I was interrupted twice while answering this; please ask again.";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(messages: { user: string; text: string }[]): Promise<{ h: TauHome; server: OpenAIServerHandle }> {
  const server = await startOpenAIServer({ apiKey: KEY });
  cleanups.push(() => server.close());
  // Slow enough that a kill after the request arrived is always mid-call.
  server.setDefault((body) => ({ text: `re: ${lastUserText(body)}`, delayMs: MODEL_DELAY_MS }));
  const h = makeTauHome(
    `runner:\n  coalesce_window_ms: 0\noutbound:\n  mode: channel-store\nresponders:\n  assistant:\n    kind: llm\n    provider: openai\n` +
      `    base_url: ${server.url}\n    model: gpt-test\n    sdk_max_retries: 0\n    timeout_ms: 10000\ndefault_responder: assistant\n`,
    { "channel-policy.yaml": OPEN_CHANNEL_POLICY },
  );
  cleanups.push(() => h.cleanup());
  const app = h.open();
  const w = openIngressWriter(app);
  await w.append(
    "telegram",
    messages.map((m, i) => makeDm(m.user, { event_id: `telegram:6112:u:${i + 1}`, text: m.text, occurred_at_ms: 1_763_712_000_000 + i })),
  );
  await w.close();
  app.close();
  return { h, server };
}

/** Run `fn` over a read-only connection to the state database (WAL: never blocks the child). */
function readState<T>(home: TauHome, fn: (db: Database.Database) => T): T {
  const db = new Database(path.join(home.stateDir, "tau.db"), { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

interface JobRow {
  event_id: string;
  status: string;
  attempts: number;
  reason: string | null;
}
const jobs = (h: TauHome): JobRow[] =>
  readState(h, (db) => db.prepare("SELECT event_id, status, attempts, reason FROM responder_jobs ORDER BY seq").all() as JobRow[]);

/** Every outbox row with its text, per event. */
function replies(h: TauHome): { event_id: string; purpose: string; status: string; text: string }[] {
  return readState(
    h,
    (db) =>
      db
        .prepare(
          "SELECT o.event_id, o.purpose, o.status, (SELECT group_concat(body, '') FROM (SELECT body FROM outbox_chunks c WHERE c.outbox_id = o.outbox_id ORDER BY idx)) AS text " +
            "FROM outbox o ORDER BY o.id",
        )
        .all() as { event_id: string; purpose: string; status: string; text: string }[],
  );
}

/** Model calls the fake received, per user text. */
function callsPerText(server: OpenAIServerHandle): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of server.chatRequests()) {
    const t = lastUserText(r.body!);
    out[t] = (out[t] ?? 0) + 1;
  }
  return out;
}

/**
 * Run `tau process --once` as a child. With `killAtCalls`, kill -9 it as soon as the fake has received that many model
 * calls (they then wait 1.5 s for their answer: the kill is mid-call); without, let it finish.
 */
function runChild(
  h: TauHome,
  server: OpenAIServerHandle,
  killAtCalls: number | null,
): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ["bin/tau.js", "process", "--once", "--state-dir", h.stateDir, "--config", h.configPath], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, TAU_LOG_LEVEL: "error", TAU_OPENAI_API_KEY: KEY },
    });
    let stderr = "";
    c.stderr.on("data", (d) => (stderr += d));
    const poll =
      killAtCalls === null
        ? null
        : setInterval(() => {
            if (server.chatRequests().length < killAtCalls) return;
            clearInterval(poll!);
            c.kill("SIGKILL");
          }, 5);
    // A bound: a child that hangs is killed and reported, never waited on forever.
    const guard = setTimeout(() => c.kill("SIGKILL"), 12_000);
    c.on("error", reject);
    c.on("exit", (code, signal) => {
      if (poll) clearInterval(poll);
      clearTimeout(guard);
      resolve({ code, signal, stderr });
    });
  });
}

describe("kill -9 with responder jobs in flight", () => {
  it("repeats each cut-off model call once on the next run and answers every message exactly once", async () => {
    const messages = [
      { user: "5001", text: "first from 5001" },
      { user: "5002", text: "first from 5002" },
      { user: "5003", text: "first from 5003" },
      { user: "5004", text: "first from 5004" },
      // Same conversation as the first: queued behind it, so not in flight at the kill.
      { user: "5001", text: "second from 5001" },
    ];
    const { h, server } = await setup(messages);

    // Run 1: killed once all four conversations' first calls are in flight.
    const first = await runChild(h, server, 4);
    expect(first.signal, first.stderr).toBe("SIGKILL");
    expect(callsPerText(server)).toEqual({ "first from 5001": 1, "first from 5002": 1, "first from 5003": 1, "first from 5004": 1 });
    // The claim (running, attempt 1) committed before the call; nothing was answered.
    expect(jobs(h).map((j) => [j.event_id, j.status, j.attempts])).toEqual([
      ["telegram:6112:u:1", "running", 1],
      ["telegram:6112:u:2", "running", 1],
      ["telegram:6112:u:3", "running", 1],
      ["telegram:6112:u:4", "running", 1],
      ["telegram:6112:u:5", "queued", 0],
    ]);
    expect(replies(h)).toEqual([]);
    const originals = server.chatRequests().map((r) => r.body!.messages);

    // Run 2: no kill.
    const second = await runChild(h, server, null);
    expect({ code: second.code, signal: second.signal }, second.stderr).toEqual({ code: 0, signal: null });

    // Each in-flight call repeated exactly once (never more), the queued one called once.
    expect(callsPerText(server)).toEqual({
      "first from 5001": 2,
      "first from 5002": 2,
      "first from 5003": 2,
      "first from 5004": 2,
      "second from 5001": 1,
    });
    // The repeat is the same request: the cut-off attempt left no history behind.
    const repeats = server.chatRequests().slice(4, 8);
    for (const r of repeats) expect(originals).toContainEqual(r.body!.messages);
    // The second message of 5001 sees its first exchange once.
    const last = server.chatRequests().find((r) => lastUserText(r.body!) === "second from 5001")!;
    expect((last.body!.messages as { role: string; content: string }[]).filter((m) => m.role !== "system")).toEqual([
      { role: "user", content: "first from 5001" },
      { role: "assistant", content: "re: first from 5001" },
      { role: "user", content: "second from 5001" },
    ]);

    // Every message has exactly one reply: the model's answer.
    const out = replies(h);
    expect(out.map((r) => [r.event_id, r.purpose, r.text])).toEqual(
      expect.arrayContaining(messages.map((m, i) => [`telegram:6112:u:${i + 1}`, "responder", `re: ${m.text}`])),
    );
    const perEvent = readState(h, (db) =>
      db.prepare("SELECT event_id, COUNT(*) AS n FROM outbox GROUP BY event_id ORDER BY event_id").all(),
    );
    expect(perEvent).toEqual(messages.map((_, i) => ({ event_id: `telegram:6112:u:${i + 1}`, n: 1 })));
    // Channel-store mode records each reply as sent when it is queued: nothing is left to deliver.
    expect(out.map((r) => r.status)).toEqual(messages.map(() => "sent"));

    // No job left open; in-flight jobs took two attempts, the queued one one.
    expect(jobs(h).map((j) => [j.event_id, j.status, j.attempts, j.reason])).toEqual([
      ["telegram:6112:u:1", "done", 2, "responder_replied"],
      ["telegram:6112:u:2", "done", 2, "responder_replied"],
      ["telegram:6112:u:3", "done", 2, "responder_replied"],
      ["telegram:6112:u:4", "done", 2, "responder_replied"],
      ["telegram:6112:u:5", "done", 1, "responder_replied"],
    ]);
    // History holds each exchange once (the cut-off attempts wrote none).
    expect(readState(h, (db) => db.prepare("SELECT COUNT(*) FROM responder_history").pluck().get())).toBe(10);
  }, 20_000);

  it("after two kills of the same call, the next run fails the job responder_interrupted with one short reply and no third call", async () => {
    const messages = [
      { user: "6001", text: "question from 6001" },
      { user: "6002", text: "question from 6002" },
      { user: "6003", text: "question from 6003" },
    ];
    const { h, server } = await setup(messages);

    // Run 1: killed mid-call.
    expect((await runChild(h, server, 3)).signal).toBe("SIGKILL");
    expect(jobs(h).map((j) => [j.status, j.attempts])).toEqual([
      ["running", 1],
      ["running", 1],
      ["running", 1],
    ]);
    // Run 2: recovered, called again, killed mid-call again.
    expect((await runChild(h, server, 6)).signal).toBe("SIGKILL");
    expect(jobs(h).map((j) => [j.status, j.attempts])).toEqual([
      ["running", 2],
      ["running", 2],
      ["running", 2],
    ]);
    expect(replies(h)).toEqual([]);

    // Run 3: no kill. No model call; each job fails with the short reply.
    const third = await runChild(h, server, null);
    expect({ code: third.code, signal: third.signal }, third.stderr).toEqual({ code: 0, signal: null });
    expect(server.chatRequests()).toHaveLength(6);
    expect(callsPerText(server)).toEqual({ "question from 6001": 2, "question from 6002": 2, "question from 6003": 2 });
    expect(jobs(h).map((j) => [j.event_id, j.status, j.attempts, j.reason])).toEqual(
      messages.map((_, i) => [`telegram:6112:u:${i + 1}`, "failed", 2, "responder_interrupted"]),
    );
    const out = replies(h);
    expect(out.map((r) => [r.event_id, r.purpose, r.text])).toEqual(
      messages.map((_, i) => [`telegram:6112:u:${i + 1}`, "responder", INTERRUPTED]),
    );
    expect(out.map((r) => r.text).join("\n")).not.toContain("re: ");
    expect(readState(h, (db) => db.prepare("SELECT COUNT(*) FROM responder_history").pluck().get())).toBe(0);
  }, 20_000);
});
