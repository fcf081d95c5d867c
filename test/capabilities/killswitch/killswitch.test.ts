/**
 * Kill switches end to end: `tau killswitch` from another process (the real CLI), the cached gate a running
 * service reads (≤ 500 ms stale), deliveries held with `delivery_kill_switch` and delivered after `off`, the
 * transport gate and the responders switch in the decision pipeline (built as src/app wires it), the chat
 * capabilities, audit records and health.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { appendAudit } from "../../../src/audit/audit-log.ts";
import { healthFor } from "../../../src/app/index.ts";
import type { Envelope } from "../../../src/contracts/envelope.ts";
import type { ReplyTarget } from "../../../src/contracts/outbound.ts";
import { createDecisionPipeline, createRegistry, createRequestBuilders, createServices, type App } from "../../../src/app/index.ts";
import type { Services } from "../../../src/capabilities/services.ts";
import { createDelivery } from "../../../src/outbound/deliver.ts";
import { queueReplies } from "../../../src/outbound/outbox.ts";
import { createProviderDelivery } from "../../../src/outbound/provider.ts";
import { createContext, type EventContext } from "../../../src/router/context.ts";
import {
  KILLSWITCH_CAPABILITIES,
  createOperationalGate,
  setKillSwitch,
  type OperationalGate,
} from "../../../src/capabilities/killswitch/index.ts";
import { writeLifecycle } from "../../../src/lifecycle/index.ts";
import { createTelegramSender } from "../../../connectors/telegram/sender.ts";
import { createDiscordSender } from "../../../connectors/discord/sender.ts";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../../helpers/telegram-bot-api-server.ts";
import { startDiscordServer, DEFAULT_CHANNEL_ID, type DiscordServer } from "../../helpers/discord-server.ts";
import { makeDm, makeEnvelope } from "../../helpers/envelope-factory.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../../helpers/tau-home.ts";

const T0 = 1_763_712_000_000;
const TAU = path.resolve("bin/tau.js");

function tau(home: TauHome, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [TAU, "--state-dir", home.stateDir, "--config", home.configPath, ...args], {
      cwd: home.dir,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    c.on("error", reject);
    c.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    c.stdin.end("");
  });
}

/** The decision pipeline exactly as the runner builds it (src/app), over this test's gate. */
function wiredPipeline(services: Services, gate: OperationalGate): (ctx: EventContext) => void {
  return createDecisionPipeline(services, () => false, gate);
}

let home: TauHome;
let app: App;
let now: { ms: number };
let services: Services;
let gate: OperationalGate;
const closers: (() => Promise<void> | void)[] = [];

beforeEach(() => {
  home = makeTauHome("runner:\n  coalesce_window_ms: 0\noutbound:\n  mode: provider\n", {
    "channel-policy.yaml": OPEN_CHANNEL_POLICY,
    "rbac.yaml": 'schema_version: 1\nadmins: ["telegram:4242"]\n',
  });
  now = { ms: T0 };
  app = home.open(() => now.ms);
  services = createServices(app, createRegistry());
  gate = createOperationalGate(app.store, () => now.ms);
});
afterEach(async () => {
  while (closers.length) await closers.pop()!();
  app.close();
  home.cleanup();
});

async function servers(): Promise<{ tg: TelegramBotApiServer; dc: DiscordServer }> {
  const tg = await startTelegramBotApiServer();
  const dc = await startDiscordServer();
  closers.push(
    () => tg.close(),
    () => dc.close(),
  );
  return { tg, dc };
}

