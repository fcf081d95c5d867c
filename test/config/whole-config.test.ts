/**
 * The whole configuration is checked and kept last-known-good (issue 11): `tau policy check` over policies,
 * communications contracts, responders and tau.yaml, missing files as errors unless a feature is off, a deleted
 * rbac.yaml that cannot drop the admins at run time, `tau init` homes that pass `/tau doctor`, and one-command
 * rollback of every file.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createServices, openApp } from "../../src/app/index.ts";
import { runTau } from "../helpers/run-tau.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A home written by `tau init` (the real CLI), with the bot identity set. */
async function initHome(): Promise<{ dir: string; g: string[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-config-"));
  dirs.push(dir);
  expect((await runTau(["init", "--dir", dir])).code).toBe(0);
  return { dir, g: ["--state-dir", path.join(dir, "state"), "--config", path.join(dir, "tau.yaml")] };
}

type Check = { ok: boolean; issues: { code: string; severity: string; key: string }[] };

describe("tau policy check covers the whole configuration", () => {
  it("a fresh tau init home passes, creates no state, and /tau doctor agrees", async () => {
    const h = await initHome();
    const r = await runTau([...h.g, "policy", "check", "--json"]);
    expect(r.code).toBe(0);
    expect(r.json<Check>()).toMatchObject({ ok: true, issues: [] });
    expect(fs.existsSync(path.join(h.dir, "state"))).toBe(false);
    const doctor = await runTau([...h.g, "cap", "run", "communications.doctor", "--json"]);
    expect(doctor.json<{ status: string; reason_code: string }>()).toMatchObject({ status: "reported" });
    expect(doctor.json<{ data: { checks: { check: string; status: string }[] } }>().data.checks[0]).toMatchObject({
      check: "contracts",
      status: "pass",
    });
  });

  it("policies_dir pointing nowhere is an error, not 'policies ok'", async () => {
    const h = await initHome();
    fs.writeFileSync(
      path.join(h.dir, "tau.yaml"),
      fs.readFileSync(path.join(h.dir, "tau.yaml"), "utf8").replace("policies_dir: ./policies", "policies_dir: ./nope"),
    );
    const r = await runTau([...h.g, "policy", "check", "--json"]);
    expect(r.code).toBe(1);
    const codes = r.json<Check>().issues.map((i) => `${i.severity}:${i.code}`);
    expect(codes).toEqual([
      "error:policies_dir_missing",
      "error:policy_file_missing",
      "error:policy_file_missing",
      "error:policy_file_missing",
      "error:comms_contract_missing",
    ]);
  });

  it("a deleted rbac.yaml is an error unless features.rbac is off", async () => {
    const h = await initHome();
    fs.rmSync(path.join(h.dir, "policies", "rbac.yaml"));
    const r = await runTau([...h.g, "policy", "check", "--json"]);
    expect(r.code).toBe(1);
    expect(r.json<Check>().issues).toEqual([
      expect.objectContaining({ code: "policy_file_missing", severity: "error", key: path.join(h.dir, "policies", "rbac.yaml") }),
    ]);
    const yaml = fs.readFileSync(path.join(h.dir, "tau.yaml"), "utf8").replace("  rbac: true", "  rbac: false");
    fs.writeFileSync(path.join(h.dir, "tau.yaml"), yaml);
    expect((await runTau([...h.g, "policy", "check", "--json"])).json<Check>()).toMatchObject({ ok: true });
  });

  it("a broken communications contract and a misconfigured responder fail the check, naming file and path", async () => {
    const h = await initHome();
    fs.writeFileSync(path.join(h.dir, "policies", "communications", "providers.yaml"), "schema_version: 1\nroutes: { email: pigeon }\n");
    fs.appendFileSync(
      path.join(h.dir, "tau.yaml"),
      "responders:\n  helper:\n    kind: llm\n    provider: openai\n    model: m\n    tools: [no.such.capability]\n",
    );
    const r = await runTau([...h.g, "policy", "check", "--json"]);
    expect(r.code).toBe(1);
    expect(r.json<Check>().issues.map((i) => i.code)).toEqual(["comms_contract_invalid", "responder_tool_unknown"]);
  });

  it("a deleted rbac.yaml never drops the admins at run time: the reload is rejected and the last known good stays", async () => {
    const h = await initHome();
    const rbac = path.join(h.dir, "policies", "rbac.yaml");
    fs.writeFileSync(rbac, 'schema_version: 1\nadmins: ["telegram:4242"]\n');
    const app = openApp({ stateDir: path.join(h.dir, "state"), configPath: path.join(h.dir, "tau.yaml"), env: {} });
    try {
      const services = createServices(app);
      expect(services.policies.current()!.rbac.admins).toEqual(["telegram:4242"]);
      fs.rmSync(rbac);
      const st = services.policies.reload();
      expect(st).toMatchObject({ state: "reload_rejected" });
      expect(st.error).toContain("rbac.yaml: required policy file missing");
      expect(services.policies.current()!.rbac.admins).toEqual(["telegram:4242"]);
      // A later process (a restart) still runs on the known-good set, and health says why.
      const again = createServices(app);
      expect(again.policies.current()!.rbac.admins).toEqual(["telegram:4242"]);
      expect(services.health().reason_codes).toContain("policy_reload_rejected");
    } finally {
      app.close();
    }
  });

  it("apply records every file (policies, contracts, tau.yaml); rollback writes them all back in one command", async () => {
    const h = await initHome();
    const file = (rel: string) => path.join(h.dir, rel);
    const v1 = Object.fromEntries(
      ["tau.yaml", "policies/rbac.yaml", "policies/communications/delivery.yaml"].map((f) => [f, fs.readFileSync(file(f), "utf8")]),
    );
    const a1 = await runTau([...h.g, "policy", "apply", "--json"]);
    expect(a1.code).toBe(0);
    expect(a1.json<{ files: string[] }>().files).toEqual([
      "channel-policy.yaml",
      "route-bindings.yaml",
      "rbac.yaml",
      "communications/calendar.yaml",
      "communications/delivery.yaml",
      "communications/policy.yaml",
      "communications/providers.yaml",
      "communications/stack.yaml",
      "communications/templates.yaml",
      "tau.yaml",
    ]);
    fs.writeFileSync(file("policies/rbac.yaml"), 'schema_version: 1\nadmins: ["telegram:1"]\n');
    fs.writeFileSync(
      file("policies/communications/delivery.yaml"),
      v1["policies/communications/delivery.yaml"]!.replace("min_sample: 20", "min_sample: 5"),
    );
    fs.writeFileSync(file("tau.yaml"), v1["tau.yaml"]!.replace("interval_ms: 15000", "interval_ms: 5000"));
    expect((await runTau([...h.g, "policy", "apply"])).code).toBe(0);
    const rb = await runTau([...h.g, "policy", "rollback", "--yes", "--json"]);
    expect(rb.code).toBe(0);
    for (const [f, text] of Object.entries(v1)) expect(fs.readFileSync(file(f), "utf8")).toBe(text);
    // Applying a broken contract is refused and audited.
    fs.writeFileSync(file("policies/communications/stack.yaml"), "schema_version: 1\nmode: loud\n");
    const bad = await runTau([...h.g, "policy", "apply"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("stack.yaml");
  });
});
