/**
 * One confirmation model for every entry point (issue 13 §4), as `tau` child processes over a real state dir: the
 * dedicated commands (`allowlist add`, `killswitch on|off`, `pairing approve`) ask exactly what `tau cap run` asks for
 * the same capability, taken from its declaration — `none` never asks (a `--yes` is accepted), `confirm` needs
 * `--yes` without a terminal (exit 2 naming it), `two_person` records a request that a different principal approves,
 * from the CLI too (`--as`, checked against policies/rbac.yaml).
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";
import { runTau } from "../helpers/run-tau.ts";

let home: TauHome | null = null;
afterEach(() => {
  home?.cleanup();
  home = null;
});
const g = (h: TauHome) => ["--state-dir", h.stateDir, "--config", h.configPath];
const me = `cli:${os.userInfo().username}`;

interface Result {
  status: string;
  reason_code: string;
  text: string;
  data?: { approval_id?: string; args_hash?: string; requester?: string };
}

function writeRbac(h: TauHome, yaml: string): void {
  fs.writeFileSync(path.join(h.dir, "policies", "rbac.yaml"), `schema_version: 1\n${yaml}`);
}

/** Run `tau` under `script`, which gives it a pseudo-terminal: stdin.isTTY is true, as for an operator at a shell. */
function runAtTerminal(args: string[], input: string): Promise<{ code: number; stdout: string }> {
  const line = [process.execPath, path.resolve("bin/tau.js"), ...args].map((a) => `'${a}'`).join(" ");
  return new Promise((resolve, reject) => {
    const c = spawn("script", ["-qec", line, "/dev/null"], { env: { ...process.env, TAU_LOG_LEVEL: "silent" } });
    let stdout = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.on("error", reject);
    c.on("exit", (code) => resolve({ code: code ?? -1, stdout }));
    c.stdin.end(input);
  });
}

async function allowlisted(h: TauHome): Promise<string[]> {
  return (await runTau([...g(h), "allowlist", "list", "--json"])).json<{ actor_key: string }[]>().map((r) => r.actor_key);
}

