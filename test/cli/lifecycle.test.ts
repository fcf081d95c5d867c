/**
 * Lifecycle and readiness commands as child processes (`tau channel`, `tau preflight`, `tau secrets`,
 * `tau deadletter`), against the local Telegram, Discord and WhatsApp servers, in a temp tau home. The entry is
 * bin/tau.js: the real CLI.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { queueReplies } from "../../src/outbound/outbox.ts";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";
import { startDiscordServer, type DiscordServer } from "../helpers/discord-server.ts";
import { startWhatsAppGraphServer, type WhatsAppGraphServer } from "../helpers/whatsapp-graph-server.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";

const TAU = path.resolve("bin/tau.js");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  json<T = Record<string, unknown>>(): T;
}

function tau(home: TauHome, args: string[], opts: { env?: Record<string, string>; input?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env.PATH ?? "", HOME: home.dir, ...opts.env };
    const c = spawn(process.execPath, [TAU, "--state-dir", home.stateDir, "--config", home.configPath, ...args], {
      cwd: home.dir,
      env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    c.on("error", reject);
    c.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr, json: <T>() => JSON.parse(stdout) as T }));
    c.stdin.end(opts.input ?? "");
  });
}

interface Check {
  key: string;
  code: string;
  ok: boolean;
}
const lines = (checks: Check[]) => checks.map((c) => `${c.key}:${c.code}`);

let tg: TelegramBotApiServer;
let dc: DiscordServer;
let wa: WhatsAppGraphServer;
const homes: TauHome[] = [];

beforeAll(async () => {
  tg = await startTelegramBotApiServer();
  dc = await startDiscordServer();
  wa = await startWhatsAppGraphServer();
});
afterAll(async () => {
  await Promise.all([tg.close(), dc.close(), wa.close()]);
});
afterEach(() => {
  tg.clearFaults();
  dc.clearFaults();
  wa.clearFaults();
  while (homes.length) homes.pop()!.cleanup();
});

/** A home with all three chat connectors enabled and pointed at the local servers. */
function home(opts: { telegramMode?: "polling" | "webhook"; policy?: string; extra?: string } = {}): TauHome {
  const h = makeTauHome(
    [
      "runner:\n  coalesce_window_ms: 0",
      "outbound:\n  mode: provider\n  http_timeout_ms: 1000",
      `server:\n  public_url: "https://tau.example.com/"`,
      "connectors:",
      `  telegram: { mode: ${opts.telegramMode ?? "polling"}, api_root: "${tg.url}" }`,
      `  discord: { mode: gateway, api_root: "${dc.url}/api" }`,
      `  whatsapp: { mode: webhook, api_root: "${wa.url}/v23.0" }`,
      opts.extra ?? "",
    ].join("\n") + "\n",
    { "channel-policy.yaml": opts.policy ?? OPEN_CHANNEL_POLICY.replace("allowFrom: any", "allowFrom: allowlist_or_pairing") },
  );
  homes.push(h);
  return h;
}

const ALL_SECRETS = () => ({
  TAU_TELEGRAM_BOT_TOKEN: tg.token,
  TAU_TELEGRAM_WEBHOOK_SECRET: "tg-webhook-secret_1",
  TAU_DISCORD_BOT_TOKEN: dc.token,
  TAU_WHATSAPP_ACCESS_TOKEN: wa.accessToken,
  TAU_WHATSAPP_PHONE_NUMBER_ID: wa.phoneNumberId,
  TAU_WHATSAPP_APP_SECRET: "wa-app-secret",
  TAU_WHATSAPP_VERIFY_TOKEN: "wa-verify",
});

