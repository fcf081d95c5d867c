/**
 * Operating responders from the CLI as an operator would: `tau preflight` names a misconfigured responder's YAML path
 * and fails; `tau preflight --online` and `tau doctor --online` probe the model provider with the configured key (a
 * refused key fails, without the key in the output); `tau auth status openai` says where the key comes from.
 */
import { afterEach, describe, expect, it } from "vitest";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";
import { runTau } from "../helpers/run-tau.ts";
import { startOpenAIServer, type OpenAIServerHandle } from "../helpers/openai-server.ts";

const homes: TauHome[] = [];
const servers: OpenAIServerHandle[] = [];
afterEach(async () => {
  for (const h of homes.splice(0)) h.cleanup();
  for (const s of servers.splice(0)) await s.close();
});

const KEY = "sk-test-123";

async function home(responderYaml: (url: string) => string, bindings?: string) {
  const server = await startOpenAIServer({ apiKey: KEY });
  servers.push(server);
  const policies: Record<string, string> = { "channel-policy.yaml": OPEN_CHANNEL_POLICY };
  if (bindings) policies["route-bindings.yaml"] = bindings;
  const h = makeTauHome(`outbound:\n  mode: channel-store\nresponders:\n  assistant:\n${responderYaml(server.url)}\n`, policies);
  homes.push(h);
  const args = (...a: string[]) => [...a, "--config", h.configPath, "--state-dir", h.stateDir];
  return { h, server, args };
}

const llm = (url: string, extra = "") => `    kind: llm\n    provider: openai\n    base_url: ${url}\n    model: gpt-test\n${extra}`;

describe("operating responders", () => {
  it("preflight fails on an unknown tool, a missing key and a binding naming an unknown responder, each with its path", async () => {
    const { args } = await home(
      (url) => llm(url, "    tools: [tau.whoami, tau.nope]\n"),
      "schema_version: 1\nbindings:\n  - binding_id: ops\n    transport: telegram\n    responder: asistant\n",
    );
    const r = await runTau(args("preflight", "--json"), { env: { TAU_OPENAI_API_KEY: "" } });
    expect(r.code).toBe(1);
    const checks = r.json<{ ok: boolean; checks: { key: string; code: string; ok: boolean; detail?: string }[] }>().checks;
    const bad = checks.filter((c) => !c.ok && c.key.startsWith("responder."));
    expect(bad.map((c) => [c.key, c.code])).toEqual([
      ["responder.assistant", "responder_tool_unknown"],
      ["responder.assistant", "responder_key_missing"],
      ["responder.binding.ops", "responder_unknown"],
    ]);
    expect(bad[0]!.detail).toContain('responders.assistant.tools[1]: no capability "tau.nope"');
    expect(bad[2]!.detail).toContain("route-bindings.yaml bindings[0].responder");
  });

  it("preflight --online and doctor --online probe the provider with the key: accepted passes, refused fails without showing it", async () => {
    const { args, server } = await home((url) => llm(url));
    const ok = await runTau(args("preflight", "--online", "--json"), { env: { TAU_OPENAI_API_KEY: KEY } });
    const okChecks = ok.json<{ checks: { key: string; code: string; ok: boolean }[] }>().checks;
    expect(okChecks.filter((c) => c.key.startsWith("responder."))).toEqual([
      expect.objectContaining({ key: "responder.assistant", code: "ready", ok: true }),
      expect.objectContaining({ key: "responder.assistant.online", code: "ready", ok: true }),
    ]);
    expect(server.requests.some((q) => q.path === "/v1/models" && q.status === 200)).toBe(true);
    const bad = await runTau(args("preflight", "--online", "--json"), { env: { TAU_OPENAI_API_KEY: "sk-wrong-999" } });
    expect(bad.code).toBe(1);
    expect(bad.json<{ checks: { key: string; code: string }[] }>().checks.find((c) => c.key === "responder.assistant.online")?.code).toBe(
      "responder_model_auth_failed",
    );
    expect(bad.stdout + bad.stderr).not.toContain("sk-wrong-999");
    const doctor = await runTau(args("cap", "run", "communications.doctor", "--arg", "online=true", "--json"), {
      env: { TAU_OPENAI_API_KEY: "sk-wrong-999" },
    });
    const dchecks = JSON.parse(doctor.stdout).data.checks as { check: string; status: string; reason_code: string }[];
    expect(dchecks.find((c) => c.check === "probe.responder.assistant")).toMatchObject({
      status: "fail",
      reason_code: "probe_online_openai_auth_failed",
    });
    expect(doctor.stdout).not.toContain("sk-wrong-999");
  });

  it("auth status openai names the responder's key and where it comes from, never its value", async () => {
    const { args } = await home((url) => llm(url, "    api_key_secret: team-openai\n"));
    const r = await runTau(args("cap", "run", "communications.auth.status", "--arg", "provider=openai", "--json"), {
      input: "",
    });
    const rows = JSON.parse(r.stdout).data.credentials as { provider: string; id: string; state: string; purpose: string }[];
    expect(rows).toEqual([expect.objectContaining({ provider: "openai", id: "team-openai", state: "missing" })]);
    expect(rows[0]!.purpose).toContain("responder assistant");
  });
});
