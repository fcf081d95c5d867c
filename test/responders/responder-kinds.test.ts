/**
 * The responder kinds end to end through the real runner and worker over a real SQLite state: Anthropic and Gemini llm
 * responders with their real SDKs against the local fakes (an answer, and a tool round trip through `tau.whoami`), the
 * webhook responder against a local receiver that checks the HMAC signature (answers, retries, rejections, bad and empty
 * answers, dry-run), and typing indicators in provider mode against the local Telegram Bot API.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createAppRunner, openApp, openIngressWriter, type App } from "../../src/app/index.ts";
import type { Envelope } from "../../src/contracts/envelope.ts";
import { setSecret } from "../../src/lifecycle/secrets.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY } from "../helpers/tau-home.ts";
import { startAnthropicServer } from "../helpers/anthropic-server.ts";
import { startGeminiServer } from "../helpers/gemini-server.ts";
import { startOpenAIServer } from "../helpers/openai-server.ts";
import { startTelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A tau home with `yaml` appended, opened in-process with `env`; closed and removed after the test. */
function home(yaml: string, env: Record<string, string>): { app: App; stateDir: string } {
  const h = makeTauHome(`runner:\n  coalesce_window_ms: 0\n${yaml}`, { "channel-policy.yaml": OPEN_CHANNEL_POLICY });
  cleanups.push(() => h.cleanup());
  const app = openApp({ stateDir: h.stateDir, configPath: h.configPath, env });
  cleanups.push(() => app.close());
  return { app, stateDir: h.stateDir };
}

async function ingest(app: App, ...envs: Envelope[]) {
  const w = openIngressWriter(app);
  await w.append("telegram", envs);
  await w.close();
}

async function drain(app: App) {
  const { runner, close } = createAppRunner(app);
  try {
    return await runner.drain();
  } finally {
    close();
  }
}

const textOf = (app: App, outboxId: string) =>
  app.store.outbox
    .chunksOf(outboxId)
    .map((c) => c.body)
    .join("");
const replies = (app: App) =>
  app.store.inspect.repliesAfter(0).map((r) => ({ event_id: r.event_id, purpose: r.purpose, text: textOf(app, r.outbox_id) }));
const jobStates = (app: App) =>
  (["queued", "running", "done", "failed"] as const).flatMap((s) =>
    app.store.responders.jobsIn(s).map((j) => ({ event_id: j.event_id, status: j.status, reason: j.reason, attempts: j.attempts })),
  );
const agentAudit = (app: App) =>
  app.store.audit
    .all()
    .filter((r) => r.surface === "agent")
    .map((r) => [r.target, r.outcome, r.reason_code]);

const llmYaml = (provider: string, url: string, model: string, extra = "") =>
  `responders:\n  assistant:\n    kind: llm\n    provider: ${provider}\n    base_url: ${url}\n    model: ${model}\n    tools: [tau.whoami]\n` +
  `    sdk_max_retries: 0\n    timeout_ms: 5000\ndefault_responder: assistant\n${extra}`;

