/**
 * Native command registration at `tau channel login <transport> --online` (issue 12 §2), through the real CLI
 * (bin/tau.js) against the local Telegram and Discord servers, which validate what the real APIs validate:
 * Telegram `setMyCommands` per scope (a DM user's list, the ops chat's operator list, an rbac admin's own DM) and the
 * Discord bulk overwrite of `/tau` with subcommands and groups generated from the capability registry.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startDiscordServer, type DiscordServer } from "../helpers/discord-server.ts";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";

const TAU = path.resolve("bin/tau.js");
const OPS_CHAT = "-1001234567890";
const ADMIN = "777000";

interface Check {
  key: string;
  code: string;
  ok: boolean;
  detail?: string;
}

function tau(home: TauHome, args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [TAU, "--state-dir", home.stateDir, "--config", home.configPath, ...args], {
      cwd: home.dir,
      env: { PATH: process.env.PATH ?? "", HOME: home.dir, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    c.on("error", reject);
    c.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

let tg: TelegramBotApiServer;
let dc: DiscordServer;
const homes: TauHome[] = [];

beforeAll(async () => {
  tg = await startTelegramBotApiServer();
  // The home's identity names application 1100000000000000001: the server's bot is that application.
  dc = await startDiscordServer({ botUser: { id: "1100000000000000001" } });
});
afterAll(async () => {
  await Promise.all([tg.close(), dc.close()]);
});
afterEach(() => {
  while (homes.length) homes.pop()!.cleanup();
});

function home(extra = ""): TauHome {
  const h = makeTauHome(
    [
      "connectors:",
      `  telegram: { mode: polling, api_root: "${tg.url}" }`,
      `  discord: { mode: gateway, api_root: "${dc.url}/api"${extra} }`,
      "alerts:",
      `  targets: [{ transport: telegram, account_id: "6112", conversation_id: "${OPS_CHAT}" }]`,
    ].join("\n") + "\n",
    {
      "channel-policy.yaml": OPEN_CHANNEL_POLICY,
      "rbac.yaml": `schema_version: 1\nadmins: ["telegram:${ADMIN}"]\ncapabilities: { tau.status: operator }\n`,
    },
  );
  homes.push(h);
  return h;
}

const env = () => ({ TAU_TELEGRAM_BOT_TOKEN: tg.token, TAU_DISCORD_BOT_TOKEN: dc.token });

describe("tau channel login --online: native command menus", () => {
  it("sets Telegram commands per scope: viewers in every DM, operators in the ops chat, an admin's own list in their DM", async () => {
    const h = home();
    const r = await tau(h, ["channel", "login", "telegram", "--online", "--json"], env());
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const checks = (JSON.parse(r.stdout) as { checks: Check[] }).checks;
    expect(checks.find((c) => c.key === "telegram.commands")).toMatchObject({ code: "ready", ok: true });

    const dm = tg.menus.listFor("all_private_chats")!.map((c) => c.command);
    // Viewer commands only; tau.status is raised to operator by rbac.yaml, so a DM user does not see it.
    expect(dm).toContain("tau_help");
    expect(dm).toContain("tau_whoami");
    expect(dm).not.toContain("tau_status");
    expect(dm).not.toContain("tau_pairing_approve");
    expect(tg.menus.listFor("default")).toEqual(tg.menus.listFor("all_private_chats"));

    const ops = tg.menus.listFor("chat", OPS_CHAT)!.map((c) => c.command);
    expect(ops).toContain("tau_pairing_approve");
    expect(ops).toContain("tau_status");
    expect(ops).not.toContain("tau_killswitch_on"); // admin only

    expect(tg.menus.visibleInPrivateChat(ADMIN).map((c) => c.command)).toContain("tau_killswitch_on");
    expect(tg.menus.visibleInPrivateChat("555").map((c) => c.command)).toEqual(dm);
    const help = tg.menus.listFor("chat", OPS_CHAT)!.find((c) => c.command === "tau_pairing_approve")!;
    expect(help.description).toBe("approve a pairing code: the actor may then DM the bot — <code>");
  });

  it("overwrites the Discord application commands with /tau subcommands and groups the server accepts", async () => {
    const h = home();
    const r = await tau(h, ["channel", "login", "discord", "--online", "--json"], env());
    expect(r.code).toBe(0);
    const checks = (JSON.parse(r.stdout) as { checks: Check[] }).checks;
    expect(checks.find((c) => c.key === "discord.commands")).toMatchObject({ code: "ready", ok: true });

    const put = dc.requests.filter((q) => q.method === "PUT" && q.path === "/applications/1100000000000000001/commands");
    expect(put).toHaveLength(1);
    expect(put[0]!.headers["authorization"]).toBe(`Bot ${dc.token}`);
    const saved = dc.interactions.commands.get("global")!;
    const tauCmd = saved.find((c) => c["name"] === "tau")!;
    const options = tauCmd["options"] as { name: string; type: number; options?: { name: string; type: number; required?: boolean }[] }[];
    expect(options.find((o) => o.name === "whoami")).toMatchObject({ type: 1 });
    const pairing = options.find((o) => o.name === "pairing")!;
    expect(pairing.type).toBe(2);
    expect(pairing.options!.map((o) => o.name).sort()).toEqual(["approve", "deny", "list", "revoke"]);
    const approve = pairing.options!.find((o) => o.name === "approve") as unknown as {
      options: { name: string; type: number; required?: boolean }[];
    };
    expect(approve.options).toEqual([{ type: 3, name: "code", description: "code (positional in chat)", required: true }]);
    expect(saved.map((c) => c["name"]).sort()).toEqual(["tau", "tau-calendar", "tau-communications", "tau-contacts"]);
    for (const c of saved) expect((c["options"] as unknown[]).length).toBeLessThanOrEqual(25);
  });

  it("registers guild commands when connectors.discord.commands_guild_id is set, and reports a refusal as a failed check", async () => {
    const h = home(', commands_guild_id: "1300000000000000002"');
    expect((await tau(h, ["channel", "login", "discord", "--online"], env())).code).toBe(0);
    expect(dc.interactions.commands.get("guild:1300000000000000002")?.length).toBe(4);

    dc.failNext({ match: "PUT /applications/", status: 400, body: { code: 50035, message: "Invalid Form Body", errors: {} } });
    const r = await tau(h, ["channel", "login", "discord", "--online", "--json"], env());
    expect(r.code).toBe(1);
    const rep = JSON.parse(r.stdout) as { ok: boolean; reason: string; checks: Check[] };
    expect(rep).toMatchObject({ ok: false, reason: "probe_online_discord_auth_failed" });
    expect(r.stdout).not.toContain(dc.token);
  });
});
