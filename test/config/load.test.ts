import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/contracts/errors.ts";
import { listEnvOverrides, loadConfig, TauConfigSchema } from "../../src/config/index.ts";

function write(text: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "tau-config-"));
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

describe("config loading", () => {
  it("fills secure defaults when the default ./tau.yaml is absent", () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "tau-config-"));
    const { config, file } = loadConfig({ env: {}, cwd: d });
    expect(file).toBeNull();
    expect(config.outbound.mode).toBe("dry-run");
    expect(config.server.bind).toBe("127.0.0.1:8788");
    expect(config.connectors.telegram.mode).toBe("disabled");
    expect(config.runner.coalesce_window_ms).toBe(2500);
  });

  it("names file, line, column and the unknown key", () => {
    const f = write("schema_version: 1\nrunner:\n  queue_limit: 10\n  queue_limt: 5\n");
    const e = errorOf(() => loadConfig({ configPath: f, env: {} }));
    expect(e.message).toBe(`${f}:4:3: unknown key "runner.queue_limt" (did you mean "queue_limit"?)`);
    expect(e.details).toMatchObject({ file: f, line: 4, column: 3 });
  });

  it("names the field and the allowed values for a bad enum", () => {
    const f = write("outbound:\n  mode: live\n");
    const e = errorOf(() => loadConfig({ configPath: f, env: {} }));
    expect(e.message).toBe(`${f}:2:9: outbound.mode: must be one of "channel-store", "dry-run", "provider"`);
  });

  it("reports YAML syntax errors with a position", () => {
    const f = write("runner:\n  queue_limit: [1,\n");
    const e = errorOf(() => loadConfig({ configPath: f, env: {} }));
    expect(e.message).toMatch(new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: not valid YAML`));
  });

  it("fails on a missing explicit config path with a hint", () => {
    const e = errorOf(() => loadConfig({ configPath: "/nonexistent/tau.yaml", env: {} }));
    expect(e.message).toContain("/nonexistent/tau.yaml: cannot read config: ENOENT");
    expect(e.hint).toContain("tau init");
  });

  it("applies TAU_<PATH> environment overrides over the file, with API root aliases", () => {
    const f = write("outbound:\n  mode: channel-store\n");
    const { config, envApplied } = loadConfig({
      configPath: f,
      env: {
        TAU_OUTBOUND_MODE: "provider",
        TAU_SERVER_BIND: "0.0.0.0:9000",
        TAU_CONNECTORS_TELEGRAM_MODE: "polling",
        TAU_TELEGRAM_API_ROOT: "http://127.0.0.1:8081",
        TAU_RUNNER_QUEUE_LIMIT: "77",
        TAU_CONNECTORS_DISCORD_CHANNEL_IDS: "1,2",
      },
    });
    expect(config.outbound.mode).toBe("provider");
    expect(config.server.bind).toBe("0.0.0.0:9000");
    expect(config.connectors.telegram.mode).toBe("polling");
    expect(config.connectors.telegram.api_root).toBe("http://127.0.0.1:8081");
    expect(config.runner.queue_limit).toBe(77);
    expect(config.connectors.discord.channel_ids).toEqual(["1", "2"]);
    expect(envApplied).toContain("TAU_OUTBOUND_MODE");
  });

  it("rejects a bad environment override naming the variable", () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "tau-config-"));
    const e = errorOf(() => loadConfig({ env: { TAU_OUTBOUND_MODE: "yolo" }, cwd: d }));
    expect(e.message).toContain("TAU_OUTBOUND_MODE");
  });

  it("lists an environment variable for every setting", () => {
    const names = listEnvOverrides(TauConfigSchema).map((o) => o.name);
    expect(names).toContain("TAU_SERVER_BIND");
    expect(names).toContain("TAU_OUTBOUND_MODE");
    for (const t of ["TELEGRAM", "DISCORD", "WHATSAPP", "EMAIL"]) expect(names).toContain(`TAU_CONNECTORS_${t}_MODE`);
  });
});
