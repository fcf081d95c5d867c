/**
 * `tau init` writes the bot's identity (issue 13 §3): from flags, or from Telegram's getMe with `--probe-telegram`, so
 * the first `tau ingest` of a Telegram payload is accepted instead of refused with ingress_identity_missing.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runTau } from "../helpers/run-tau.ts";
import { startTelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";

const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "tau-init-id-"));
  dirs.push(d);
  return d;
}
const FIXTURE = path.resolve("fixtures/raw/telegram/private-text.json");
const at = (dir: string) => ["--state-dir", path.join(dir, "state"), "--config", path.join(dir, "tau.yaml")];
type Identity = { telegram: { bot_id: string; username: string }; discord: { user_id: string; application_id: string } };

describe("tau init: identity", () => {
  it("without identity flags the starter identity is empty, init says so, and ingest refuses with ingress_identity_missing", async () => {
    const dir = tmp();
    const init = await runTau(["init", "--dir", dir]);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain("identity not set for telegram, discord, whatsapp");
    expect(fs.readFileSync(path.join(dir, "tau.yaml"), "utf8")).toContain("Required for every transport you ingest or run");
    const r = await runTau([...at(dir), "ingest", FIXTURE, "--transport", "telegram", "--json"]);
    expect(r.code).toBe(1);
    expect(r.json<{ refused: { code: string; detail: string }[] }>().refused).toEqual([
      expect.objectContaining({ code: "ingress_identity_missing", detail: "identity.telegram.bot_id: empty" }),
    ]);
  });

  it("--telegram-bot-id/--telegram-username (and Discord's) land in tau.yaml; the fixture message is then accepted", async () => {
    const dir = tmp();
    const init = await runTau([
      "init",
      "--dir",
      dir,
      "--telegram-bot-id",
      "6112",
      "--telegram-username",
      "@tau_ops_bot",
      "--discord-user-id",
      "1100000000000000001",
      "--json",
    ]);
    expect(init.code).toBe(0);
    expect(init.json<{ identity_missing: string[] }>().identity_missing).toEqual(["whatsapp"]);
    const yaml = parse(fs.readFileSync(path.join(dir, "tau.yaml"), "utf8")) as { identity: Identity };
    expect(yaml.identity.telegram).toEqual({ bot_id: "6112", username: "tau_ops_bot" });
    expect(yaml.identity.discord).toEqual({ user_id: "1100000000000000001", application_id: "1100000000000000001" });
    const r = await runTau([...at(dir), "ingest", FIXTURE, "--transport", "telegram", "--json"]);
    expect(r.code).toBe(0);
    expect(r.json<{ accepted: number; event_ids: string[] }>()).toMatchObject({ accepted: 1, event_ids: ["telegram:6112:u:900001"] });
    const check = await runTau([...at(dir), "policy", "check", "--json"]);
    expect(check.json<{ ok: boolean }>().ok).toBe(true);
  });

  it("refuses identity values that cannot be ids, naming the flag (exit 2)", async () => {
    const r = await runTau(["init", "--dir", tmp(), "--telegram-bot-id", "tau_ops_bot"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--telegram-bot-id "tau_ops_bot" is not a numeric bot id');
  });

  it("--probe-telegram fills the identity from getMe with TAU_TELEGRAM_BOT_TOKEN (local Bot API server)", async () => {
    const tg = await startTelegramBotApiServer({ token: "7001:probe-TOKEN_abcdefghijklmnopqrstu", botUser: { username: "probed_bot" } });
    closers.push(() => tg.close());
    const dir = tmp();
    const env = { TAU_TELEGRAM_BOT_TOKEN: tg.token, TAU_TELEGRAM_API_ROOT: tg.url };
    const init = await runTau(["init", "--dir", dir, "--probe-telegram", "--json"], { env });
    expect(init.code).toBe(0);
    expect(init.json<{ identity: Identity }>().identity.telegram).toEqual({ bot_id: "7001", username: "probed_bot" });
    expect(init.stdout).not.toContain(tg.token);
    expect(fs.readFileSync(path.join(dir, "tau.yaml"), "utf8")).not.toContain(tg.token);

    const wrong = await runTau(["init", "--dir", tmp(), "--probe-telegram"], { env: { ...env, TAU_TELEGRAM_BOT_TOKEN: "7001:wrong" } });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain("Telegram getMe failed");
    expect(wrong.stderr).not.toContain("7001:wrong");
    const none = await runTau(["init", "--dir", tmp(), "--probe-telegram"], { env: { TAU_TELEGRAM_BOT_TOKEN: "" } });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("--probe-telegram needs the bot token in TAU_TELEGRAM_BOT_TOKEN");
  });
});