describe("llm responders: anthropic and gemini through the worker", () => {
  it("anthropic: the model's text lands in the outbox, and a tool_use → tool_result round trip runs tau.whoami as the user", async () => {
    const KEY = "sk-ant-test-responder-kinds";
    const srv = await startAnthropicServer({ apiKey: KEY });
    cleanups.push(() => srv.close());
    const { app } = home(`outbound:\n  mode: channel-store\n${llmYaml("anthropic", srv.url, "claude-test")}`, {
      TAU_ANTHROPIC_API_KEY: KEY,
    });
    const messages = () => srv.requests.filter((r) => r.path === "/v1/messages");

    srv.reply({ text: "Claude says the web tier is healthy." });
    await ingest(app, makeDm("4242", { event_id: "telegram:6112:u:1", text: "how is the web tier?" }));
    await drain(app);
    expect(replies(app)).toEqual([{ event_id: "telegram:6112:u:1", purpose: "responder", text: "Claude says the web tier is healthy." }]);
    expect(messages()).toHaveLength(1);
    const first = messages()[0]!;
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ model: "claude-test", stream: true, messages: [{ role: "user" }] });
    expect(JSON.stringify(first.body!.messages)).toContain("how is the web tier?");
    expect((first.body!.tools as { name: string }[]).map((t) => t.name)).toEqual(["tau_whoami"]);

    srv.reply({ text: "Let me check.", toolCalls: [{ name: "tau_whoami", input: {} }] });
    srv.reply({ text: "You are a viewer." });
    await ingest(app, makeDm("5151", { event_id: "telegram:6112:u:2", text: "who am I?" }));
    await drain(app);
    expect(messages()).toHaveLength(3);
    // The second call carries the assistant's tool_use and a user turn with its tool_result (the real API checks the pairing).
    const second = messages()[2]!.body!.messages as { role: string; content: { type: string; tool_use_id?: string; content?: string }[] }[];
    expect(second.map((m) => m.role)).toEqual(["user", "assistant", "user"]);
    const use = second[1]!.content.find((b) => b.type === "tool_use") as unknown as { id: string; name: string };
    expect(use.name).toBe("tau_whoami");
    const result = second[2]!.content.find((b) => b.type === "tool_result")!;
    expect(result.tool_use_id).toBe(use.id);
    expect(JSON.parse(result.content!)).toMatchObject({ status: "reported", reason_code: "command_whoami" });
    expect(messages()[2]!.status).toBe(200);
    expect(replies(app).at(-1)).toEqual({ event_id: "telegram:6112:u:2", purpose: "responder", text: "You are a viewer." });
    expect(agentAudit(app)).toEqual([["tau.whoami", "reported", "command_whoami"]]);
    expect(jobStates(app)).toEqual([
      { event_id: "telegram:6112:u:1", status: "done", reason: "responder_replied", attempts: 1 },
      { event_id: "telegram:6112:u:2", status: "done", reason: "responder_replied", attempts: 1 },
    ]);
    const usage = app.store.responders.usageSince(0);
    expect(usage).toMatchObject([{ responder: "assistant", transport: "telegram", provider: "anthropic", model: "claude-test", calls: 3 }]);
    expect(usage[0]!.output_tokens).toBeGreaterThan(0);
  });

  it("gemini: the model's text lands in the outbox, and a functionCall → functionResponse round trip runs tau.whoami as the user", async () => {
    const srv = await startGeminiServer();
    cleanups.push(() => srv.close());
    const MODEL = "gemini-2.5-flash";
    const { app } = home(`outbound:\n  mode: channel-store\n${llmYaml("gemini", srv.url, MODEL)}`, { TAU_GEMINI_API_KEY: srv.apiKey });
    const generates = () => srv.requests.filter((r) => r.action === "streamGenerateContent" || r.action === "generateContent");

    srv.reply({ text: "Gemini says the web tier is healthy." });
    await ingest(app, makeDm("4242", { event_id: "telegram:6112:u:1", text: "how is the web tier?" }));
    await drain(app);
    expect(replies(app)).toEqual([{ event_id: "telegram:6112:u:1", purpose: "responder", text: "Gemini says the web tier is healthy." }]);
    expect(generates()).toHaveLength(1);
    expect(generates()[0]!.model).toBe(MODEL);
    expect(generates()[0]!.body.contents).toEqual([{ role: "user", parts: [{ text: "how is the web tier?" }] }]);
    expect(JSON.stringify(generates()[0]!.body.tools)).toContain('"name":"tau_whoami"');

    srv.reply({ functionCalls: [{ name: "tau_whoami", args: {} }] });
    srv.reply({ text: "You are a viewer." });
    await ingest(app, makeDm("5151", { event_id: "telegram:6112:u:2", text: "who am I?" }));
    await drain(app);
    expect(generates()).toHaveLength(3);
    const contents = generates()[2]!.body.contents as { role: string; parts: Record<string, any>[] }[];
    expect(contents.map((c) => c.role)).toEqual(["user", "model", "user"]);
    expect(contents[1]!.parts.find((p) => p.functionCall)!.functionCall).toMatchObject({ name: "tau_whoami" });
    const response = contents[2]!.parts.find((p) => p.functionResponse)!.functionResponse as { name: string; response: unknown };
    expect(response.name).toBe("tau_whoami");
    expect(JSON.stringify(response.response)).toContain("command_whoami");
    expect(replies(app).at(-1)).toEqual({ event_id: "telegram:6112:u:2", purpose: "responder", text: "You are a viewer." });
    expect(agentAudit(app)).toEqual([["tau.whoami", "reported", "command_whoami"]]);
    expect(jobStates(app).map((j) => [j.status, j.reason])).toEqual([
      ["done", "responder_replied"],
      ["done", "responder_replied"],
    ]);
    expect(app.store.responders.usageSince(0)).toMatchObject([{ provider: "gemini", model: MODEL, calls: 3 }]);
  });
});

// ---- webhook responder

const SIGNING_SECRET = "whsec-test-0123456789abcdef";
const SECRET_ID = "hook-signing-key";
const RAW_MARKER = "RAW-PROVIDER-PAYLOAD-7f3a";

