import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";
import { runTau } from "../helpers/run-tau.ts";

let home: TauHome | null = null;
let dir: string | null = null;
afterEach(() => {
  home?.cleanup();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = null;
});
const g = (h: TauHome) => ["--state-dir", h.stateDir, "--config", h.configPath];

interface Report {
  state: string;
  reason_codes: string[];
  checks: { section: string; check: string; status: string; reason_code: string; fix: string | null }[];
}
const row = (r: Report, check: string) => r.checks.find((c) => c.check === check);

describe("tau doctor", { timeout: 120_000 }, () => {
  it("over a fresh `tau init` home: state missing fails (exit 2) without creating it; with state, warnings only (exit 1)", async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-doctor-"));
    expect((await runTau(["init", "--dir", dir, "--telegram-bot-id", "6112", "--telegram-username", "tau_ops_bot"])).code).toBe(0);
    const args = ["--state-dir", path.join(dir, "state"), "--config", path.join(dir, "tau.yaml")];
    const first = await runTau([...args, "doctor", "--json"]);
    expect(first.code).toBe(2);
    const r1 = first.json<Report>();
    expect(r1.state).toBe("failing");
    expect(r1.reason_codes[0]).toBe("state_missing");
    expect(row(r1, "state.present")).toMatchObject({ section: "state", status: "fail", reason_code: "state_missing" });
    expect(fs.existsSync(path.join(dir, "state"))).toBe(false);
    // The sections in order; communications has its credential warnings from the starter contracts.
    expect([...new Set(r1.checks.map((c) => c.section))]).toEqual(["connectors", "policy", "communications", "state"]);
    expect(row(r1, "credentials.resend-api-key")).toMatchObject({ status: "warn", reason_code: "credential_missing" });

    expect((await runTau([...args, "process", "--once"])).code).toBe(0);
    const second = await runTau([...args, "doctor", "--json"]);
    expect(second.code).toBe(1);
    const r2 = second.json<Report>();
    expect(r2.state).toBe("warnings");
    expect(r2.checks.filter((c) => c.status === "fail")).toEqual([]);
    expect(row(r2, "state.present")).toMatchObject({ status: "pass" });
    expect(row(r2, "state.health")).toMatchObject({ status: "pass", reason_code: "healthy" });
    const human = await runTau([...args, "doctor"]);
    expect(human.stdout).toMatch(/\nstate:\n( {2}✓ .*\n)* {2}✓ state\.present: /);
    expect(human.stdout).toMatch(/\ndoctor: warnings \(credential_missing/);
  });

  it("names a failing connector and responder with their fixes (exit 2)", async () => {
    home = makeTauHome(
      [
        "features:\n  communications: false\n",
        "connectors:\n  telegram:\n    mode: polling\n",
        "responders:\n  assistant:\n    kind: llm\n    provider: openai\n    model: gpt-test\n    tools: [no.such.capability]\n",
      ].join(""),
      {
        "channel-policy.yaml": OPEN_CHANNEL_POLICY,
        "route-bindings.yaml": "schema_version: 1\nbindings: []\n",
        "rbac.yaml": "schema_version: 1\nadmins: []\n",
      },
    );
    // Any writing command creates the state (process would refuse to start: the responder fails closed).
    expect((await runTau([...g(home), "channel", "status", "--json"])).code).toBe(0);
    const r = await runTau([...g(home), "doctor", "--json"]);
    expect(r.code).toBe(2);
    const rep = r.json<Report>();
    expect(rep.state).toBe("failing");
    expect(row(rep, "telegram.token")).toMatchObject({
      section: "connectors",
      status: "fail",
      reason_code: "missing_telegram_bot_token",
      fix: "set the secret: echo … | tau secrets set telegram-bot-token (or its TAU_* variable)",
    });
    expect(row(rep, "responder.assistant")).toMatchObject({ section: "responders", status: "fail", reason_code: "responder_tool_unknown" });
    expect(row(rep, "communications")).toMatchObject({ status: "pass", reason_code: "comms_disabled" });
    expect(rep.reason_codes).toEqual(expect.arrayContaining(["missing_telegram_bot_token", "responder_tool_unknown"]));
  });
});
