import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/contracts/errors.ts";
import { closest, keysAt, levenshtein, loadConfig, TauConfigSchema, unknownTauEnv } from "../../src/config/index.ts";

function write(text: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "tau-dym-"));
  const f = path.join(d, "tau.yaml");
  fs.writeFileSync(f, text);
  return f;
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("did you mean", () => {
  it("edit distance and the closest candidate within a third of the word", () => {
    expect(levenshtein("queue_limt", "queue_limit")).toBe(1);
    expect(levenshtein("kitten", "sitting")).toBe(3);
    expect(levenshtein("", "abc")).toBe(3);
    expect(closest("queue_limt", ["batch_size", "queue_limit", "keep_rotated"])).toBe("queue_limit");
    expect(closest("QUEUE_LIMT", ["queue_limit"])).toBe("queue_limit");
    expect(closest("foo", ["queue_limit", "batch_size"])).toBeNull();
  });

  it("walks the schema to the keys allowed at a path, through defaults, records and unions", () => {
    expect(keysAt(TauConfigSchema, ["runner"])).toContain("queue_limit");
    expect(keysAt(TauConfigSchema, ["connectors", "telegram"])).toEqual(expect.arrayContaining(["mode", "api_root", "poll_timeout_s"]));
    // responders.<name> is an llm or a webhook responder: the keys of both.
    expect(keysAt(TauConfigSchema, ["responders", "assistant"])).toEqual(expect.arrayContaining(["model", "url", "signing_secret"]));
    expect(keysAt(TauConfigSchema, ["nope"])).toEqual([]);
  });
});

describe("config errors list every problem at once", () => {
  it("an unknown key with its suggestion and a bad value, each with file, line and column, in file order", () => {
    const f = write("schema_version: 1\nrunner:\n  queue_limt: 5\n  batch_size: -1\noutbound:\n  mode: dryrun\n");
    const e = errorOf(() => loadConfig({ configPath: f, env: {} }));
    expect(e.message).toBe(
      [
        `${f}: 3 problems`,
        `  ${f}:3:3: unknown key "runner.queue_limt" (did you mean "queue_limit"?)`,
        `  ${f}:4:15: runner.batch_size: Too small: expected number to be >0`,
        `  ${f}:6:9: outbound.mode: must be one of "channel-store", "dry-run", "provider" (did you mean "dry-run"?)`,
      ].join("\n"),
    );
    expect(e.message).not.toContain("more)");
    expect(e.details).toMatchObject({
      file: f,
      line: 3,
      column: 3,
      field: "runner.queue_limt",
      issues: [
        { line: 3, column: 3, field: "runner.queue_limt" },
        { line: 4, column: 15, field: "runner.batch_size" },
        { line: 6, column: 9, field: "outbound.mode" },
      ],
    });
  });

  it("several unknown keys in one map are one problem each; a key with no near match says to remove it", () => {
    const f = write("connectors:\n  telegram:\n    mdoe: polling\n    zzzzzz: 1\n");
    const e = errorOf(() => loadConfig({ configPath: f, env: {} }));
    expect(e.message).toBe(
      [
        `${f}: 2 problems`,
        `  ${f}:3:5: unknown key "connectors.telegram.mdoe" (did you mean "mode"?)`,
        `  ${f}:4:5: unknown key "connectors.telegram.zzzzzz" (remove it or check its spelling)`,
      ].join("\n"),
    );
  });

  it("a misspelt responder key is matched against the responder's own keys", () => {
    const f = write("responders:\n  assistant:\n    kind: llm\n    provider: openai\n    modle: gpt-x\n");
    const e = errorOf(() => loadConfig({ configPath: f, env: {} }));
    expect(e.message).toContain(`unknown key "responders.assistant.modle" (did you mean "model"?)`);
  });

  it("bad environment overrides are all named", () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "tau-dym-"));
    const e = errorOf(() => loadConfig({ env: { TAU_OUTBOUND_MODE: "yolo", TAU_RUNNER_QUEUE_LIMIT: "abc" }, cwd: d }));
    expect(e.message).toContain("environment override TAU_RUNNER_QUEUE_LIMIT: runner.queue_limit:");
    expect(e.message).toContain("environment override TAU_OUTBOUND_MODE: outbound.mode: must be one of");
    expect(e.hint).toContain("TAU_OUTBOUND_MODE");
    expect(e.hint).toContain("TAU_RUNNER_QUEUE_LIMIT");
  });
});

describe("unknown TAU_* environment variables", () => {
  it("are found with the closest known name; settings, secrets, aliases and the CLI's own are known", () => {
    expect(
      unknownTauEnv(
        {
          TAU_OUTBUND_MODE: "provider",
          TAU_RUNNER_QUEUE_LIMT: "5",
          TAU_WHATEVER: "1",
          TAU_OUTBOUND_MODE: "dry-run",
          TAU_TELEGRAM_BOT_TOKEN: "1:x",
          TAU_TELEGRAM_API_ROOT: "http://127.0.0.1:1",
          TAU_STATE_DIR: "/s",
          TAU_SECRETS_KEY: "k",
          TAU_LOG_FORMAT: "pretty",
          TAU_OUTBOUND_PACING_ENABLED: "false",
          RESEND_API_KEY: "re_x",
        },
        TauConfigSchema,
      ),
    ).toEqual([
      { name: "TAU_OUTBUND_MODE", suggestion: "TAU_OUTBOUND_MODE" },
      { name: "TAU_RUNNER_QUEUE_LIMT", suggestion: "TAU_RUNNER_QUEUE_LIMIT" },
      { name: "TAU_WHATEVER", suggestion: null },
    ]);
  });
});
