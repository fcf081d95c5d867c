/**
 * Responder jobs end to end: the real runner and worker over a real SQLite state, the real `openai` SDK against the
 * local OpenAI-compatible server. Replies land in the outbox (channel-store mode records them without a network).
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createAppRunner, createServices, openApp, openIngressWriter, type App } from "../../src/app/index.ts";
import { createMetrics } from "../../src/health/metrics.ts";
import { responderUsage } from "../../src/health/responder-usage.ts";
import { makeDm, makeEnvelope } from "../helpers/envelope-factory.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";
import { startOpenAIServer, type OpenAIServerHandle } from "../helpers/openai-server.ts";
import type { Envelope } from "../../src/contracts/envelope.ts";

const homes: TauHome[] = [];
const servers: OpenAIServerHandle[] = [];
afterEach(async () => {
  for (const h of homes.splice(0)) h.cleanup();
  for (const s of servers.splice(0)) await s.close();
});

const KEY = "sk-test-123";

async function setup(opts: { mode?: string; responderYaml?: (url: string) => string; extra?: string; rbac?: string } = {}) {
  const server = await startOpenAIServer({ apiKey: KEY });
  servers.push(server);
  const responder = opts.responderYaml
    ? opts.responderYaml(server.url)
    : `    kind: llm
    provider: openai
    base_url: ${server.url}
    model: gpt-test
    tools: [tau.whoami, tau.allowlist.add, tau.killswitch.status]
    sdk_max_retries: 0
    timeout_ms: 5000`;
  const policies: Record<string, string> = { "channel-policy.yaml": OPEN_CHANNEL_POLICY };
  if (opts.rbac) policies["rbac.yaml"] = opts.rbac;
  const h = makeTauHome(
    `runner:\n  coalesce_window_ms: 0\noutbound:\n  mode: ${opts.mode ?? "channel-store"}\nresponders:\n  assistant:\n${responder}\ndefault_responder: assistant\n${opts.extra ?? ""}`,
    policies,
  );
  homes.push(h);
  const app = openApp({ stateDir: h.stateDir, configPath: h.configPath, env: { TAU_OPENAI_API_KEY: KEY } });
  return { h, app, server };
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
const replies = (app: App) => app.store.inspect.repliesAfter(0).map((r) => ({ purpose: r.purpose, text: textOf(app, r.outbox_id) }));
const userTexts = (s: OpenAIServerHandle, i: number) =>
  (s.chatRequests()[i]!.body!.messages as { role: string; content: unknown }[]).map(
    (m) => `${m.role}:${typeof m.content === "string" ? m.content : JSON.stringify(m.content)}`,
  );

describe("responder jobs", () => {
  it("answers an admitted user's ordinary message with the model's text, once, through a job created with the decision", async () => {
    const { app, server } = await setup();
    server.reply({ text: "The web tier is healthy." });
    await ingest(app, makeDm("4242", { event_id: "telegram:6112:u:1", text: "how is the web tier?" }));
    await drain(app);
    const trace = app.store.inspect.tracesAfter(0)[0]!;
    expect({ outcome: trace.outcome, reason: trace.reason }).toEqual({ outcome: "queued", reason: "responder_queued" });
    expect(replies(app)).toEqual([{ purpose: "responder", text: "The web tier is healthy." }]);
    expect(server.chatRequests()).toHaveLength(1);
    expect(userTexts(server, 0).at(-1)).toBe("user:how is the web tier?");
    expect(app.store.responders.jobsIn("done").map((j) => j.reason)).toEqual(["responder_replied"]);
    const usage = app.store.responders.usageSince(0);
    expect(usage).toMatchObject([{ responder: "assistant", transport: "telegram", provider: "openai", model: "gpt-test", calls: 1 }]);
    expect(usage[0]!.input_tokens).toBeGreaterThan(0);
    expect(usage[0]!.output_tokens).toBeGreaterThan(0);
    // A second drain neither calls the model nor answers again.
    await drain(app);
    expect(server.chatRequests()).toHaveLength(1);
    expect(replies(app)).toHaveLength(1);
    app.close();
  });

  it("remembers the conversation per session key, never across sessions, and /tau forget clears the caller's own", async () => {
    const { app, server } = await setup();
    const dialog = (i: number) => userTexts(server, i).filter((m) => !m.startsWith("system:"));
    await ingest(
      app,
      makeDm("4242", { event_id: "telegram:6112:u:1", text: "I am Ana" }),
      makeDm("4242", { event_id: "telegram:6112:u:2", text: "who am I?" }),
      makeDm("5151", { event_id: "telegram:6112:u:3", text: "who am I?" }),
    );
    await drain(app);
    const dialogs = [0, 1, 2].map(dialog);
    // The fake answers `echo: <last user text>`; 4242's second question carries their first exchange, 5151's nothing.
    expect(dialogs).toContainEqual(["user:I am Ana", "assistant:echo: I am Ana", "user:who am I?"]);
    expect(dialogs.filter((d) => d.length === 1 && d[0] === "user:who am I?")).toHaveLength(1);
    await ingest(app, makeDm("4242", { event_id: "telegram:6112:u:4", text: "/tau forget" }));
    await drain(app);
    expect(replies(app).at(-1)!.text).toContain("I have forgotten our conversation here.");
    await ingest(app, makeDm("4242", { event_id: "telegram:6112:u:5", text: "who am I?" }));
    await drain(app);
    expect(dialog(3)).toEqual(["user:who am I?"]);
    // The other user's memory is untouched.
    expect(app.store.responders.recentHistory("5151", 10, 0)).toHaveLength(2);
    app.close();
  });

  it("dry-run makes no model call and writes the exact request, without the key, to the dry-run outbox", async () => {
    const { h, app, server } = await setup({ mode: "dry-run" });
    await ingest(app, makeDm("4242", { event_id: "telegram:6112:u:1", text: "status?" }));
    await drain(app);
    expect(server.requests).toHaveLength(0);
    const lines = fs
      .readFileSync(path.join(h.stateDir, "outbox", "dry-run.ndjson"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({
      kind: "responder_request",
      responder: "assistant",
      reason: "responder_dry_run",
      request: { method: "POST", url: `${server.url}/chat/completions`, headers: { authorization: "Bearer <redacted>" } },
    });
    const body = (lines[0]!.request as { body: { model: string; messages: { role: string; content: string }[]; tools: unknown[] } }).body;
    expect(body.model).toBe("gpt-test");
    expect(body.messages.at(-1)).toEqual({ role: "user", content: "status?" });
    expect(body.tools.map((t) => (t as { function: { name: string } }).function.name)).toEqual([
      "tau_whoami",
      "tau_allowlist_add",
      "tau_killswitch_status",
    ]);
    expect(JSON.stringify(lines)).not.toContain(KEY);
    expect(lines[1]).toMatchObject({ reason: "delivery_dry_run", request: { body: { chat_id: 4242 } } });
    app.close();
  });

  it("runs tools as the same actor: a viewer's model is denied an operator tool, an allowed tool runs, both audited as agent", async () => {
    const { app, server } = await setup();
    server.reply({ toolCalls: [{ name: "tau_killswitch_status", arguments: "{}" }] });
    server.reply({ toolCalls: [{ name: "tau_whoami", arguments: "{}" }] });
    server.reply({ text: "You are a viewer." });
    await ingest(app, makeDm("4242", { event_id: "telegram:6112:u:1", text: "what can I do?" }));
    await drain(app);
    const second = server.chatRequests()[1]!.body!.messages as { role: string; content: string }[];
    expect(JSON.parse(second.at(-1)!.content)).toMatchObject({ error: "command_rbac_denied" });
    const third = server.chatRequests()[2]!.body!.messages as { role: string; content: string }[];
    expect(JSON.parse(third.at(-1)!.content)).toMatchObject({ status: "reported", reason_code: "command_whoami" });
    expect(replies(app)).toEqual([{ purpose: "responder", text: "You are a viewer." }]);
    const audit = app.store.audit.all().filter((r) => r.surface === "agent");
    expect(audit.map((r) => [r.target, r.outcome, r.reason_code])).toEqual([
      ["tau.killswitch.status", "denied", "command_rbac_denied"],
      ["tau.whoami", "reported", "command_whoami"],
    ]);
    expect(JSON.parse(audit[1]!.args)).toMatchObject({ "@agent": { responder: "assistant", model: "gpt-test" } });
    app.close();
  });

  it("never runs an approval-gated tool: the user gets the usual approval prompt and the model is told it is pending", async () => {
    const { app, server } = await setup({ rbac: "schema_version: 1\nadmins: ['telegram:4242']\noperators: []\ncapabilities: {}\n" });
    server.reply({ toolCalls: [{ name: "tau_allowlist_add", arguments: JSON.stringify({ actor: "telegram:777" }) }] });
    server.reply({ text: "I asked for approval to allowlist telegram:777." });
    await ingest(app, makeDm("4242", { event_id: "telegram:6112:u:1", text: "allowlist 777 please" }));
    await drain(app);
    expect(app.store.access.isAllowlisted("telegram:777")).toBe(false);
    const approvals = app.store.commands.listApprovals();
    expect(approvals).toHaveLength(1);
    expect(approvals[0]).toMatchObject({ capability_id: "tau.allowlist.add", requester: "telegram:4242", status: "pending" });
    const second = server.chatRequests()[1]!.body!.messages as { role: string; content: string }[];
    expect(JSON.parse(second.at(-1)!.content)).toMatchObject({ status: "approval_pending", approval_id: approvals[0]!.id });
    const out = replies(app);
    expect(out.map((r) => r.purpose)).toEqual(["responder", "approval"]);
    expect(out[1]!.text).toContain(`approve ${approvals[0]!.id}`);
    app.close();
  });

  it("bounds bad model behaviour: unknown tool, invalid JSON arguments and a tool loop each get a reason code, never a crash", async () => {
    const { app, server } = await setup({
      responderYaml: (url) =>
        `    kind: llm\n    provider: openai\n    base_url: ${url}\n    model: gpt-test\n    tools: [tau.whoami]\n    max_tool_steps: 2\n    sdk_max_retries: 0`,
    });
    const app2 = app;
    server.reply({ toolCalls: [{ name: "tau_drop_database", arguments: "{}" }] });
    server.reply({ toolCalls: [{ name: "tau_whoami", arguments: "{not json" }] });
    server.reply({ toolCalls: [{ name: "tau_whoami", arguments: "{}" }] });
    await ingest(app2, makeDm("4242", { event_id: "telegram:6112:u:1", text: "loop" }));
    await drain(app2);
    const reqs = server.chatRequests();
    expect(reqs).toHaveLength(3);
    const toolResult = (i: number) => JSON.parse((reqs[i]!.body!.messages as { content: string }[]).at(-1)!.content) as { error?: string };
    expect(toolResult(1).error).toBe("responder_tool_unknown");
    expect(toolResult(2).error).toBe("responder_tool_args_invalid");
    expect(app2.store.responders.jobsIn("failed").map((j) => j.reason)).toEqual(["responder_tool_loop_exceeded"]);
    expect(replies(app2)[0]!.text).toMatch(/stopped after 2 rounds/);
    app2.close();
  });

  it("an empty answer and a refused key end with a reason code and a short reply; a 429 is retried and answered once", async () => {
    const { app, server } = await setup({ extra: "" });
    server.reply({ text: "" });
    await ingest(app, makeDm("4242", { event_id: "telegram:6112:u:1", text: "say nothing" }));
    await drain(app);
    expect(app.store.responders.jobsIn("failed").map((j) => j.reason)).toEqual(["responder_model_empty_answer"]);
    expect(replies(app).at(-1)!.text).toBe("I have no answer to that.");

    server.failNext({ status: 429, type: "requests", code: "rate_limit_exceeded", headers: { "retry-after-ms": "20" } });
    server.reply({ text: "Second time lucky." });
    await ingest(app, makeDm("4242", { event_id: "telegram:6112:u:2", text: "try" }));
    await drain(app);
    expect(replies(app).at(-1)!.text).toBe("Second time lucky.");
    expect(app.store.responders.jobsIn("done").map((j) => [j.reason, j.attempts])).toEqual([["responder_replied", 2]]);

    server.failNext({ status: 401, code: "invalid_api_key", type: "invalid_request_error" });
    await ingest(app, makeDm("4242", { event_id: "telegram:6112:u:3", text: "again" }));
    await drain(app);
    expect(app.store.responders.jobsIn("failed").map((j) => j.reason)).toContain("responder_model_auth_failed");
    expect(replies(app).at(-1)!.text).toMatch(/credentials were refused/);
    expect(JSON.stringify(replies(app))).not.toContain(KEY);
    app.close();
  });

  it("holds jobs while the responders kill switch is on (no model call, nothing lost) and answers them once it is off", async () => {
    const { app, server } = await setup();
    app.store.killswitches.put({ scope: "responders", is_on: true, reason: "test", changed_by: "cli:root", at_ms: 0 });
    await ingest(app, makeDm("4242", { event_id: "telegram:6112:u:1", text: "anyone?" }));
    await drain(app);
    expect(server.chatRequests()).toHaveLength(0);
    expect(app.store.responders.jobsIn("queued")).toHaveLength(1);
    expect(app.store.inspect.tracesAfter(0)[0]!.decisions).toContain("responders_kill_switch_held");
    app.store.killswitches.put({ scope: "responders", is_on: false, reason: "test", changed_by: "cli:root", at_ms: 1 });
    server.reply({ text: "Here now." });
    await drain(app);
    expect(replies(app)).toEqual([{ purpose: "responder", text: "Here now." }]);
    app.close();
  });

  it("refuses over the per-actor rate limit and over the daily token budget, with a reply and an audit record", async () => {
    const { app: a, server } = await setup({
      responderYaml: (url) =>
        `    kind: llm\n    provider: openai\n    base_url: ${url}\n    model: gpt-test\n    sdk_max_retries: 0\n    rate_limit: { per_actor_per_minute: 1 }\n    daily_token_budget: 1`,
    });
    await ingest(
      a,
      makeDm("4242", { event_id: "telegram:6112:u:1", text: "one" }),
      makeDm("4242", { event_id: "telegram:6112:u:2", text: "two" }),
    );
    await drain(a);
    expect(a.store.responders.jobsIn("failed").map((j) => j.reason)).toEqual(["responder_rate_limited"]);
    await ingest(a, makeDm("5151", { event_id: "telegram:6112:u:3", text: "three" }));
    await drain(a);
    expect(a.store.responders.jobsIn("failed").map((j) => j.reason)).toEqual(["responder_rate_limited", "responder_budget_exceeded"]);
    expect(server.chatRequests()).toHaveLength(1);
    const audit = a.store.audit.all().filter((r) => r.action === "responder");
    expect(audit.map((r) => r.reason_code).sort()).toEqual(["responder_budget_exceeded", "responder_rate_limited"]);
    a.close();
  });

  it("runs one conversation in order and different conversations concurrently", async () => {
    const { app, server } = await setup({ extra: "responder_concurrency: 8\n" });
    server.setDefault((body) => {
      const msgs = body.messages as { role: string; content: string }[];
      return { text: `re: ${msgs.at(-1)!.content}`, delayMs: 150 };
    });
    const envs: Envelope[] = [];
    for (let c = 0; c < 6; c++)
      for (let i = 0; i < 2; i++)
        envs.push(
          makeEnvelope({
            event_id: `telegram:6112:u:${c * 10 + i}`,
            conversation_id: `-100${c}`,
            actor: { id: `70${c}` },
            text: `c${c} m${i}`,
            occurred_at_ms: 1000 + i,
          }),
        );
    await ingest(app, ...envs);
    const started = performance.now();
    await drain(app);
    const elapsed = performance.now() - started;
    // 12 calls of 150 ms: in series that would be 1.8 s; 6 conversations × 2 in order is about 0.3 s.
    expect(elapsed).toBeLessThan(1500);
    for (let c = 0; c < 6; c++) {
      const mine = app.store.inspect
        .repliesAfter(0)
        .filter((r) => app.store.outbox.get(r.outbox_id)!.conversation_id === `-100${c}`)
        .map((r) => textOf(app, r.outbox_id));
      expect(mine).toEqual([`re: c${c} m0`, `re: c${c} m1`]);
    }
    app.close();
  });

  it("refuses to start with a responder whose tool is not a capability, naming the YAML path", async () => {
    const { app } = await setup({
      responderYaml: () => "    kind: llm\n    provider: openai\n    model: gpt-test\n    tools: [tau.whoami, tau.drop_database]",
    });
    expect(() => createAppRunner(app)).toThrow(/responders\.assistant\.tools\[1\]: no capability "tau\.drop_database"/);
    app.close();
  });

  it("reports usage: tau status, /metrics tau_responder_* and the telemetry runtime events, with cost from the price table", async () => {
    const { app, server } = await setup({
      extra: "telemetry:\n  min_response_chars: 10\n  prices:\n    'openai:gpt-test': { input_per_mtok: 1000, output_per_mtok: 2000 }\n",
    });
    server.reply({ text: "A long enough answer.", usage: { promptTokens: 30, completionTokens: 5 } });
    server.reply({ text: "ok", usage: { promptTokens: 10, completionTokens: 1 } });
    server.failNext({ status: 400, code: "context_length_exceeded", type: "invalid_request_error", message: "maximum context length" });
    await ingest(
      app,
      makeDm("4242", { event_id: "telegram:6112:u:1", text: "one" }),
      makeDm("4242", { event_id: "telegram:6112:u:2", text: "two" }),
      makeDm("4242", { event_id: "telegram:6112:u:3", text: "three" }),
    );
    await drain(app);
    const services = createServices(app);
    const status = await services.registry
      .get("tau.status")!
      .run({}, { principal: "cli:root", role: "admin", surface: "cli", now: app.clock(), services, origin: null });
    const u = (status.data as { responders: ReturnType<typeof responderUsage> }).responders;
    expect(u.usage).toMatchObject([{ responder: "assistant", transport: "telegram", calls: 3, input_tokens: 40, output_tokens: 6 }]);
    expect(u.totals.cost_usd).toBeCloseTo((40 * 1000 + 6 * 2000) / 1e6, 6);
    expect(u.replies).toEqual([
      { responder: "assistant", transport: "telegram", jobs: 3, records: 2, chars: expect.any(Number), chunks: 3 },
    ]);
    expect(u.errors).toEqual([{ responder: "assistant", reason: "responder_model_context_too_long", count: 1 }]);
    expect(status.text).toMatch(/Responders \(24 h\): 3 model calls, 40 in \/ 6 out tokens, 3 replies/);
    const metrics = createMetrics({
      snapshot: () => ({
        ingestedByTransport: {},
        processed: 0,
        deniedByReason: {},
        deliveriesByReason: {},
        queueDepth: 0,
        connectorLive: {},
        responders: responderUsage(app.store, app.config, 0, app.clock()),
      }),
    });
    const text = await metrics.render();
    expect(text).toContain('tau_responder_calls_total{responder="assistant",transport="telegram"} 3');
    expect(text).toContain('tau_responder_tokens_total{responder="assistant",transport="telegram",direction="output"} 6');
    expect(text).toContain('tau_responder_errors_total{responder="assistant",reason="responder_model_context_too_long"} 1');
    const events = app.store.inspect.runtimeEvents({ sinceMs: 0, afterId: 0, limit: 50 }).map((e) => e.reason_codes);
    expect(events).toContain(JSON.stringify(["telemetry_usage_summary_emitted"]));
    expect(events).toContain(JSON.stringify(["telemetry_lifecycle_emitted"]));
    app.close();
  });

  it("the responders kill switch stops a model call in flight within a second; the job is held and answered after the switch is off", async () => {
    const { app, server } = await setup();
    server.reply({ text: "too late", delayMs: 10_000 });
    server.reply({ text: "Back again." });
    await ingest(app, makeDm("4242", { event_id: "telegram:6112:u:1", text: "slow one" }));
    const { runner, close } = createAppRunner(app);
    const ac = new AbortController();
    const running = runner.run(ac.signal);
    try {
      await waitFor(() => server.chatRequests().length === 1);
      const switchedAt = performance.now();
      app.store.killswitches.put({ scope: "responders", is_on: true, reason: "test", changed_by: "cli:root", at_ms: app.clock() });
      await waitFor(() => app.store.responders.jobsIn("queued").length === 1);
      expect(performance.now() - switchedAt).toBeLessThan(1000);
      expect(app.store.responders.jobsIn("queued")[0]).toMatchObject({ attempts: 0, reason: "responders_kill_switch" });
      expect(replies(app)).toEqual([]);
      app.store.killswitches.put({ scope: "responders", is_on: false, reason: "test", changed_by: "cli:root", at_ms: app.clock() });
      await waitFor(() => replies(app).length === 1);
      expect(replies(app)).toEqual([{ purpose: "responder", text: "Back again." }]);
    } finally {
      ac.abort();
      await running;
      close();
      app.close();
    }
  });

  it("a crash after a retryable failure is the one repeat, not 'interrupted twice': the job runs again and is answered once", async () => {
    const { app, server } = await setup();
    server.failNext({ status: 429, type: "requests", code: "rate_limit_exceeded", headers: { "retry-after": "120" } });
    await ingest(app, makeDm("4242", { event_id: "telegram:6112:u:1", text: "hello" }));
    await drain(app);
    const [job] = app.store.responders.jobsIn("queued");
    expect(job).toMatchObject({ attempts: 1, reason: "responder_model_rate_limited" });
    // The second attempt starts and the process dies in the middle of it.
    expect(app.store.responders.claim(job!.job_id, app.clock())).toBe(true);
    server.reply({ text: "Answered after the restart." });
    await drain(app);
    expect(replies(app)).toEqual([{ purpose: "responder", text: "Answered after the restart." }]);
    expect(app.store.responders.jobsIn("done")).toMatchObject([{ attempts: 3, reason: "responder_replied" }]);
    app.close();
  });
});

/** Poll until `cond` holds (bounded: 5 s). */
async function waitFor(cond: () => boolean): Promise<void> {
  const until = performance.now() + 5000;
  while (!cond()) {
    if (performance.now() > until) throw new Error("condition not met within 5 s");
    await new Promise((r) => setTimeout(r, 10));
  }
}
