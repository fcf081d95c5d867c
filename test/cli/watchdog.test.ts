/**
 * The watchdog inside `tau run` (issue 11, "Done means"): the real service as a child process, the local Telegram Bot
 * API server as both its connector and the ops chat. A stalled runner or a kill switch reaches the ops chat within
 * `alerts.interval_ms` + 1 s, then a recovery message; an alert the outbound kill switch holds waits, is listed by
 * `tau status`, and goes out once the switch is off; a fresh shell without the service's environment agrees with it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../helpers/free-port.ts";
import { runTau } from "../helpers/run-tau.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";

const TOKEN = "6112:TEST-token_abcdefghijklmnopqrstuvwx";
const OPS_CHAT = -100999;
const INTERVAL_MS = 500;

let home: TauHome | null = null;
let child: ChildProcess | null = null;
let tg: TelegramBotApiServer | null = null;
afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child!.once("exit", r));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 8000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  child = null;
  await tg?.close();
  tg = null;
  home?.cleanup();
  home = null;
});

async function until<T>(
  fn: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await Promise.resolve()
      .then(fn)
      .catch(() => null);
    if (v !== null && v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; ops chat so far: ${JSON.stringify(tg ? opsMessages() : [])}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const g = (h: TauHome) => ["--state-dir", h.stateDir, "--config", h.configPath];

/** Start `tau run` against the local Telegram server; connector settings come from `serviceEnv` when given. */
async function startService(opts: { yaml?: string; serviceEnv?: (apiRoot: string) => Record<string, string> } = {}) {
  tg = await startTelegramBotApiServer({ token: TOKEN });
  const port = await freePort();
  const connectorYaml = opts.serviceEnv ? "" : `connectors:\n  telegram: { mode: polling, api_root: "${tg.url}", poll_timeout_s: 1 }\n`;
  home = makeTauHome(
    [
      "runner:\n  coalesce_window_ms: 0\n  poll_interval_ms: 50\n  stale_after_ms: 1000\n",
      "outbound:\n  mode: provider\n  http_timeout_ms: 20000\n",
      "features:\n  communications: false\n",
      connectorYaml,
      `alerts:\n  interval_ms: ${INTERVAL_MS}\n  cooldown_ms: 0\n  startup_grace_ms: 5000\n`,
      `  targets:\n    - { transport: telegram, account_id: "6112", conversation_id: "${OPS_CHAT}" }\n`,
      opts.yaml ?? "",
    ].join(""),
    {
      "channel-policy.yaml": OPEN_CHANNEL_POLICY,
      "route-bindings.yaml": "schema_version: 1\nbindings: []\n",
      "rbac.yaml": 'schema_version: 1\nadmins: ["telegram:4242"]\n',
    },
  );
  const url = `http://127.0.0.1:${port}`;
  let stderr = "";
  child = spawn(process.execPath, [path.resolve("bin/tau.js"), ...g(home), "run"], {
    cwd: home.dir,
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      ...process.env,
      TAU_LOG_LEVEL: "warn",
      TAU_TELEGRAM_BOT_TOKEN: TOKEN,
      TAU_SERVER_BIND: `127.0.0.1:${port}`,
      ...opts.serviceEnv?.(tg.url),
    },
  });
  child.stderr!.on("data", (d) => (stderr += d));
  const healthz = async () => (await fetch(`${url}/healthz`)).json() as Promise<{ state: string; reason_codes: string[] }>;
  await until(async () => (await healthz()).state === "healthy", 30_000, "the service to be healthy");
  return { url, healthz, stderr: () => stderr };
}

/** When the kill switch of `scope` last changed, as the CLI recorded it. */
async function switchTime(scope: string): Promise<number> {
  const r = await runTau([...g(home!), "killswitch", "status", "--json"]);
  const rows = r.json<{ switches: { scope: string; at_ms: number }[] } | { scope: string; at_ms: number }[]>();
  const list = Array.isArray(rows) ? rows : rows.switches;
  return list.find((x) => x.scope === scope)!.at_ms;
}

/** When the ops chat's server received each sendMessage, in order. */
const opsRequestTimes = () =>
  tg!.requests.filter((r) => r.method === "sendMessage" && Number(r.params["chat_id"]) === OPS_CHAT).map((r) => r.at);

/** Messages the ops chat received, in order. */
const opsMessages = () => tg!.sentMessages.filter((m) => m.chat_id === OPS_CHAT).map((m) => String(m.text));

function dm(updateId: number, text: string) {
  return {
    update_id: updateId,
    message: {
      message_id: updateId,
      date: Math.floor(Date.now() / 1000),
      chat: { id: 4242, type: "private" },
      from: { id: 4242, is_bot: false, first_name: "Ana" },
      text,
    },
  };
}