interface HookRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
  /** The signature matched HMAC-SHA256(secret, raw body). */
  signed: boolean;
}
interface HookAnswer {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

/** A webhook receiver that checks `X-Tau-Signature` (401 when wrong) and answers from a FIFO script. */
async function startReceiver() {
  const requests: HookRequest[] = [];
  const script: HookAnswer[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const want = Buffer.from(`sha256=${createHmac("sha256", SIGNING_SECRET).update(raw).digest("hex")}`);
      const got = Buffer.from(String(req.headers["x-tau-signature"] ?? ""));
      const signed = got.length === want.length && timingSafeEqual(got, want);
      requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, raw: raw.toString("utf8"), signed });
      const a: HookAnswer = signed
        ? (script.shift() ?? { status: 200, body: JSON.stringify({ text: "default hook answer" }) })
        : { status: 401, body: "" };
      res.writeHead(a.status, { "content-type": "application/json", ...a.headers });
      res.end(a.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { url: `http://127.0.0.1:${port}/tau/hook`, requests, answer: (...a: HookAnswer[]) => void script.push(...a) };
}

async function webhookHome(mode: "channel-store" | "dry-run" = "channel-store") {
  const hook = await startReceiver();
  const { app, stateDir } = home(
    `outbound:\n  mode: ${mode}\nresponders:\n  hook:\n    kind: webhook\n    url: ${hook.url}\n    signing_secret: ${SECRET_ID}\n    timeout_ms: 3000\n` +
      "default_responder: hook\n",
    {},
  );
  // As `tau secrets set hook-signing-key` stores it: the integration store of the state database.
  setSecret(app.store.secrets, SECRET_ID, SIGNING_SECRET, app.clock());
  return { hook, app, stateDir };
}

const dmWithRaw = (n: number, text: string, user = "4242") =>
  makeDm(user, { event_id: `telegram:6112:u:${n}`, text, meta: { message_id: 900 + n }, raw: { update_id: n, secret: RAW_MARKER } });

describe("webhook responder", () => {
  it("POSTs the envelope (without raw), route, session key and job id, signed with HMAC-SHA256; the answer's text is the reply", async () => {
    const { hook, app } = await webhookHome();
    hook.answer({ status: 200, body: JSON.stringify({ text: "Hook says the web tier is healthy." }) });
    const env = dmWithRaw(1, "how is the web tier?");
    await ingest(app, env);
    await drain(app);

    expect(hook.requests).toHaveLength(1);
    const req = hook.requests[0]!;
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/tau/hook");
    expect(req.signed).toBe(true);
    expect(req.headers["content-type"]).toBe("application/json");
    const job = app.store.responders.jobsIn("done")[0]!;
    // The job kept the raw payload; the POST did not.
    expect(JSON.parse(job.envelope).raw).toEqual({ update_id: 1, secret: RAW_MARKER });
    expect(req.raw).not.toContain(RAW_MARKER);
    const body = JSON.parse(req.raw) as Record<string, any>;
    expect(Object.keys(body).sort()).toEqual(["envelope", "job_id", "responder", "route", "session_key", "v"]);
    expect(body).toMatchObject({ v: 1, job_id: job.job_id, responder: "hook", session_key: job.session_key });
    expect(req.headers["x-tau-job-id"]).toBe(job.job_id);
    expect(body.envelope).not.toHaveProperty("raw");
    const { raw: _raw, ...withoutRaw } = env;
    expect(body.envelope).toEqual(withoutRaw);
    expect(body.route).toEqual(JSON.parse(job.route));
    expect(body.route.session_key).toBe(job.session_key);

    expect(replies(app)).toEqual([{ event_id: "telegram:6112:u:1", purpose: "responder", text: "Hook says the web tier is healthy." }]);
    expect(jobStates(app)).toEqual([{ event_id: "telegram:6112:u:1", status: "done", reason: "responder_replied", attempts: 1 }]);
    expect(app.store.outbox.get(app.store.inspect.repliesAfter(0)[0]!.outbox_id)!.reply_to).toBe("901");
  });

  it("503 then 200: retried once with the same X-Tau-Job-Id and the same signed body, answered once", async () => {
    const { hook, app } = await webhookHome();
    hook.answer(
      { status: 503, body: JSON.stringify({ error: "busy" }) },
      { status: 200, body: JSON.stringify({ text: "Second time lucky." }) },
    );
    await ingest(app, dmWithRaw(1, "try"));
    await drain(app);
    expect(hook.requests).toHaveLength(2);
    expect(hook.requests.map((r) => r.signed)).toEqual([true, true]);
    const [a, b] = hook.requests;
    expect(a!.headers["x-tau-job-id"]).toMatch(/^rj_[0-9a-f]{24}$/);
    expect(b!.headers["x-tau-job-id"]).toBe(a!.headers["x-tau-job-id"]);
    expect(b!.raw).toBe(a!.raw);
    expect(replies(app)).toEqual([{ event_id: "telegram:6112:u:1", purpose: "responder", text: "Second time lucky." }]);
    expect(jobStates(app)).toEqual([{ event_id: "telegram:6112:u:1", status: "done", reason: "responder_replied", attempts: 2 }]);
    // Both calls recorded: the failure with its reason, then the answer.
    expect(app.store.responders.errorsSince(0)).toEqual([{ responder: "hook", reason: "responder_webhook_unavailable", n: 1 }]);
    // A second drain neither posts nor answers again.
    await drain(app);
    expect(hook.requests).toHaveLength(2);
    expect(replies(app)).toHaveLength(1);
  });

  it("400 is rejected without a retry, an invalid JSON answer is a bad answer, each with one short reply; an empty body says nothing", async () => {
    const { hook, app } = await webhookHome();
    const SHORT = "I could not answer that. Please try again later.";

    hook.answer({ status: 400, body: JSON.stringify({ error: "no" }) });
    await ingest(app, dmWithRaw(1, "rejected", "4001"));
    await drain(app);
    expect(hook.requests).toHaveLength(1);
    expect(jobStates(app)).toEqual([
      { event_id: "telegram:6112:u:1", status: "failed", reason: "responder_webhook_rejected", attempts: 1 },
    ]);
    expect(replies(app)).toEqual([{ event_id: "telegram:6112:u:1", purpose: "responder", text: SHORT }]);

    hook.answer({ status: 200, body: "this is {not json" });
    await ingest(app, dmWithRaw(2, "bad answer", "4002"));
    await drain(app);
    expect(hook.requests).toHaveLength(2);
    expect(app.store.responders.jobsIn("failed").map((j) => [j.event_id, j.reason, j.attempts])).toEqual([
      ["telegram:6112:u:1", "responder_webhook_rejected", 1],
      ["telegram:6112:u:2", "responder_webhook_bad_answer", 1],
    ]);
    expect(replies(app).at(-1)).toEqual({ event_id: "telegram:6112:u:2", purpose: "responder", text: SHORT });

    hook.answer({ status: 200, body: "" });
    await ingest(app, dmWithRaw(3, "say nothing", "4003"));
    await drain(app);
    expect(hook.requests).toHaveLength(3);
    expect(app.store.responders.jobsIn("done").map((j) => [j.event_id, j.reason, j.attempts])).toEqual([
      ["telegram:6112:u:3", "responder_no_reply", 1],
    ]);
    // Replies only for the two failures; none for the empty answer.
    expect(replies(app).map((r) => r.event_id)).toEqual(["telegram:6112:u:1", "telegram:6112:u:2"]);
    expect(jobStates(app).filter((j) => j.status === "queued" || j.status === "running")).toEqual([]);
  });

  it("dry-run makes no POST and records the exact request, without the signature or the key, in the dry-run outbox", async () => {
    const { hook, app, stateDir } = await webhookHome("dry-run");
    await ingest(app, dmWithRaw(1, "status?"));
    await drain(app);
    expect(hook.requests).toHaveLength(0);
    const text = fs.readFileSync(path.join(stateDir, "outbox", "dry-run.ndjson"), "utf8");
    expect(text).not.toContain(SIGNING_SECRET);
    expect(text).not.toContain("sha256=");
    expect(text).not.toContain(RAW_MARKER);
    const lines = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, any>);
    const job = app.store.responders.jobsIn("done")[0]!;
    expect(job.reason).toBe("responder_dry_run");
    const record = lines.find((l) => l.kind === "responder_request")!;
    expect(record).toMatchObject({
      kind: "responder_request",
      responder: "hook",
      job_id: job.job_id,
      transport: "telegram",
      status: "dry_run",
      reason: "responder_dry_run",
      request: {
        method: "POST",
        url: hook.url,
        headers: { "content-type": "application/json", "x-tau-job-id": job.job_id, "x-tau-signature": "<redacted>" },
      },
    });
    expect(record.request.body).toMatchObject({ v: 1, job_id: job.job_id, responder: "hook", session_key: job.session_key });
    expect(record.request.body.envelope).not.toHaveProperty("raw");
    expect(lines.filter((l) => l.kind === "responder_request")).toHaveLength(1);
    expect(replies(app)).toEqual([
      {
        event_id: "telegram:6112:u:1",
        purpose: "responder",
        text: `(dry-run) hook would POST this message to ${hook.url}; no call was made.`,
      },
    ]);
  });
});

