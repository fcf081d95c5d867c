/**
 * The watchdog's evaluation over real state (src/app/watchdog.ts): alerts become outbox rows the runner never
 * delivers and the watchdog does (dry-run here: the exact request in dry-run.ndjson), health history is recorded,
 * the dispatcher is stopped and started through its capabilities (audited; viewers are refused in chat), and the
 * incident bundle carries the history, the open incidents and the kill-switch state.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createAppRunner, createServices, openApp, openIngressWriter, type App } from "../../src/app/index.ts";
import { createWatchdog } from "../../src/app/watchdog.ts";
import type { Services } from "../../src/capabilities/services.ts";
import { executeCapability } from "../../src/capabilities/execute.ts";
import { setKillSwitch } from "../../src/capabilities/killswitch/index.ts";
import { createLogger } from "../../src/log.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";

const T0 = 1_796_000_000_000;
const OPS = "-100777";
let h: TauHome;
let app: App;
let services: Services;
const now = { ms: T0 };

function open(): void {
  h = makeTauHome(
    [
      "runner:\n  coalesce_window_ms: 0\n",
      "features:\n  communications: false\n",
      "outbound:\n  mode: dry-run\n",
      `alerts:\n  interval_ms: 1000\n  cooldown_ms: 0\n  targets:\n    - { transport: telegram, account_id: "6112", conversation_id: "${OPS}" }\n`,
    ].join(""),
    {
      "channel-policy.yaml": OPEN_CHANNEL_POLICY,
      "route-bindings.yaml": "schema_version: 1\nbindings: []\n",
      "rbac.yaml": 'schema_version: 1\nadmins: ["telegram:9000"]\n',
    },
  );
  now.ms = T0;
  app = openApp({
    stateDir: h.stateDir,
    configPath: h.configPath,
    env: {},
    clock: () => now.ms,
    logger: createLogger({ level: "silent", includeIdentifiers: false }),
  });
  services = createServices(app);
}
afterEach(() => {
  app.close();
  h.cleanup();
});

/** Dry-run receipts written for the ops chat, in order: the exact Telegram request texts. */
const opsReceipts = () => {
  const f = path.join(h.stateDir, "outbox", "dry-run.ndjson");
  if (!fs.existsSync(f)) return [];
  return fs
    .readFileSync(f, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { outbox_id: string; request?: { body: { chat_id: number; text: string } } })
    .filter((r) => r.request?.body.chat_id === Number(OPS))
    .map((r) => ({ id: r.outbox_id, text: r.request!.body.text }));
};

const asCli = (id: string, args: Record<string, unknown>) =>
  executeCapability(services.registry.get(id)!, args, {
    principal: "cli:ops",
    role: "admin",
    surface: "cli",
    now: now.ms,
    services,
    origin: null,
  });

async function runnerOnce(): Promise<void> {
  const { runner, close } = createAppRunner(app, { services });
  await runner.drain();
  close();
}