describe("two_person: `tau allowlist add` and `tau cap run tau.allowlist.add` both record a request", () => {
  it("neither adds at once; --yes is accepted and changes nothing; the requester cannot approve their own request", async () => {
    home = makeTauHome();
    const dedicated = await runTau([...g(home), "allowlist", "add", "telegram:4242", "--note", "oncall", "--yes", "--json"]);
    expect(dedicated.code).toBe(0);
    expect(dedicated.json<Result>()).toMatchObject({ status: "reported", reason_code: "approval_requested", data: { requester: me } });
    const viaCap = await runTau([...g(home), "cap", "run", "tau.allowlist.add", "telegram:5151", "--json"]);
    expect(viaCap.code).toBe(0);
    expect(viaCap.json<Result>()).toMatchObject({ status: "reported", reason_code: "approval_requested", data: { requester: me } });
    expect(await allowlisted(home)).toEqual([]);

    const id = dedicated.json<Result>().data!.approval_id!;
    const self = await runTau([...g(home), "approvals", "approve", id, "--json"]);
    expect(self.code).toBe(1);
    expect(self.json<Result>()).toMatchObject({ status: "failed", reason_code: "approval_same_principal" });
    const selfAs = await runTau([...g(home), "approvals", "approve", id, "--as", me, "--json"]);
    expect(selfAs.json<Result>()).toMatchObject({ reason_code: "approval_same_principal" });
    expect(await allowlisted(home)).toEqual([]);
  }, 60_000);

  it("a second operator on the same host approves with --as a principal listed in rbac.yaml; an unlisted one is a usage error", async () => {
    home = makeTauHome();
    const req = await runTau([...g(home), "allowlist", "add", "telegram:4242", "--note", "oncall", "--json"]);
    const { approval_id: id, args_hash: hash } = req.json<Result>().data!;

    const unknown = await runTau([...g(home), "approvals", "approve", id!, "--as", "cli:bob"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("--as cli:bob: not listed under admins or operators in policies/rbac.yaml");

    // An operator may approve, but allowlisting needs an admin approver.
    writeRbac(home, 'operators: ["cli:carol"]\nadmins: ["cli:bob"]\n');
    const operator = await runTau([...g(home), "approvals", "approve", id!, "--as", "cli:carol", "--json"]);
    expect(operator.json<Result>()).toMatchObject({ status: "failed", reason_code: "approval_rbac_denied" });
    expect(await allowlisted(home)).toEqual([]);

    const bob = await runTau([...g(home), "approvals", "approve", id!, hash!.slice(0, 8), "--as", "cli:bob", "--json"]);
    expect(bob.code).toBe(0);
    expect(bob.json<Result>()).toMatchObject({ status: "reported", reason_code: "allowlist_added" });
    const rows = (await runTau([...g(home), "allowlist", "list", "--json"])).json<
      { actor_key: string; note: string; added_by: string }[]
    >();
    expect(rows.map((r) => [r.actor_key, r.note, r.added_by])).toEqual([["telegram:4242", "oncall", me]]);

    const audit = (await runTau([...g(home), "audit", "list", "--limit", "50", "--json"])).json<{ actor: string; action: string }[]>();
    expect(audit.filter((a) => a.action === "approval.approve").map((a) => a.actor)).toContain("cli:bob");
  }, 60_000);

  it("usernames are still refused before any request is recorded", async () => {
    home = makeTauHome();
    const u = await runTau([...g(home), "allowlist", "add", "telegram:@ana", "--yes"]);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain("use the stable id, not a username");
    expect((await runTau([...g(home), "approvals", "list", "--json"])).json()).toEqual([]);
  }, 30_000);
});

describe("the kill switch: the same answer from `tau killswitch` and `tau cap run`", () => {
  it("on runs at once from both (an emergency stop is one command); off needs --yes from both (exit 2 naming it)", async () => {
    home = makeTauHome();
    const on = await runTau([...g(home), "killswitch", "on", "outbound", "--reason", "drill", "--json"]);
    expect(on.code).toBe(0);
    expect(on.json()).toMatchObject({ scope: "outbound", on: true, changed: true });
    const onCap = await runTau([...g(home), "cap", "run", "tau.killswitch.on", "responders", "--json"]);
    expect(onCap.code).toBe(0);
    expect(onCap.json<Result>()).toMatchObject({ status: "reported", reason_code: "killswitch_on" });

    for (const argv of [
      ["killswitch", "off", "outbound"],
      ["cap", "run", "tau.killswitch.off", "outbound"],
    ]) {
      const r = await runTau([...g(home), ...argv]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("USAGE_CONFIRM_REQUIRED");
      expect(r.stderr).toContain("pass --yes");
    }
    const still = await runTau([...g(home), "killswitch", "status", "--json"]);
    expect(still.json<{ active: string[] }>().active).toEqual(["outbound", "responders"]);

    expect((await runTau([...g(home), "killswitch", "off", "outbound", "--yes"])).stdout).toBe("kill switch outbound is now off\n");
    const offCap = await runTau([...g(home), "cap", "run", "tau.killswitch.off", "responders", "--yes", "--json"]);
    expect(offCap.json<Result>()).toMatchObject({ reason_code: "killswitch_off" });
    expect((await runTau([...g(home), "killswitch", "status", "--json"])).json<{ active: string[] }>().active).toEqual([]);
  }, 60_000);
});

describe("approval none never asks", () => {
  it("`tau pairing approve` runs without --yes and accepts one", async () => {
    home = makeTauHome();
    const app = home.open();
    const now = Date.now();
    const codes: [string, string][] = [
      ["ABCD2345", "telegram:7001"],
      ["EFGH2345", "telegram:7002"],
    ];
    for (const [code, actor] of codes)
      app.store.access.insertPairing({ code, actor_key: actor, channel_key: actor, display: null, expires_at_ms: now + 3_600_000 }, now);
    app.close();
    const plain = await runTau([...g(home), "pairing", "approve", "ABCD2345", "--json"]);
    expect(plain.code).toBe(0);
    expect(plain.json<Result>()).toMatchObject({ status: "reported", reason_code: "pairing_approved" });
    const withYes = await runTau([...g(home), "pairing", "approve", "EFGH2345", "--yes", "--json"]);
    expect(withYes.code).toBe(0);
    expect(withYes.json<Result>()).toMatchObject({ status: "reported", reason_code: "pairing_approved" });
  }, 30_000);

  it("the incident bundle summary (approval none) runs without --yes and tells the CLI how to save it", async () => {
    home = makeTauHome();
    const summary = await runTau([...g(home), "cap", "run", "communications.alerts.incident.bundle.create"]);
    expect(summary.code).toBe(0);
    expect(summary.stdout).toContain("Save it: tau cap run communications.alerts.incident.bundle.create --write\n");
    expect(summary.stdout).not.toContain("--yes");
    const saved = await runTau([...g(home), "cap", "run", "communications.alerts.incident.bundle.create", "--write", "--json"]);
    expect(saved.code).toBe(0);
    expect(saved.json<Result>()).toMatchObject({ status: "reported", reason_code: "incident_bundle_written" });
  }, 30_000);
});

describe("confirm at a terminal", () => {
  it("asks y/N on a TTY: y runs, anything else refuses with command_not_confirmed", async () => {
    home = makeTauHome();
    const atTty = (args: string[], answer: string) => runAtTerminal([...g(home!), ...args], answer);
    await runTau([...g(home), "killswitch", "on", "outbound"]);
    const no = await atTty(["killswitch", "off", "outbound"], "n\n");
    expect(no.stdout).toContain("Run tau.killswitch.off (write) as");
    expect(no.stdout).toContain("[y/N]");
    expect(no.stdout).toContain("(failed, command_not_confirmed)");
    expect((await runTau([...g(home), "killswitch", "status", "--json"])).json<{ active: string[] }>().active).toEqual(["outbound"]);
    const yes = await atTty(["killswitch", "off", "outbound"], "y\n");
    expect(yes.stdout).toContain("kill switch outbound is now off");
    expect((await runTau([...g(home), "killswitch", "status", "--json"])).json<{ active: string[] }>().active).toEqual([]);
  }, 60_000);
});