// ---- typing indicators in provider mode

describe("typing indicators in provider mode (Telegram)", () => {
  beforeAll(async () => {
    // The provider senders load their connector on first use; load it now so its import time cannot reorder requests.
    await import("../../connectors/telegram/sender.ts");
  });

  async function telegramRig(typingPresence: boolean) {
    const openai = await startOpenAIServer({ apiKey: "sk-test-typing" });
    cleanups.push(() => openai.close());
    const tg = await startTelegramBotApiServer();
    cleanups.push(() => tg.close());
    openai.setDefault(() => ({ text: "Typed answer.", delayMs: 500 }));
    const { app } = home(
      `outbound:\n  mode: provider\n  http_timeout_ms: 2000\nconnectors:\n  telegram:\n    api_root: ${tg.url}\n` +
        `telemetry:\n  typing_presence: ${typingPresence}\n` +
        llmYaml("openai", openai.url, "gpt-test"),
      { TAU_OPENAI_API_KEY: "sk-test-typing", TAU_TELEGRAM_BOT_TOKEN: tg.token },
    );
    return { app, tg, openai };
  }

  it("sends typing to the chat while the model works, before the reply, and delivers the reply with one sendMessage", async () => {
    const { app, tg, openai } = await telegramRig(true);
    await ingest(app, makeDm("4242", { event_id: "telegram:6112:u:1", text: "think about it" }));
    await drain(app);
    expect(openai.chatRequests()).toHaveLength(1);
    expect(tg.chatActions.map((a) => [a.chat_id, a.action])).toContainEqual([4242, "typing"]);
    expect(tg.chatActions.every((a) => a.chat_id === 4242 && a.action === "typing")).toBe(true);
    const sends = tg.callsTo("sendMessage");
    expect(sends).toHaveLength(1);
    expect(sends[0]!.params).toMatchObject({ chat_id: 4242, text: "Typed answer." });
    expect(sends[0]!.status).toBe(200);
    const firstTyping = tg.requests.findIndex((r) => r.method?.toLowerCase() === "sendchataction");
    expect(firstTyping).toBeGreaterThanOrEqual(0);
    expect(firstTyping).toBeLessThan(tg.requests.indexOf(sends[0]!));
    expect(tg.callsTo("sendChatAction").every((r) => r.status === 200)).toBe(true);
    expect(app.store.counters.all()["typing.telegram.sent"]).toBeGreaterThanOrEqual(1);
    const out = app.store.inspect.repliesAfter(0);
    expect(out.map((r) => [r.purpose, r.status])).toEqual([["responder", "sent"]]);
  });

  it("telemetry.typing_presence: false sends no sendChatAction, and the reply is still delivered once", async () => {
    const { app, tg, openai } = await telegramRig(false);
    await ingest(app, makeDm("4242", { event_id: "telegram:6112:u:1", text: "think quietly" }));
    await drain(app);
    expect(openai.chatRequests()).toHaveLength(1);
    expect(tg.callsTo("sendChatAction")).toEqual([]);
    expect(tg.chatActions).toEqual([]);
    const sends = tg.callsTo("sendMessage");
    expect(sends).toHaveLength(1);
    expect(sends[0]!.params).toMatchObject({ chat_id: 4242, text: "Typed answer." });
    expect(app.store.counters.all()["typing.telegram.sent"]).toBeUndefined();
  });

  it("the outbound kill switch holds typing with the replies: no sendChatAction, no sendMessage, counted as held", async () => {
    const { app, tg, openai } = await telegramRig(true);
    app.store.killswitches.put({ scope: "outbound", is_on: true, reason: "test", changed_by: "cli:root", at_ms: app.clock() });
    await ingest(app, makeDm("4242", { event_id: "telegram:6112:u:1", text: "hold on" }));
    await drain(app);
    expect(openai.chatRequests()).toHaveLength(1);
    expect(tg.callsTo("sendChatAction")).toEqual([]);
    expect(tg.callsTo("sendMessage")).toEqual([]);
    expect(app.store.counters.all()["typing.telegram.held"]).toBeGreaterThanOrEqual(1);
    expect(app.store.inspect.repliesAfter(0).map((r) => [r.purpose, r.status, r.reason])).toEqual([
      ["responder", "queued", "delivery_kill_switch"],
    ]);
  });
});
