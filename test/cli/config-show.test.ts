import { afterEach, describe, expect, it } from "vitest";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";
import { runTau } from "../helpers/run-tau.ts";

let home: TauHome | null = null;
afterEach(() => home?.cleanup());
const g = (h: TauHome) => ["--state-dir", h.stateDir, "--config", h.configPath];

interface Shown {
  file: string;
  values: { path: string; value: unknown; source: string }[];
  secrets: { id: string; env: string | null; state: string; source: string | null }[];
}

describe("tau config show", { timeout: 60_000 }, () => {
  it("prints each effective value with its source, and credentials as set / not set, never their values", async () => {
    // tau-home writes 8 lines (schema_version, log, identity) before this: outbound.mode is on line 10.
    home = makeTauHome(
      "outbound:\n  mode: channel-store\nresponders:\n  assistant:\n    kind: llm\n    provider: openai\n    model: m\n    base_url: https://user:hunter2@llm.example/v1\n",
    );
    const env = { TAU_SERVER_BIND: "0.0.0.0:9000", TAU_TELEGRAM_BOT_TOKEN: "123456:SECRET-TOKEN-VALUE" };
    const r = await runTau([...g(home), "config", "show", "--json"], { env });
    expect(r.code).toBe(0);
    const out = r.json<Shown>();
    expect(out.file).toBe(home.configPath);
    const v = (p: string) => out.values.find((x) => x.path === p);
    expect(v("outbound.mode")).toEqual({ path: "outbound.mode", value: "channel-store", source: "tau.yaml:10" });
    // The file says error; run-tau's environment sets TAU_LOG_LEVEL=silent, and the environment wins.
    expect(v("log.level")).toEqual({ path: "log.level", value: "silent", source: "env TAU_LOG_LEVEL" });
    expect(v("schema_version")).toEqual({ path: "schema_version", value: 1, source: "tau.yaml:1" });
    expect(v("server.bind")).toEqual({ path: "server.bind", value: "0.0.0.0:9000", source: "env TAU_SERVER_BIND" });
    expect(v("runner.poll_interval_ms")).toEqual({ path: "runner.poll_interval_ms", value: 200, source: "default" });
    expect(v("responders.assistant.base_url")).toEqual({
      path: "responders.assistant.base_url",
      value: "https://user:********@llm.example/v1",
      source: "tau.yaml:16",
    });
    expect(v("responders.assistant.max_attempts")).toMatchObject({ value: 3, source: "default" });
    expect(out.secrets.find((s) => s.id === "telegram-bot-token")).toEqual({
      id: "telegram-bot-token",
      env: "TAU_TELEGRAM_BOT_TOKEN",
      state: "set",
      source: "env",
    });
    expect(out.secrets.find((s) => s.id === "discord-bot-token")).toMatchObject({ state: "not set", source: null });
    expect(r.stdout).not.toContain("SECRET-TOKEN-VALUE");
    expect(r.stdout).not.toContain("hunter2");

    const human = await runTau([...g(home), "config", "show"], { env });
    expect(human.stdout).toMatch(/^outbound\.mode +"channel-store" +tau\.yaml:10$/m);
    expect(human.stdout).toMatch(/^server\.bind +"0\.0\.0\.0:9000" +env TAU_SERVER_BIND$/m);
    expect(human.stdout).toMatch(/^telegram-bot-token +set +env TAU_TELEGRAM_BOT_TOKEN$/m);
    expect(human.stdout).not.toContain("SECRET-TOKEN-VALUE");
    expect(human.stdout).not.toContain("hunter2");
  });

  it("lists every config problem at once (exit 3)", async () => {
    home = makeTauHome("runner:\n  queue_limt: 5\n  batch_size: 0\n");
    const r = await runTau([...g(home), "config", "show"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`${home.configPath}: 2 problems`);
    expect(r.stderr).toContain(`${home.configPath}:10:3: unknown key "runner.queue_limt" (did you mean "queue_limit"?)`);
    expect(r.stderr).toContain(`${home.configPath}:11:15: runner.batch_size: Too small: expected number to be >0`);
  });
});
