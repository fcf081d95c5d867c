/**
 * `tau incident …` and `tau export` as an operator runs them (real CLI child processes over real state): every action
 * in the incident's log and the audit chain (which still verifies), and NDJSON views of a time window.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openIngressWriter } from "../../src/app/index.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { runTau } from "../helpers/run-tau.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";

let h: TauHome | null = null;
afterEach(() => h?.cleanup());
const g = (x: TauHome) => ["--state-dir", x.stateDir, "--config", x.configPath];

async function home(): Promise<TauHome> {
  h = makeTauHome("runner:\n  coalesce_window_ms: 0\nfeatures:\n  communications: false\n", {
    "channel-policy.yaml": OPEN_CHANNEL_POLICY,
    "route-bindings.yaml": "schema_version: 1\nbindings: []\n",
    "rbac.yaml": "schema_version: 1\n",
  });
  const app = h.open();
  const w = openIngressWriter(app);
  await w.append("telegram", [makeDm("4242", { event_id: "telegram:6112:u:1", received_at_ms: Date.now(), text: "hi" })]);
  await w.close();
  app.close();
  expect((await runTau([...g(h), "process", "--once"])).code).toBe(0);
  return h;
}

describe("tau incident", () => {
  it("open → contain → verify → close records the runbook's evidence, linked into an audit chain that still verifies", async () => {
    const x = await home();
    await runTau([...g(x), "killswitch", "on", "outbound", "--reason", "contain"]);
    const open = await runTau([
      ...g(x),
      "incident",
      "open",
      "replies",
      "stuck",
      "--scope",
      "transport:telegram",
      "--trigger",
      "alert:kill_switch_on:outbound",
      "--severity",
      "SEV-1",
      "--json",
    ]);
    expect(open.code).toBe(0);
    const id = open.json<{ data: { incident: { incident_id: string } } }>().data.incident.incident_id;
    expect(id).toMatch(/^INC-\d{8}-01$/);
    expect(open.json()).toMatchObject({ data: { evidence: { kill_switches_on: ["outbound"], health: { state: "degraded" } } } });
    expect((await runTau([...g(x), "incident", "contain", id, "held", "all", "replies", "--kill-switch", "outbound"])).code).toBe(0);
    expect((await runTau([...g(x), "incident", "verify", id, "nothing", "sent", "since"])).code).toBe(0);
    const noFollowUp = await runTau([...g(x), "incident", "close", id, "--json"]);
    expect(noFollowUp.code).toBe(1);
    expect(noFollowUp.json()).toMatchObject({ reason_code: "incident_follow_up_missing" });
    expect((await runTau([...g(x), "incident", "close", id, "--follow-up", "alert earlier"])).code).toBe(0);
    const show = await runTau([...g(x), "incident", "show", id, "--json"]);
    expect(show.json()).toMatchObject({
      incident: {
        status: "closed",
        severity: "SEV-1",
        scope: "transport:telegram",
        trigger_source: "alert:kill_switch_on:outbound",
        failure_mode: "replies stuck",
        containment: "held all replies",
        rollback_action: "kill switch outbound on",
        verification: "nothing sent since",
        verification_result: "pass",
        follow_up: "alert earlier",
      },
    });
    expect(show.json<{ log: { action: string }[] }>().log.map((l) => l.action)).toEqual(["open", "contain", "verify", "close"]);
    expect((await runTau([...g(x), "incident", "list", "--json"])).json()).toEqual([]);
    const verify = await runTau([...g(x), "audit", "verify", "--json"]);
    expect(verify.code).toBe(0);
    expect(verify.json()).toMatchObject({ ok: true });
  });
});

describe("tau export", () => {
  it("writes NDJSON views of a time window (events, traces, deliveries, audit, incidents, alerts), 0600 files", async () => {
    const x = await home();
    await runTau([...g(x), "incident", "open", "drill", "--json"]);
    const out = path.join(x.dir, "export");
    const r = await runTau([...g(x), "export", "--since", "1h", "--out", out, "--json"]);
    expect(r.code).toBe(0);
    const files = r.json<{ files: Record<string, { path: string; lines: number }> }>().files;
    expect(Object.keys(files)).toEqual(["events", "traces", "deliveries", "audit", "incidents", "alerts"]);
    expect(files.traces!.lines).toBe(1);
    expect(files.deliveries!.lines).toBe(1);
    expect(files.incidents!.lines).toBe(1);
    const traces = fs
      .readFileSync(files.traces!.path, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(traces[0]).toMatchObject({ event_id: "telegram:6112:u:1", outcome: "replied" });
    expect(Array.isArray(traces[0].decisions)).toBe(true);
    const incident = JSON.parse(fs.readFileSync(files.incidents!.path, "utf8"));
    expect(incident).toMatchObject({ failure_mode: "drill", log: [{ action: "open" }] });
    expect(fs.statSync(files.audit!.path).mode & 0o777).toBe(0o600);
    // A window before anything happened is empty; stdout carries one view, each line tagged.
    const empty = await runTau([...g(x), "export", "--since", "3h", "--until", "2h", "--view", "traces,audit"]);
    expect(empty.stdout).toBe("");
    const stdout = await runTau([...g(x), "export", "--since", "1h", "--view", "traces"]);
    expect(
      stdout.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).view),
    ).toEqual(["traces"]);
  });
});