describe("the watchdog in tau run", () => {
  it("a kill switch reaches the ops chat within interval + 1 s (once, with its severity), then a recovery message", async () => {
    const svc = await startService();
    expect(opsMessages()).toEqual([]);
    expect((await runTau([...g(home!), "killswitch", "on", "responders", "--reason", "drill"])).code).toBe(0);
    const switchedOn = switchTime("responders");
    const alert = await until(() => opsMessages()[0], 10_000, "the kill switch alert");
    // From the switch's recorded time to the alert's request at the ops chat's server.
    expect(opsRequestTimes()[0]! - (await switchedOn)).toBeLessThanOrEqual(INTERVAL_MS + 1000);
    expect(alert.split("\n").slice(0, 2)).toEqual([
      "[tau] SEV-2 · health degraded",
      "+ SEV-2 kill switch on: responders — confirm containment, scope and follow-up evidence: tau incident open",
    ]);
    // Deduplicated: it stays on for several evaluations and is posted once.
    await new Promise((r) => setTimeout(r, INTERVAL_MS * 3));
    expect(opsMessages().filter((m) => m.includes("kill switch on: responders"))).toHaveLength(1);
    const off = await runTau([...g(home!), "killswitch", "off", "responders", "--yes"]);
    expect(off.code, off.stderr).toBe(0);
    const switchedOff = switchTime("responders");
    const recovery = await until(() => opsMessages().find((m) => m.startsWith("[tau] RECOVERED")), 10_000, "the recovery message");
    expect(opsRequestTimes().at(-1)! - (await switchedOff)).toBeLessThanOrEqual(INTERVAL_MS + 1000);
    expect(recovery).toMatch(/^\[tau\] RECOVERED · health healthy\n- cleared: kill switch on: responders \(after \d+ s\)$/);
    // The dispatcher is shown and controlled from another shell, role-checked and audited.
    const status = await runTau([...g(home!), "cap", "run", "communications.alerts.dispatcher.status", "--json"]);
    expect(status.json()).toMatchObject({ reason_code: "dispatcher_running", data: { dispatcher: "running", watchdog: { alive: true } } });
    expect((await svc.healthz()).state).toBe("healthy");
  }, 90_000);

  it("a runner stuck on a provider call with work queued: a SEV-1 alert through the watchdog's own delivery, then recovery", async () => {
    await startService();
    // The runner's reply to the first message hangs for 6 s at the provider; the watchdog's own sends do not.
    tg!.delayNext(6000, { method: "sendMessage" });
    tg!.pushUpdate(dm(5001, "hello"));
    const blocked = await tg!.waitForRequest((r) => r.method === "sendMessage", 10_000);
    tg!.pushUpdate(dm(5002, "anyone there?"));
    const alert = await until(
      () => opsMessages().find((m) => m.includes("runner stalled")),
      1000 + INTERVAL_MS + 1000 + 1000,
      "the stall alert",
    );
    expect(Date.now() - blocked.at).toBeLessThanOrEqual(1000 + INTERVAL_MS + 1000 + 500); // stale_after_ms + interval + 1 s
    expect(alert.split("\n")[0]).toBe("[tau] SEV-1 · health failing");
    expect(alert).toContain("+ SEV-2 runner stalled: last cycle");
    const recovery = await until(() => opsMessages().find((m) => m.startsWith("[tau] RECOVERED")), 15_000, "the recovery");
    expect(recovery).toContain("- cleared: runner stalled");
    // Both user messages were answered after all.
    await until(() => tg!.sentMessages.filter((m) => m.chat_id === 4242).length === 2, 10_000, "both replies");
  }, 90_000);

  it("while outbound is killed the alert waits (tau status lists it), and is delivered once the switch is off", async () => {
    await startService();
    await runTau([...g(home!), "killswitch", "on", "outbound", "--reason", "drill"]);
    const held = await until(
      async () => {
        const s = (await runTau([...g(home!), "status", "--json"])).json<{ alerts: { undelivered: { reason: string; text: string }[] } }>();
        return s.alerts.undelivered.length ? s.alerts.undelivered : null;
      },
      10_000,
      "an undelivered alert in tau status",
    );
    expect(held[0]).toMatchObject({ reason: "delivery_kill_switch" });
    expect(held[0]!.text).toContain("kill switch on: outbound");
    expect(opsMessages()).toEqual([]);
    await runTau([...g(home!), "killswitch", "off", "outbound", "--yes"]);
    await until(() => opsMessages().length >= 2, 5000, "the held alert and the recovery");
    expect(opsMessages()[0]).toContain("+ SEV-2 kill switch on: outbound");
    expect(opsMessages()[1]).toContain("[tau] RECOVERED · health healthy");
    const after = (await runTau([...g(home!), "status", "--json"])).json<{ alerts: { undelivered: unknown[] } }>();
    expect(after.alerts.undelivered).toEqual([]);
  }, 90_000);

  it("tau health exits 0 only when a fresh shell without the service's environment agrees with the service", async () => {
    // Telegram is enabled by the service's environment only; the shell below has none of it.
    const svc = await startService({
      serviceEnv: (root) => ({
        TAU_CONNECTORS_TELEGRAM_MODE: "polling",
        TAU_CONNECTORS_TELEGRAM_API_ROOT: root,
        TAU_CONNECTORS_TELEGRAM_POLL_TIMEOUT_S: "1",
      }),
    });
    const fresh = await runTau([...g(home!), "health", "--json"]);
    expect(fresh.code).toBe(0);
    expect(fresh.json()).toMatchObject({ state: "healthy", reason_codes: ["healthy_cycle"] });
    // The bot token is revoked: the connector stops being live. The service says so, and so does the fresh shell.
    tg!.failNext({ method: "getUpdates", status: 401, count: 10_000 });
    const served = await until(
      async () => {
        const h = await svc.healthz();
        return h.reason_codes.includes("connector_not_live:telegram") ? h : null;
      },
      20_000,
      "the service to see the connector down",
    );
    const shell = await runTau([...g(home!), "health", "--json"]);
    expect(shell.code).toBe(1);
    expect(shell.json()).toMatchObject({ state: served.state, reason_codes: served.reason_codes });
    expect(served.state).toBe("degraded");
  }, 90_000);
});
