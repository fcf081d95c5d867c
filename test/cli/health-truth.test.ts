/**
 * Health that never lies, tried as an operator would (issue 11, "Why"): the real `tau` CLI as child processes over
 * real state. Each case used to answer healthy (or crash) and must not.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createAppRunner, openIngressWriter } from "../../src/app/index.ts";
import type { Envelope } from "../../src/contracts/envelope.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { runTau, type TauRun } from "../helpers/run-tau.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";

const homes: TauHome[] = [];
afterEach(() => {
  for (const h of homes.splice(0)) h.cleanup();
});

/** Every required policy file present; communications off unless the test copies contracts in. */
const COMPLETE_POLICIES = {
  "channel-policy.yaml": OPEN_CHANNEL_POLICY,
  "route-bindings.yaml": "schema_version: 1\nbindings: []\n",
  "rbac.yaml": 'schema_version: 1\nadmins: ["telegram:4242"]\n',
};

function home(yaml = "", comms = false): TauHome {
  const h = makeTauHome(
    `runner:\n  coalesce_window_ms: 0\n${comms ? "" : "features:\n  communications: false\n"}${yaml}`,
    COMPLETE_POLICIES,
  );
  if (comms) fs.cpSync("policies/communications", path.join(h.dir, "policies", "communications"), { recursive: true });
  homes.push(h);
  return h;
}

const g = (h: TauHome) => ["--state-dir", h.stateDir, "--config", h.configPath];
const health = (r: TauRun) => r.json<{ state: string; reason_codes: string[]; queue_depth: number }>();

/** Append envelopes to ingress the way a connector does (durable, validated). */
async function ingest(h: TauHome, envs: Envelope[]): Promise<void> {
  const app = h.open();
  const w = openIngressWriter(app);
  await w.append("telegram", envs);
  await w.close();
  app.close();
}

const dms = (n: number, receivedAt: number, from = 1) =>
  Array.from({ length: n }, (_, i) => makeDm("4242", { event_id: `telegram:6112:u:${from + i}`, received_at_ms: receivedAt, text: "hi" }));