describe("watchdog evaluations", () => {
  it("posts through its own delivery of oa_ rows (the runner leaves them alone) and records health history", async () => {
    open();
    await runnerOnce();
    const wd = createWatchdog(app, services, { startedAt: T0 - 120_000 });
    expect((await wd.tick()).message).toBeNull();
    setKillSwitch(app.store, { scope: "responders", on: true, reason: "drill", actor: "cli:ops", surface: "cli" }, now.ms, (e) =>
      services.audit(e),
    );
    now.ms += 1000;
    // The runner does not deliver ops alerts: a cycle between the queueing and the watchdog's delivery sends nothing.
    const plan = await wd.tick();
    expect(plan.severity).toBe("SEV-2");
    const sent = opsReceipts();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.id.startsWith("oa_")).toBe(true);
    expect(sent[0]!.text.split("\n")[1]).toBe(
      "+ SEV-2 kill switch on: responders — confirm containment, scope and follow-up evidence: tau incident open",
    );
    await runnerOnce();
    expect(opsReceipts()).toHaveLength(1);
    const history = app.store.inspect.runtimeEventsNamed("health.transition", 0, 10).reverse();
    expect(history.map((e) => [e.health, JSON.parse(e.detail).from])).toEqual([
      ["healthy", null],
      ["degraded", "healthy"],
    ]);
  });

  it("the dispatcher stops and starts from the CLI (audited), holds alerts meanwhile, and a chat viewer may not stop it", async () => {
    open();
    await runnerOnce();
    const wd = createWatchdog(app, services, { startedAt: T0 - 120_000 });
    await wd.tick();
    const stop = await asCli("communications.alerts.dispatcher.stop", { reason: "maintenance window" });
    expect(stop).toMatchObject({ status: "reported", reason_code: "dispatcher_stopped" });
    setKillSwitch(app.store, { scope: "transport:discord", on: true, reason: "drill", actor: "cli:ops", surface: "cli" }, now.ms, (e) =>
      services.audit(e),
    );
    now.ms += 1000;
    expect((await wd.tick()).message).toBeNull();
    expect(opsReceipts()).toEqual([]);
    const status = await asCli("communications.alerts.dispatcher.status", {});
    expect(status).toMatchObject({
      reason_code: "dispatcher_stopped",
      data: { firing: [{ alert_key: "health" }, { alert_key: "kill_switch_on:transport:discord" }] },
    });
    await asCli("communications.alerts.dispatcher.start", { reason: "" });
    now.ms += 1000;
    await wd.tick();
    expect(opsReceipts().map((r) => r.text.split("\n")[1])).toEqual([
      "+ SEV-2 kill switch on: transport:discord — confirm containment, scope and follow-up evidence: tau incident open",
    ]);
    expect(
      app.store.audit
        .all()
        .filter((a) => a.action.startsWith("alerts.dispatcher"))
        .map((a) => [a.action, a.outcome, a.actor]),
    ).toEqual([
      ["alerts.dispatcher.stop", "stopped", "cli:ops"],
      ["alerts.dispatcher.start", "running", "cli:ops"],
    ]);
    // A viewer in chat: refused by RBAC, the dispatcher keeps running.
    const w = openIngressWriter(app);
    await w.append("telegram", [
      makeDm("4242", { event_id: "telegram:6112:u:31", received_at_ms: now.ms, text: "/tau alerts dispatcher stop because" }),
    ]);
    await w.close();
    await runnerOnce();
    expect(app.store.inspect.trace("telegram:6112:u:31")[0]).toMatchObject({ reason: "command_rbac_denied" });
    expect((await asCli("communications.alerts.dispatcher.status", {})).data).toMatchObject({ dispatcher: "running" });
  });

  it("incident records capture the evidence fields, link into the audit chain, and the bundle carries them with history", async () => {
    open();
    await runnerOnce();
    const wd = createWatchdog(app, services, { startedAt: T0 - 120_000 });
    await wd.tick();
    setKillSwitch(app.store, { scope: "outbound", on: true, reason: "wrong chat", actor: "cli:ops", surface: "cli" }, now.ms, (e) =>
      services.audit(e),
    );
    now.ms += 1000;
    await wd.tick();
    const opened = await asCli("communications.alerts.incident.open", {
      failure_mode: "replies went to the wrong chat",
      scope: "transport:telegram",
      trigger: "alert:kill_switch_on:outbound",
      severity: "SEV-1",
    });
    expect(opened).toMatchObject({
      reason_code: "incident_opened",
      data: { incident: { incident_id: "INC-20261130-01" }, evidence: { kill_switches_on: ["outbound"], health: { state: "degraded" } } },
    });
    const id = "INC-20261130-01";
    await asCli("communications.alerts.incident.contain", { id, action: "outbound held", kill_switch: "outbound" });
    await asCli("communications.alerts.incident.note", { id, text: "chat id migrated upstream" });
    await asCli("communications.alerts.incident.verify", { id, result: "no reply left since 10:02", outcome: "pass" });
    expect(await asCli("communications.alerts.incident.close", { id, force: false })).toMatchObject({
      reason_code: "incident_follow_up_missing",
    });
    const closed = await asCli("communications.alerts.incident.close", { id, follow_up: "alert on chat migration", force: false });
    expect(closed).toMatchObject({
      reason_code: "incident_closed",
      data: {
        incident: {
          status: "closed",
          scope: "transport:telegram",
          trigger_source: "alert:kill_switch_on:outbound",
          failure_mode: "replies went to the wrong chat",
          containment: "outbound held",
          rollback_action: "kill switch outbound on",
          verification: "no reply left since 10:02",
          verification_result: "pass",
          owner: "cli:ops",
          follow_up: "alert on chat migration",
          opened_at_ms: T0 + 1000,
          closed_at_ms: T0 + 1000,
        },
      },
    });
    const log = app.store.incidents.logOf(id);
    expect(log.map((l) => l.action)).toEqual(["open", "contain", "note", "verify", "close"]);
    const audit = new Map(app.store.audit.all().map((a) => [a.seq, a]));
    for (const l of log) expect(audit.get(l.audit_seq)).toMatchObject({ action: `incident.${l.action}`, target: id, hash: l.audit_hash });
    await asCli("communications.alerts.incident.open", {
      failure_mode: "second one",
      scope: "service",
      trigger: "manual",
      severity: "SEV-3",
    });
    const bundle = await asCli("communications.alerts.incident.bundle.create", { write: false });
    const b = bundle.data as {
      incidents_open: { incident_id: string; log: unknown[] }[];
      kill_switches: { scope: string; is_on: boolean }[];
      health_history: { health: string }[];
      runtime_events: unknown[];
    };
    expect(b.incidents_open.map((i) => [i.incident_id, i.log.length])).toEqual([["INC-20261130-02", 1]]);
    expect(b.kill_switches.map((k) => [k.scope, k.is_on])).toEqual([["outbound", true]]);
    expect(b.health_history.map((e) => e.health)).toEqual(["degraded", "healthy"]);
    expect(b.runtime_events.length).toBeGreaterThan(0);
  });
});
