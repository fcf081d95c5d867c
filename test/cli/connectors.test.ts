/** `tau connectors status --json` and `tau connectors run --once` as child processes over real state. */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";

const CHILD = fileURLToPath(new URL("../helpers/tau-cli-child.ts", import.meta.url));
const TOKEN = "6112:AAH-tau-cli-token_abcdefghijklmnop";

let server: TelegramBotApiServer;
let home: TauHome;
beforeEach(async () => {
  server = await startTelegramBotApiServer({ token: TOKEN, botUser: { username: "tau_ops_bot" }, firstUpdateId: 1000 });
  home = makeTauHome(`connectors:\n  telegram: { mode: polling, api_root: "${server.url}", poll_timeout_s: 1 }\n`);
});
afterEach(async () => {
  await server.close();
  home.cleanup();
});

function tau(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ["--import", "tsx", CHILD, ...args, "--state-dir", home.stateDir, "--config", home.configPath], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, TAU_LOG_LEVEL: "error", ...env },
    });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => c.kill("SIGKILL"), 30_000);
    c.on("error", reject);
    c.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const FIELDS = [
  "transport",
  "mode",
  "liveness",
  "events_ingested",
  "duplicates_skipped",
  "retry_attempts",
  "auth_failures",
  "parse_failures",
  "provider_failures",
  "last_error_code",
  "last_success_unix_ms",
  "last_error_unix_ms",
];

describe("tau connectors", () => {
  it("status --json lists every transport with exactly the ConnectorStatus fields", async () => {
    const r = await tau(["connectors", "status", "--json"]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(rows.map((s) => Object.keys(s))).toEqual([FIELDS, FIELDS, FIELDS, FIELDS]);
    expect(rows.map((s) => [s["transport"], s["mode"], s["liveness"]])).toEqual([
      ["telegram", "polling", "stopped"],
      ["discord", "disabled", "stopped"],
      ["whatsapp", "disabled", "stopped"],
      ["email", "disabled", "stopped"],
    ]);
  });

  it("run --once does one poll round, commits, exits 0; status then shows what was ingested; the token never prints", async () => {
    server.pushUpdate({
      message: {
        message_id: 1,
        from: { id: 4242, is_bot: false, first_name: "Ana" },
        chat: { id: 4242, type: "private", first_name: "Ana" },
        date: 1763712000,
        text: "one",
      },
    });
    server.pushUpdate({
      message: {
        message_id: 2,
        from: { id: 4242, is_bot: false, first_name: "Ana" },
        chat: { id: 4242, type: "private", first_name: "Ana" },
        date: 1763712001,
        text: "two",
      },
    });
    const r = await tau(["connectors", "run", "--once", "--json"], { TAU_TELEGRAM_BOT_TOKEN: TOKEN });
    expect([r.code, JSON.parse(r.stdout)]).toEqual([0, { telegram: { ok: true, appended: 2, code: null } }]);
    const lines = fs
      .readFileSync(path.join(home.stateDir, "ingress", "telegram.ndjson"), "utf8")
      .trim()
      .split("\n");
    expect(lines.map((l) => (JSON.parse(l) as { event_id: string }).event_id)).toEqual(["telegram:6112:u:1000", "telegram:6112:u:1001"]);
    const s = await tau(["connectors", "status", "--json"]);
    expect((JSON.parse(s.stdout) as Record<string, unknown>[])[0]).toMatchObject({
      transport: "telegram",
      events_ingested: 2,
      liveness: "stopped",
      last_error_code: null,
    });
    expect(r.stdout + r.stderr + s.stdout).not.toContain(TOKEN);
  });

  it("run --once without a token fails with the reason code and exit 1", async () => {
    const r = await tau(["connectors", "run", "--once", "--json"]);
    expect([r.code, JSON.parse(r.stdout)]).toEqual([1, { telegram: { ok: false, appended: 0, code: "missing_telegram_bot_token" } }]);
  });
});