function delivery(tg: TelegramBotApiServer, dc: DiscordServer) {
  const provider = createProviderDelivery({
    store: app.store,
    senders: new Map([
      ["telegram", createTelegramSender({ apiRoot: tg.url, token: () => tg.token })],
      ["discord", createDiscordSender({ apiRoot: `${dc.url}/api`, token: () => dc.token })],
    ]),
    retry: app.config.outbound,
    clock: () => now.ms,
    random: () => 0.5,
  });
  return createDelivery({
    store: app.store,
    senders: createRequestBuilders(app.config),
    dryRunFile: path.join(app.stateDir, "outbox", "dry-run.ndjson"),
    provider,
    blocked: (t) => gate.deliveryBlock(t),
    clock: () => now.ms,
  });
}

function queue(target: ReplyTarget, text: string, eventId: string): string {
  return app.store.atomically(() =>
    queueReplies(app.store, eventId, target, [{ purpose: "responder", text }], { mode: "provider", maxChars: 4096, now: now.ms }),
  )[0]!;
}
const TG: ReplyTarget = { transport: "telegram", account_id: "6112", conversation_id: "-1001234", thread_id: null, reply_to: null };
const DC: ReplyTarget = { transport: "discord", account_id: "1", conversation_id: DEFAULT_CHANNEL_ID, thread_id: null, reply_to: null };

function run(env: Envelope): EventContext {
  const ctx = createContext(env, now.ms);
  app.store.atomically(() => wiredPipeline(services, gate)(ctx));
  return ctx;
}

describe("outbound and transport kill switches hold deliveries", () => {
  it("`tau killswitch on outbound` in another process: held with delivery_kill_switch within 500 ms; `off` → delivered", async () => {
    const { tg, dc } = await servers();
    const d = delivery(tg, dc);
    expect(gate.deliveryBlock("telegram")).toBe(null); // cached at T0

    const on = await tau(home, ["killswitch", "on", "outbound", "--reason", "provider incident", "--json"]);
    expect(on.code).toBe(0);
    expect(JSON.parse(on.stdout)).toMatchObject({ scope: "outbound", on: true, changed: true });

    now.ms = T0 + 499;
    expect(gate.deliveryBlock("telegram")).toBe(null); // still the cached read
    now.ms = T0 + 500;
    expect(gate.deliveryBlock("telegram")).toBe("delivery_kill_switch");

    const t = queue(TG, "held reply", "e1");
    const c = queue(DC, "held reply", "e2");
    expect(await d.deliverPending()).toEqual({ rows: 0, chunks: 0, held: 2, retries: 0 });
    expect(app.store.outbox.get(t)).toMatchObject({ status: "queued", attempts: 0 });
    expect(app.store.outbox.get(c)).toMatchObject({ status: "queued", attempts: 0 });
    expect(tg.requests).toHaveLength(0);
    expect(dc.requests).toHaveLength(0);

    const off = await tau(home, ["killswitch", "off", "outbound", "--reason", "resolved", "--yes"]);
    expect(off.code).toBe(0);
    expect(off.stdout).toBe("kill switch outbound is now off\n");
    now.ms = T0 + 1000;
    expect(await d.deliverPending()).toEqual({ rows: 2, chunks: 2, held: 0, retries: 0 });
    expect(app.store.outbox.get(t)).toMatchObject({ status: "sent", reason: "delivery_sent" });
    expect(app.store.outbox.get(c)).toMatchObject({ status: "sent", reason: "delivery_sent" });
    expect(tg.sentMessages).toHaveLength(1);
    expect(dc.sentMessages).toHaveLength(1);

    const audit = app.store.audit.all().filter((a) => a.action.startsWith("killswitch."));
    expect(audit.map((a) => [a.surface, a.action, a.target, JSON.parse(a.args as string), a.outcome, a.reason_code])).toEqual([
      ["cli", "killswitch.on", "outbound", { reason: "provider incident" }, "on", "killswitch_on"],
      ["cli", "killswitch.off", "outbound", { reason: "resolved" }, "off", "killswitch_off"],
    ]);
    for (const a of audit) {
      expect(a.actor).toMatch(/^cli:/);
      expect(typeof a.at_ms).toBe("number");
    }
  });

  it("transport:telegram holds only Telegram; a logged-out transport is held with logout_requested", async () => {
    const { tg, dc } = await servers();
    const d = delivery(tg, dc);
    setKillSwitch(
      app.store,
      { scope: "transport:telegram", on: true, reason: "bot token leaked", actor: "cli:ops", surface: "cli" },
      now.ms,
      (e) => void appendAudit(app.store, e, now.ms),
    );
    const t = queue(TG, "not now", "e1");
    const c = queue(DC, "go ahead", "e2");
    expect(await d.deliverPending()).toEqual({ rows: 1, chunks: 1, held: 1, retries: 0 });
    expect(app.store.outbox.get(t)!.status).toBe("queued");
    expect(app.store.outbox.get(c)!.status).toBe("sent");

    writeLifecycle(app.store.kv, "discord", { state: "logged_out", reason: "logout_requested", at_ms: now.ms });
    now.ms += 500;
    expect(gate.deliveryBlock("discord")).toBe("logout_requested");
    expect(gate.deliveryBlock("whatsapp")).toBe(null);
    queue(DC, "after logout", "e3");
    expect(await d.deliverPending()).toEqual({ rows: 0, chunks: 0, held: 2, retries: 0 });
    expect(dc.sentMessages).toHaveLength(1);
  });
});