describe("tau channel", () => {
  it("login (Telegram webhook mode): checks credentials, creates the ingress file, sets the webhook with secret_token", async () => {
    const h = home({ telegramMode: "webhook" });
    const r = await tau(h, ["channel", "login", "telegram", "--online", "--json"], { env: ALL_SECRETS() });
    expect(r.code).toBe(0);
    const rep = r.json<{ state: string; ok: boolean; reason: string; checks: Check[] }>();
    expect(rep).toMatchObject({ state: "logged_in", ok: true, reason: "ready" });
    expect(lines(rep.checks)).toEqual([
      "telegram.token:ready",
      "telegram.webhook_secret:ready",
      "telegram.ingress:ready",
      "telegram.webhook:ready",
      "telegram.online:ready",
      "telegram.commands:ready",
    ]);
    expect(tg.webhook()).toMatchObject({ url: "https://tau.example.com/webhooks/telegram", secret_token: "tg-webhook-secret_1" });
    const file = path.join(h.stateDir, "ingress", "telegram.ndjson");
    expect(fs.statSync(file).isFile()).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(r.stdout).not.toContain(tg.token);

    const app = h.open();
    try {
      expect(JSON.parse(app.store.kv.get("lifecycle:telegram")!)).toMatchObject({ state: "logged_in", reason: "ready" });
      const audit = app.store.audit.all().map(({ action, target, outcome, reason_code }) => ({ action, target, outcome, reason_code }));
      expect(audit).toEqual([{ action: "channel.login", target: "telegram", outcome: "logged_in", reason_code: "ready" }]);
    } finally {
      app.close();
    }

    const out = await tau(h, ["channel", "logout", "telegram", "--json"], { env: ALL_SECRETS() });
    expect(out.code).toBe(0);
    expect(out.json()).toMatchObject({ state: "logged_out", reason: "logout_requested" });
    expect(tg.webhook()).toBe(null);
    const st = await tau(h, ["channel", "status", "telegram"], { env: ALL_SECRETS() });
    expect(st.code).toBe(1);
    expect(st.stdout).toBe(
      [
        "telegram: logged_out (logout_requested)",
        "telegram.token:ready",
        "telegram.webhook_secret:ready",
        "telegram.ingress:ready",
        "telegram.lifecycle:logout_requested",
        "",
      ].join("\n"),
    );
  });

  it("login refuses without credentials (lifecycle reason codes) and when the ingress path is not a file", async () => {
    const h = home();
    const tgMissing = await tau(h, ["channel", "login", "telegram", "--json"]);
    expect(tgMissing.code).toBe(1);
    expect(tgMissing.json()).toMatchObject({ state: "never_changed", ok: false, reason: "missing_telegram_bot_token" });
    const waMissing = await tau(h, ["channel", "login", "whatsapp", "--json"], { env: { TAU_WHATSAPP_ACCESS_TOKEN: wa.accessToken } });
    // The phone number id falls back to identity.whatsapp.phone_number_id in tau.yaml (set in the test home).
    expect(waMissing.json<{ checks: (Check & { detail?: string })[] }>().checks).toEqual([
      { key: "whatsapp.token", code: "ready", ok: true, detail: "from env" },
      { key: "whatsapp.phone_number_id", code: "ready", ok: true, detail: "from tau.yaml" },
      { key: "whatsapp.app_secret", code: "missing_whatsapp_app_secret", ok: false },
      { key: "whatsapp.verify_token", code: "missing_whatsapp_verify_token", ok: false },
    ]);
    const noId = home();
    fs.writeFileSync(
      noId.configPath,
      fs.readFileSync(noId.configPath, "utf8").replace('phone_number_id: "106540352242922"', 'phone_number_id: ""'),
    );
    const noIdRun = await tau(noId, ["channel", "login", "whatsapp", "--json"], { env: { TAU_WHATSAPP_ACCESS_TOKEN: wa.accessToken } });
    expect(noIdRun.json()).toMatchObject({ ok: false, reason: "missing_whatsapp_phone_number_id" });
    fs.mkdirSync(path.join(h.stateDir, "ingress", "discord.ndjson"), { recursive: true });
    const notFile = await tau(h, ["channel", "login", "discord", "--json"], { env: ALL_SECRETS() });
    expect(notFile.code).toBe(1);
    expect(notFile.json()).toMatchObject({ ok: false, reason: "ingress_not_file", state: "never_changed" });
    const bad = await tau(h, ["channel", "login", "irc"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("USAGE_TRANSPORT");
  });

  /** A home whose ingress files exist (as after a login), so only the online check decides. */
  function probeHome(): TauHome {
    const h = home();
    fs.mkdirSync(path.join(h.stateDir, "ingress"), { recursive: true, mode: 0o700 });
    for (const t of ["telegram", "discord", "whatsapp"])
      fs.writeFileSync(path.join(h.stateDir, "ingress", `${t}.ndjson`), "", { mode: 0o600 });
    return h;
  }
  async function probe(h: TauHome, t: string, extraEnv: Record<string, string> = {}) {
    const r = await tau(h, ["channel", "probe", t, "--online", "--json"], { env: { ...ALL_SECRETS(), ...extraEnv } });
    return { code: r.code, online: r.json<{ checks: Check[] }>().checks.find((c) => c.key === `${t}.online`)?.code };
  }

  it("probe --online: ready, and auth failures (getMe, GET /users/@me)", async () => {
    const h = probeHome();
    expect(await probe(h, "telegram")).toEqual({ code: 0, online: "ready" });
    expect(await probe(h, "discord")).toEqual({ code: 0, online: "ready" });
    expect(await probe(h, "whatsapp")).toEqual({ code: 0, online: "ready" });
    expect(await probe(h, "discord", { TAU_DISCORD_BOT_TOKEN: "wrong.token.value" })).toEqual({
      code: 1,
      online: "probe_online_discord_auth_failed",
    });
    expect(await probe(h, "telegram", { TAU_TELEGRAM_BOT_TOKEN: "999:wrong-token" })).toEqual({
      code: 1,
      online: "probe_online_telegram_auth_failed",
    });
  });

  it("probe --online: rate limits, provider outages, timeouts and refused connections", async () => {
    const h = probeHome();
    tg.rateLimitNext(5, { method: "getMe" });
    expect(await probe(h, "telegram")).toEqual({ code: 1, online: "probe_online_telegram_rate_limited" });
    wa.failNextWithCode(131016, { match: "GET /" });
    expect(await probe(h, "whatsapp")).toEqual({ code: 1, online: "probe_online_whatsapp_provider_unavailable" });
    tg.delayNext(3000, { method: "getMe" });
    expect(await probe(h, "telegram")).toEqual({ code: 1, online: "probe_online_telegram_timeout" });
    fs.writeFileSync(h.configPath, fs.readFileSync(h.configPath, "utf8").replace(`${dc.url}/api`, "http://127.0.0.1:1/api"));
    expect(await probe(h, "discord")).toEqual({ code: 1, online: "probe_online_discord_transport_error" });
  });
});

describe("tau preflight", () => {
  it("passes with key:code lines when every enabled transport is ready", async () => {
    const h = home();
    for (const t of ["telegram", "discord", "whatsapp"])
      expect((await tau(h, ["channel", "login", t], { env: ALL_SECRETS() })).code).toBe(0);
    const r = await tau(h, ["preflight"], { env: ALL_SECRETS() });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        "telegram.token:ready",
        "telegram.ingress:ready",
        "telegram.lifecycle:ready",
        "discord.token:ready",
        "discord.interaction_tokens:ready",
        "discord.ingress:ready",
        "discord.lifecycle:ready",
        "whatsapp.token:ready",
        "whatsapp.phone_number_id:ready",
        "whatsapp.app_secret:ready",
        "whatsapp.verify_token:ready",
        "whatsapp.ingress:ready",
        "whatsapp.lifecycle:ready",
        "state.writable:ready",
        "credentials.store:ready",
        "policy.load:ready",
        "policy.strict_mode:ready",
        "preflight: pass",
        "",
      ].join("\n"),
    );
  });

  it("fails (exit 1) on a missing webhook secret, a logged-out transport and an open-DM policy under strict mode", async () => {
    const h = home({
      telegramMode: "webhook",
      policy: "schema_version: 1\nstrictMode: true\ndefaultPolicy: { dmPolicy: allow, allowFrom: any, groupPolicy: deny }\n",
    });
    const env: Record<string, string> = { ...ALL_SECRETS() };
    delete env.TAU_TELEGRAM_WEBHOOK_SECRET;
    for (const t of ["discord", "whatsapp"]) expect((await tau(h, ["channel", "login", t], { env })).code).toBe(0);
    expect((await tau(h, ["channel", "logout", "discord"], { env })).code).toBe(0);
    const r = await tau(h, ["preflight", "--json"], { env });
    expect(r.code).toBe(1);
    const rep = r.json<{ ok: boolean; reason: string; transports: string[]; checks: Check[] }>();
    expect(rep).toMatchObject({ ok: false, reason: "missing_telegram_webhook_secret", transports: ["telegram", "discord", "whatsapp"] });
    expect(lines(rep.checks.filter((c) => !c.ok))).toEqual([
      "telegram.webhook_secret:missing_telegram_webhook_secret",
      "telegram.ingress:ingress_missing",
      "discord.lifecycle:logout_requested",
      "policy.strict_mode:strict_mode_open_dm",
    ]);
  });

  it("reports an unreadable credential store", async () => {
    const h = home();
    h.open().close(); // create and migrate the state, then break the store behind tau's back
    const db = new Database(path.join(h.stateDir, "tau.db"));
    db.exec("DROP TABLE secrets");
    db.close();
    const r = await tau(h, ["preflight", "--json"], { env: { TAU_DISCORD_BOT_TOKEN: dc.token } });
    expect(r.code).toBe(1);
    const checks = r.json<{ checks: Check[] }>().checks;
    expect(lines(checks.filter((c) => ["telegram.token", "discord.token", "credentials.store"].includes(c.key)))).toEqual([
      "telegram.token:credential_store_unreadable",
      "discord.token:ready",
      "credentials.store:credential_store_unreadable",
    ]);
  });

  it("checks only enabled transports", async () => {
    const h = home();
    fs.writeFileSync(h.configPath, fs.readFileSync(h.configPath, "utf8").replace(/mode: (polling|gateway|webhook)/g, "mode: disabled"));
    const r = await tau(h, ["preflight"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      ["state.writable:ready", "credentials.store:ready", "policy.load:ready", "policy.strict_mode:ready", "preflight: pass", ""].join(
        "\n",
      ),
    );
  });
});

describe("tau secrets", () => {
  it("set reads stdin only; list shows ids, sources and presence, never values; the store stays 0600", async () => {
    const h = home();
    const value = "7777777:stdin-only-token_abcdefghijklmnop";
    const set = await tau(h, ["secrets", "set", "telegram-bot-token", "--json"], { input: `${value}\n` });
    expect(set.code).toBe(0);
    expect(set.json()).toEqual({ id: "telegram-bot-token", stored: true, effective_source: "store" });
    const list = await tau(h, ["secrets", "list", "--json"], { env: { TAU_DISCORD_BOT_TOKEN: "from-env" } });
    expect(list.code).toBe(0);
    expect(list.stdout).not.toContain(value);
    expect(list.stdout).not.toContain("from-env");
    const rows = list.json<{ id: string; source: string | null; present: boolean }[]>();
    expect(rows.find((x) => x.id === "telegram-bot-token")).toMatchObject({ source: "store", present: true });
    expect(rows.find((x) => x.id === "discord-bot-token")).toMatchObject({ source: "env", present: true });
    expect(rows.find((x) => x.id === "whatsapp-access-token")).toMatchObject({ source: null, present: false });
    for (const f of ["tau.db", "tau.db-wal"]) {
      const p = path.join(h.stateDir, f);
      if (fs.existsSync(p)) expect(fs.statSync(p).mode & 0o777).toBe(0o600);
    }
    const app = h.open();
    try {
      expect(app.store.secrets.get("telegram-bot-token")).toBe(value);
      expect(app.store.audit.all().map(({ action, target, args }) => ({ action, target, args }))).toEqual([
        { action: "secret.set", target: "telegram-bot-token", args: "{}" },
      ]);
    } finally {
      app.close();
    }
    // The stored token is what login and the probe use.
    const login = await tau(h, ["channel", "login", "telegram", "--json"]);
    expect(login.json<{ checks: Check[] }>().checks[0]).toMatchObject({ key: "telegram.token", code: "ready", detail: "from store" });

    const empty = await tau(h, ["secrets", "set", "discord-bot-token"], { input: "" });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("USAGE_SECRET_EMPTY");
    const del = await tau(h, ["secrets", "delete", "telegram-bot-token", "--json"]);
    expect(del.json()).toEqual({ id: "telegram-bot-token", deleted: true });
    const after = await tau(h, ["secrets", "list", "--json"]);
    expect(after.json<{ id: string; present: boolean }[]>().find((x) => x.id === "telegram-bot-token")!.present).toBe(false);
  });
});

describe("tau deadletter", () => {
  it("lists dead letters and unknown sends; replay re-queues them at the first unsent chunk (confirmed, audited)", async () => {
    const h = home();
    const app = h.open(() => 1_763_712_000_000);
    try {
      app.store.atomically(() => {
        const target = { transport: "telegram" as const, account_id: "6112", conversation_id: "-1001234", thread_id: null, reply_to: null };
        for (const [id, status] of [
          ["ob_dead", "dead_letter"],
          ["ob_unknown", "unknown"],
          ["ob_failed", "failed"],
        ] as const) {
          queueReplies(
            app.store,
            `e:${id}`,
            target,
            [{ purpose: "responder", text: "part one\n\npart two" }],
            { mode: "provider", maxChars: 16, now: 1_763_712_000_000 },
            () => id,
          );
          app.store.outbox.setChunk(
            { outbox_id: id, idx: 0, status: "sent", reason: "delivery_sent", receipt: null, provider_message_id: "-1001234:1" },
            1_763_712_000_000,
          );
          app.store.outbox.setChunk(
            {
              outbox_id: id,
              idx: 1,
              status,
              reason: "delivery_provider_unavailable",
              receipt: JSON.stringify({
                state: null,
                at_ms: 1,
                last_error: { code: "delivery_provider_unavailable", status: 502, detail: "sendMessage 502: Bad Gateway" },
              }),
            },
            1_763_712_000_000,
          );
          app.store.outbox.setRow(
            { outbox_id: id, status, reason: "delivery_provider_unavailable", attempts: 5, next_attempt_at_ms: 0 },
            1_763_712_000_000,
          );
        }
      });
    } finally {
      app.close();
    }
    const list = await tau(h, ["deadletter", "list", "--json"]);
    expect(list.code).toBe(0);
    expect(
      list
        .json<{ outbox_id: string; status: string; chunks_sent: number; replayable: boolean; last_error: { detail: string } }[]>()
        .map((r) => [r.outbox_id, r.status, r.chunks_sent, r.replayable, r.last_error.detail]),
    ).toEqual([
      ["ob_dead", "dead_letter", 1, true, "sendMessage 502: Bad Gateway"],
      ["ob_unknown", "unknown", 1, true, "sendMessage 502: Bad Gateway"],
      ["ob_failed", "failed", 1, false, "sendMessage 502: Bad Gateway"],
    ]);

    expect(list.json<{ outbox_id: string; kind: string; evidence: unknown }[]>().map((r) => [r.outbox_id, r.kind, r.evidence])).toEqual([
      ["ob_dead", "exhausted", null],
      [
        "ob_unknown",
        "ambiguous",
        {
          chunk: 1,
          chunk_count: 2,
          text: "part two",
          sent_at_ms: 1,
          error: { code: "delivery_provider_unavailable", status: 502, detail: "sendMessage 502: Bad Gateway" },
        },
      ],
      ["ob_failed", "failed", null],
    ]);
    const human = await tau(h, ["deadletter", "list"]);
    expect(human.stdout).toContain("ambiguous — may have been delivered");
    expect(human.stdout).toContain("part two");

    const refused = await tau(h, ["deadletter", "replay"], { input: "no\n" });
    expect(refused.code).toBe(1);
    // Ambiguous rows are left alone unless asked for, and the replay says so.
    const replay = await tau(h, ["deadletter", "replay", "--limit", "5", "--yes", "--json"]);
    expect(replay.code).toBe(0);
    expect(replay.json()).toEqual({ replayed: ["ob_dead"], count: 1, ambiguous_left: 1 });
    const nothing = await tau(h, ["deadletter", "replay", "--yes"]);
    expect(nothing.stdout).toContain("left 1 ambiguous reply alone");
    const both = await tau(h, ["deadletter", "replay", "--limit", "5", "--include-ambiguous", "--yes", "--json"]);
    expect(both.json()).toEqual({ replayed: ["ob_unknown"], count: 1, ambiguous_left: 0 });

    const after = h.open();
    try {
      for (const id of ["ob_dead", "ob_unknown"]) {
        expect(after.store.outbox.get(id)).toMatchObject({
          status: "queued",
          attempts: 0,
          next_attempt_at_ms: 0,
          reason: "deadletter_replayed",
        });
        expect(after.store.outbox.chunksOf(id).map((c) => c.status)).toEqual(["sent", "queued"]);
      }
      expect(after.store.outbox.get("ob_failed")!.status).toBe("failed");
      const audit = after.store.audit.all().filter((a) => a.action === "deadletter.replay");
      expect(audit.map((a) => [a.outcome, JSON.parse(a.args)])).toEqual([
        ["refused", { limit: 100 }],
        ["replayed", { limit: 5, outbox_ids: ["ob_dead"] }],
        ["replayed", { limit: 5, include_ambiguous: true, outbox_ids: ["ob_unknown"] }],
      ]);
    } finally {
      after.close();
    }
  });
});
