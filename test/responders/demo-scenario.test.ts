/** The demo's assistant scenario: the paired user's question becomes a responder job whose model request is recorded, not sent. */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runScenario } from "../../src/replay/run-scenario.ts";

describe("demo scenario 07-assistant-dry-run", () => {
  it("queues the question for the assistant and records the exact OpenAI request (model, system prompt, tools) without a call", async () => {
    const r = await runScenario(path.resolve("fixtures/scenarios/07-assistant-dry-run.yaml"));
    const processed = r.steps.filter((s) => s.kind === "process");
    const question = processed[1]!;
    expect(question.kind === "process" && question.events[0]).toMatchObject({ outcome: "queued", reason: "responder_queued" });
    const reply = question.kind === "process" ? question.replies[0]! : null;
    expect(reply?.responder_request).toMatchObject({
      responder: "assistant",
      method: "POST",
      url: "https://api.openai.com/v1/chat/completions",
      body: {
        model: "gpt-4.1-mini",
        messages: [
          { role: "system", content: "You are the on-call assistant of the platform team. Be brief." },
          { role: "user", content: "is the rollout gate passing right now?" },
        ],
      },
    });
    const tools = (reply!.responder_request!.body as { tools: { function: { name: string } }[] }).tools.map((t) => t.function.name);
    expect(tools).toEqual(["tau_status", "tau_whoami"]);
    expect(reply?.text).toMatch(/^\(dry-run\) assistant would ask openai gpt-4\.1-mini/);
    expect(reply?.requests[0]?.url).toBe("https://api.telegram.org/bot<redacted>/sendMessage");
  });
});