describe("transport gate and responders switch in the decision pipeline", () => {
  it("events of a killed or logged-out transport are recorded without an answer; receipts still pass", () => {
    setKillSwitch(
      app.store,
      { scope: "transport:telegram", on: true, reason: "", actor: "cli:ops", surface: "cli" },
      now.ms,
      (e) => void appendAudit(app.store, e, now.ms),
    );
    const killed = run(makeDm("4242", { text: "hello" }));
    expect(killed).toMatchObject({ outcome: "recorded", reason: "transport_kill_switch", replies: [] });

    writeLifecycle(app.store.kv, "whatsapp", { state: "logged_out", reason: "logout_requested", at_ms: now.ms });
    gate.invalidate();
    const wa = {
      transport: "whatsapp" as const,
      provider: "whatsapp-cloud-api",
      account_id: "106540352242922",
      event_id: "whatsapp:wamid.A",
    };
    const out = run(makeDm("16505551234", { ...wa, text: "hi" }));
    expect(out).toMatchObject({ outcome: "recorded", reason: "logout_requested", replies: [] });
    const receipt = run(
      makeEnvelope({
        ...wa,
        event_id: "whatsapp:wamid.B:read",
        kind: "status",
        chat_type: "dm",
        conversation_id: "16505551234",
        text: "",
        meta: { status: "read", message_id: "wamid.B" },
      }),
    );
    expect(receipt.reason).toBe("recorded_status");

    const discord = run(
      makeDm("1200000000000000001", { transport: "discord", provider: "discord", account_id: "1", event_id: "discord:1", text: "hi" }),
    );
    expect(discord.outcome).toBe("replied");
  });

  it("`responders` silences the ack responder, but /tau commands still answer", () => {
    setKillSwitch(
      app.store,
      { scope: "responders", on: true, reason: "noisy", actor: "cli:ops", surface: "cli" },
      now.ms,
      (e) => void appendAudit(app.store, e, now.ms),
    );
    const chat = run(makeDm("4242", { text: "hello bot" }));
    expect(chat).toMatchObject({ outcome: "no_reply", reason: "responders_kill_switch", replies: [] });
    const cmd = run(makeDm("4242", { event_id: "telegram:6112:u:900002", text: "/tau status" }));
    expect(cmd.outcome).toBe("replied");
    expect(cmd.jobs.map((j) => j.capability_id)).toEqual(["tau.status"]);

    setKillSwitch(
      app.store,
      { scope: "responders", on: false, reason: "", actor: "cli:ops", surface: "cli" },
      now.ms,
      (e) => void appendAudit(app.store, e, now.ms),
    );
    now.ms += 500;
    const again = run(makeDm("4242", { event_id: "telegram:6112:u:900003", text: "hello again" }));
    expect(again).toMatchObject({ outcome: "replied", reason: "responder_replied" });
    expect(again.replies).toHaveLength(1);
  });
});

