import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";
import { runTau } from "../helpers/run-tau.ts";

let home: TauHome | null = null;
afterEach(() => home?.cleanup());
const g = (h: TauHome) => ["--state-dir", h.stateDir, "--config", h.configPath];

describe("tau CLI (child processes)", () => {
  it("init writes secure defaults and refuses to overwrite", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-init-"));
    const first = await runTau(["init", "--dir", dir, "--json"]);
    expect(first.code).toBe(0);
    expect(first.json<{ written: string[] }>().written).toEqual([
      "tau.yaml",
      "policies/channel-policy.yaml",
      "policies/route-bindings.yaml",
      "policies/rbac.yaml",
      "policies/communications/stack.yaml",
      "policies/communications/providers.yaml",
      "policies/communications/policy.yaml",
      "policies/communications/templates.yaml",
      "policies/communications/delivery.yaml",
      "policies/communications/calendar.yaml",
    ]);
    expect(fs.readFileSync(path.join(dir, "tau.yaml"), "utf8")).toContain("mode: dry-run");
    const again = await runTau(["init", "--dir", dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("refusing to overwrite tau.yaml");
    const check = await runTau([
      "--state-dir",
      path.join(dir, "state"),
      "--config",
      path.join(dir, "tau.yaml"),
      "policy",
      "check",
      "--json",
    ]);
    expect(check.json<{ ok: boolean }>().ok).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("ingest refuses bad items with reason codes and line numbers, keeps the good ones, exits 1", async () => {
    home = makeTauHome();
    const f = path.join(home.dir, "mixed.ndjson");
    const good = fs.readFileSync("fixtures/raw/telegram/private-text.json", "utf8").replace(/\s+/g, " ");
    fs.writeFileSync(
      f,
      [
        good,
        "{broken",
        JSON.stringify({ update_id: 5, message: { message_id: 1, chat: { id: 1, type: "private" }, date: 1 } }),
        JSON.stringify({ v: 9, event_id: "x" }),
      ].join("\n") + "\n",
    );
    const r = await runTau([...g(home), "ingest", f, "--transport", "telegram", "--json"]);
    expect(r.code).toBe(1);
    const rep = r.json<{ accepted: number; refused: { line: number; code: string }[] }>();
    expect(rep.accepted).toBe(2);
    expect(rep.refused.map((x) => [x.line, x.code])).toEqual([
      [2, "ingress_malformed_json"],
      [4, "ingress_schema_version_unsupported"],
    ]);
    const bad = await runTau([...g(home), "ingest", f, "--transport", "icq"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("ingress_unknown_transport");
  });

  it("process, traces, health and status agree, with --json everywhere", async () => {
    // A complete home: every required policy file there, communications turned off (no contracts here).
    home = makeTauHome("runner:\n  coalesce_window_ms: 0\nfeatures:\n  communications: false\n", {
      "channel-policy.yaml": OPEN_CHANNEL_POLICY,
      "route-bindings.yaml": "schema_version: 1\nbindings: []\n",
      "rbac.yaml": "schema_version: 1\nadmins: []\n",
    });
    await runTau([...g(home), "ingest", "fixtures/raw/telegram/private-text.json", "--transport", "telegram"]);
    const p = await runTau([...g(home), "process", "--once", "--json"]);
    expect(p.code).toBe(0);
    expect(p.json()).toMatchObject({ processed: 1, replies: 1, delivered: 1, queue_depth: 0, health: "healthy" });
    const t = await runTau([...g(home), "traces", "--json", "--limit", "5"]);
    expect(
      t
        .json<{ event_id: string; outcome: string; decisions: { reason: string }[] }[]>()
        .map((x) => [x.event_id, x.outcome, x.decisions.map((d) => d.reason)]),
    ).toEqual([
      [
        "telegram:6112:u:900001",
        "replied",
        ["channel_policy_allow", "allow_channel_policy_allow_from_any", "route_default", "responder_replied"],
      ],
    ]);
    const h = await runTau([...g(home), "health", "--json"]);
    expect(h.code).toBe(0);
    expect(h.json()).toMatchObject({ state: "healthy" });
    const s = await runTau([...g(home), "status", "--json"]);
    expect(s.json()).toMatchObject({ rollout_gate: "pass", outbound: { mode: "dry-run", by_status: { sent: 1 } } });
  });

  it("allowlist refuses usernames; audit verify passes and catches tampering; cap run needs confirmation", async () => {
    home = makeTauHome(undefined, {
      "channel-policy.yaml": OPEN_CHANNEL_POLICY,
      "rbac.yaml": 'schema_version: 1\nadmins: ["cli:second-admin"]\n',
    });
    const u = await runTau([...g(home), "allowlist", "add", "telegram:@ana"]);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain("use the stable id, not a username");
    // Allowlisting is two_person: a request, approved by another principal.
    const req = await runTau([...g(home), "allowlist", "add", "telegram:4242", "--note", "oncall", "--json"]);
    const approvalId = req.json<{ data: { approval_id: string } }>().data.approval_id;
    expect((await runTau([...g(home), "approvals", "approve", approvalId, "--as", "cli:second-admin"])).code).toBe(0);
    const list = await runTau([...g(home), "allowlist", "list", "--json"]);
    expect(list.json<{ actor_key: string }[]>().map((r) => r.actor_key)).toEqual(["telegram:4242"]);
    // confirm: a piped answer is not a confirmation (exit 2 naming --yes); --yes is.
    const noConfirm = await runTau([...g(home), "cap", "run", "tau.allowlist.remove", "telegram:4242", "--json"], { input: "yes\n" });
    expect(noConfirm.code).toBe(2);
    expect(noConfirm.json()).toMatchObject({ ok: false, error: { code: "USAGE_CONFIRM_REQUIRED" } });
    const confirmed = await runTau([...g(home), "cap", "run", "tau.allowlist.remove", "telegram:4242", "--yes", "--json"]);
    expect(confirmed.json()).toMatchObject({ status: "reported", reason_code: "allowlist_removed" });
    const v = await runTau([...g(home), "audit", "verify", "--json"]);
    expect(v.code).toBe(0);
    expect(v.json<{ ok: boolean; rows: number }>().rows).toBeGreaterThanOrEqual(4);
    const Database = (await import("better-sqlite3")).default;
    const db = new Database(path.join(home.stateDir, "tau.db"));
    db.exec("DROP TRIGGER audit_no_update");
    db.prepare("UPDATE audit SET outcome = 'nothing happened' WHERE seq = 1").run();
    db.close();
    const v2 = await runTau([...g(home), "audit", "verify"]);
    expect(v2.code).toBe(1);
    expect(v2.stdout).toContain("seq 1: audit_row_edited");
  });

  it("a bad config fails at startup naming file, line and field, with exit code 3", async () => {
    home = makeTauHome("outbound:\n  mode: loud\n");
    const r = await runTau([...g(home), "health"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/tau\.yaml:\d+:\d+: outbound\.mode: must be one of "channel-store", "dry-run", "provider"/);
  });
});
