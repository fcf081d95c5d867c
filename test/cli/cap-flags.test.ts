/**
 * `tau cap run <id>` takes the capability's arguments as flags generated from its zod schema (issue 13 §4), as `tau`
 * child processes over a real state dir with the checked-in communications contracts: typed, validated, listed by
 * `--help`, errors naming the flag with exit 2; CLI replies print CLI syntax that runs as printed.
 */
import fs from "node:fs";
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

function commsHome(): TauHome {
  const h = makeTauHome();
  fs.cpSync(path.resolve("policies/communications"), path.join(h.dir, "policies", "communications"), { recursive: true });
  return h;
}

interface Result {
  status: string;
  reason_code: string;
  text: string;
  data: Record<string, unknown>;
}

describe("capability arguments as flags", () => {
  it("--top N and --field are typed flags; `--help` lists them with their types, bounds, choices and defaults", async () => {
    home = commsHome();
    const one = await runTau([...g(home), "cap", "run", "communications.mail.search", "--top", "1", "--json"]);
    expect(one.code).toBe(0);
    expect(one.json<Result>().data).toMatchObject({ top: 1, field: "subject" });
    expect((one.json<Result>().data.hits as unknown[]).length).toBe(1);
    const two = await runTau([...g(home), "cap", "run", "communications.mail.search", "--top", "2", "--field", "from", "--json"]);
    expect(two.code).toBe(0);
    expect(two.json<Result>().data).toMatchObject({ top: 2, field: "from" });
    expect((two.json<Result>().data.hits as unknown[]).length).toBe(2);

    const help = await runTau([...g(home), "cap", "run", "communications.mail.search", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: tau cap run communications.mail.search [options] [query...]");
    expect(help.stdout).toMatch(/--top <n>\s+whole number from 1 to 50 \(default 5\)/);
    expect(help.stdout).toMatch(/--field <choice>\s+one of subject, from, text \(default subject\)/);
    expect(help.stdout).toMatch(/--query <value>\s+text \(default \*; or positional word 1\)/);
    expect(help.stdout).toContain("approval none");
  }, 60_000);

  it("bad values are usage errors naming the flag (exit 2), from a flag and from the deprecated --arg alike", async () => {
    home = commsHome();
    const cases: [string[], string][] = [
      [["communications.delivery.log", "--limit", "abc"], '--limit: expected a whole number from 1 to 500, got "abc"'],
      [["communications.delivery.log", "--arg", "limit=abc"], '--limit: expected a whole number from 1 to 500, got "abc"'],
      [["communications.delivery.log", "--limit", "0"], "--limit: expected a whole number from 1 to 500, got 0"],
      [["communications.mail.search", "--field", "sender"], '--field: expected one of subject, from, text, got "sender"'],
      [["communications.mail.search", "--tpo", "2"], "unknown option '--tpo'"],
      [["communications.send.execute"], "missing <preview_id> (or --preview-id)"],
    ];
    for (const [argv, message] of cases) {
      const r = await runTau([...g(home), "cap", "run", ...argv]);
      expect({ argv, code: r.code }).toEqual({ argv, code: 2 });
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toContain("NaN");
    }
    const typo = await runTau([...g(home), "cap", "run", "communications.mail.search", "--tpo", "2", "--json"]);
    expect(typo.json<{ ok: boolean; error: { code: string; message: string } }>()).toMatchObject({
      ok: false,
      error: { code: "USAGE_FLAG" },
    });
    expect(typo.json<{ error: { message: string } }>().error.message).toContain("Did you mean --top?");
  }, 90_000);

  it("preview → the printed `Send it:` line runs as printed; --var repeats; --preview-id is the flag form", async () => {
    home = commsHome();
    const preview = await runTau([
      ...g(home),
      "cap",
      "run",
      "communications.send.preview",
      "order_shipped",
      "ana@example.test",
      "--var",
      "customer_name=Ana",
      "--var",
      "order_number=A-1001",
      "--var",
      "tracking_number=1Z999",
    ]);
    expect(preview.code).toBe(0);
    expect(preview.stdout).toContain("Your order A-1001 is on its way. Tracking number: 1Z999.");
    const line = preview.stdout.match(
      /^Send it: (tau cap run communications\.send\.execute pv_[0-9a-f]{16} --yes) \(expires in \d+ min\)\.$/m,
    );
    expect(line).not.toBeNull();
    const [, ...argv] = line![1]!.split(" ");
    const sent = await runTau([...g(home), ...argv, "--json"]);
    expect(sent.code).toBe(0);
    expect(sent.json<Result>()).toMatchObject({ status: "reported", reason_code: "delivery_simulated" });
    const previewId = argv[3]!;
    const again = await runTau([...g(home), "cap", "run", "communications.send.execute", "--preview-id", previewId, "--yes", "--json"]);
    expect(again.json<Result>()).toMatchObject({ status: "failed", reason_code: "preview_already_sent" });
  }, 60_000);
});