describe("/tau killswitch capabilities", () => {
  it("on/off are admin; on is an emergency stop that runs at once, off is confirmed (from chat an approval request)", () => {
    const on = KILLSWITCH_CAPABILITIES.find((c) => c.id === "tau.killswitch.on")!;
    const off = KILLSWITCH_CAPABILITIES.find((c) => c.id === "tau.killswitch.off")!;
    expect([on, off].map((c) => ({ role: c.role, approval: c.approval, alias: c.alias }))).toEqual([
      { role: "admin", approval: "none", alias: ["killswitch", "on"] },
      { role: "admin", approval: "confirm", alias: ["killswitch", "off"] },
    ]);
    const stop = run(makeDm("4242", { event_id: "telegram:6112:u:900010", text: "/tau killswitch on outbound drill" }));
    expect(stop.jobs.map((j) => [j.capability_id, j.args])).toEqual([["tau.killswitch.on", { scope: "outbound", reason: "drill" }]]);
    const ctx = run(makeDm("4242", { event_id: "telegram:6112:u:900011", text: "/tau killswitch off outbound maintenance over" }));
    expect(ctx.outcome).toBe("pending_approval");
    const [approval, ...more] = app.store.commands.listApprovals();
    expect(more).toEqual([]);
    expect(approval!.capability_id).toBe("tau.killswitch.off");
    expect(JSON.parse(approval!.args)).toEqual({ scope: "outbound", reason: "maintenance over" });
  });

  it("running them changes the switch and leaves an audit record with who, scope and reason", async () => {
    const on = KILLSWITCH_CAPABILITIES.find((c) => c.id === "tau.killswitch.on")!;
    const status = KILLSWITCH_CAPABILITIES.find((c) => c.id === "tau.killswitch.status")!;
    const base = {
      principal: "telegram:4242",
      role: "admin" as const,
      surface: "chat" as const,
      now: now.ms,
      services,
      origin: { transport: "telegram", conversation_id: "4242" },
    };
    const r = await on.run({ scope: "transport:discord", reason: "spam wave" }, base);
    expect(r).toMatchObject({
      status: "reported",
      reason_code: "killswitch_on",
      text: "Kill switch transport:discord is now ON (spam wave).",
    });
    const again = await on.run({ scope: "transport:discord", reason: "spam wave" }, base);
    expect(again.text).toBe("Kill switch transport:discord was already on.");
    const s = await status.run({}, base);
    expect(s.text).toBe(`Kill switches on:\ntransport:discord — by telegram:4242 at ${new Date(T0).toISOString()}: spam wave`);
    const audit = app.store.audit
      .all()
      .map(({ actor, surface, action, target, args, outcome }) => ({ actor, surface, action, target, args, outcome }));
    expect(audit).toEqual([
      {
        actor: "telegram:4242",
        surface: "chat",
        action: "killswitch.on",
        target: "transport:discord",
        args: '{"reason":"spam wave"}',
        outcome: "on",
      },
      {
        actor: "telegram:4242",
        surface: "chat",
        action: "killswitch.on",
        target: "transport:discord",
        args: '{"reason":"spam wave"}',
        outcome: "unchanged",
      },
    ]);
  });
});

describe("health", () => {
  it("lists each switch that is on as kill_switch_on:<scope>", () => {
    setKillSwitch(
      app.store,
      { scope: "outbound", on: true, reason: "", actor: "cli:ops", surface: "cli" },
      now.ms,
      (e) => void appendAudit(app.store, e, now.ms),
    );
    expect(healthFor(app).reason_codes).toContain("kill_switch_on:outbound");
  });
});