describe("tau health tells the truth", () => {
  it("5 events in ingress and no runner ever ran: not healthy, the gate fails; past the backlog threshold it is failing", async () => {
    const h = home();
    await ingest(h, dms(5, Date.now()));
    const r = await runTau([...g(h), "health", "--json"]);
    expect(r.code).toBe(1);
    expect(health(r)).toMatchObject({ state: "degraded", reason_codes: ["runner_never_ran", "queue_waiting"], queue_depth: 5 });
    const s = await runTau([...g(h), "status", "--json"]);
    expect(s.json()).toMatchObject({ rollout_gate: "fail" });

    const old = home();
    await ingest(old, dms(5, Date.now() - 120_000));
    const f = await runTau([...g(old), "health", "--json"]);
    expect(f.code).toBe(2);
    expect(health(f)).toMatchObject({ state: "failing", reason_codes: ["runner_never_ran", "queue_waiting", "backlog_over_threshold"] });
  });

  it("events waiting past backlog_threshold_ms with the runner stopped: degraded, and failing once its heartbeat is stale", async () => {
    const h = home();
    await ingest(h, dms(1, Date.now()));
    expect((await runTau([...g(h), "process", "--once"])).code).toBe(0);
    await ingest(h, dms(2, Date.now() - 120_000, 100));
    const r = await runTau([...g(h), "health", "--json"]);
    expect(r.code).toBe(1);
    expect(health(r)).toMatchObject({ state: "degraded", reason_codes: ["backlog_over_threshold"], queue_depth: 2 });
    // The runner's last cycle is older than stale_after_ms while work is queued: nobody is processing.
    const stale = await runTau([...g(h), "health", "--json"], { env: { TAU_RUNNER_STALE_AFTER_MS: "1" } });
    expect(stale.code).toBe(2);
    expect(health(stale)).toMatchObject({ state: "failing", reason_codes: ["runner_stale", "backlog_over_threshold"] });
  });

  it("the outbound kill switch on: degraded kill_switch_on:outbound, exit 1, rollout gate fail", async () => {
    const h = home();
    await ingest(h, dms(1, Date.now()));
    await runTau([...g(h), "process", "--once"]);
    expect((await runTau([...g(h), "killswitch", "on", "outbound", "--reason", "drill"])).code).toBe(0);
    const r = await runTau([...g(h), "health", "--json"]);
    expect(r.code).toBe(1);
    expect(health(r)).toMatchObject({ state: "degraded", reason_codes: ["kill_switch_on:outbound"] });
    expect((await runTau([...g(h), "status", "--json"])).json()).toMatchObject({ rollout_gate: "fail" });
  });

  it("a broken policies/communications/providers.yaml degrades health (comms_contract_invalid)", async () => {
    const h = home("", true);
    await ingest(h, dms(1, Date.now()));
    await runTau([...g(h), "process", "--once"]);
    expect(health(await runTau([...g(h), "health", "--json"]))).toMatchObject({ state: "healthy" });
    fs.writeFileSync(
      path.join(h.dir, "policies", "communications", "providers.yaml"),
      "schema_version: 1\nroutes: { email: carrier-pigeon }\n",
    );
    const r = await runTau([...g(h), "health", "--json"]);
    expect(r.code).toBe(1);
    expect(health(r)).toMatchObject({ state: "degraded", reason_codes: ["comms_contract_invalid"] });
  });

  it("a misconfigured responder degrades health (its key is missing where a call would be made)", async () => {
    const h = home(
      "outbound:\n  mode: channel-store\nresponders:\n  hook:\n    kind: webhook\n    url: http://127.0.0.1:9/hook\n    signing_secret: hook-key\n",
    );
    h.open().close(); // state exists; the runner itself refuses to start with this responder
    expect((await runTau([...g(h), "process", "--once"])).code).toBe(1);
    const r = await runTau([...g(h), "health", "--json"]);
    expect(health(r)).toMatchObject({ state: "degraded", reason_codes: ["responder_misconfigured:hook"] });
  });

  it("chat /tau health answers what tau health says (a connector that is not live)", async () => {
    const h = home("connectors:\n  telegram: { mode: polling }\n");
    await ingest(h, [makeDm("4242", { event_id: "telegram:6112:u:77", received_at_ms: Date.now(), text: "/tau health" })]);
    const app = h.open();
    const { runner, close } = createAppRunner(app);
    await runner.drain();
    close();
    const reply = app.store.inspect
      .repliesAfter(0)
      .flatMap((r) => app.store.outbox.chunksOf(r.outbox_id).map((c) => c.body))
      .join("\n");
    app.close();
    const cli = health(await runTau([...g(h), "health", "--json"]));
    expect(cli).toMatchObject({ state: "degraded", reason_codes: ["connector_not_live:telegram"] });
    expect(reply).toContain("Health: degraded (connector_not_live:telegram)");
  });

  it("no state here: state_missing with exit 2, and nothing is created", async () => {
    const h = home();
    const r = await runTau([...g(h), "health", "--json"]);
    expect(r.code).toBe(2);
    expect(r.json()).toMatchObject({ state: "failing", reason_codes: ["state_missing"] });
    const s = await runTau([...g(h), "status", "--json"]);
    expect(s.code).toBe(2);
    expect(s.json()).toMatchObject({ ok: false, error: { code: "STATE_MISSING" } });
    for (const cmd of [["events"], ["traces"], ["export", "--since", "1h"], ["incident", "list"]])
      expect((await runTau([...g(h), ...cmd])).code).toBe(2);
    expect(fs.existsSync(h.stateDir)).toBe(false);
  });

  it.skipIf(process.getuid?.() !== 0)("a read-only monitoring user gets the service's verdict; nothing is chmodded", async () => {
    const h = home();
    await ingest(h, dms(1, Date.now()));
    await runTau([...g(h), "process", "--once"]);
    await ingest(h, dms(1, Date.now() - 120_000, 50));
    const asOwner = health(await runTau([...g(h), "health", "--json"]));
    expect(asOwner).toMatchObject({ state: "degraded", reason_codes: ["backlog_over_threshold"] });
    // The operator grants the monitoring group read access (nobody:nogroup here); tau must not take it back.
    const NOBODY = 65534;
    fs.chmodSync(h.dir, 0o755);
    for (const f of [h.configPath, ...fs.readdirSync(path.join(h.dir, "policies")).map((n) => path.join(h.dir, "policies", n))])
      fs.chmodSync(f, fs.statSync(f).isDirectory() ? 0o755 : 0o644);
    fs.chmodSync(path.join(h.dir, "policies"), 0o755);
    const grant = (p: string, mode: number) => {
      fs.chownSync(p, 0, NOBODY);
      fs.chmodSync(p, mode);
    };
    grant(h.stateDir, 0o750);
    grant(path.join(h.stateDir, "ingress"), 0o750);
    grant(path.join(h.stateDir, "ingress", "telegram.ndjson"), 0o640);
    grant(path.join(h.stateDir, "tau.db"), 0o640);
    const { spawnSync } = await import("node:child_process");
    const r = spawnSync(process.execPath, [path.resolve("bin/tau.js"), ...g(h), "health", "--json"], {
      cwd: h.dir,
      uid: NOBODY,
      gid: NOBODY,
      env: { PATH: process.env.PATH, HOME: "/tmp", TAU_LOG_LEVEL: "silent" },
      encoding: "utf8",
    });
    expect(r.stderr).not.toContain("EPERM");
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: asOwner.state, reason_codes: asOwner.reason_codes });
    expect(fs.statSync(h.stateDir).mode & 0o777).toBe(0o750);
    expect(fs.statSync(path.join(h.stateDir, "tau.db")).mode & 0o777).toBe(0o640);
  });
});
