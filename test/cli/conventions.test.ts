import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";
import { runTau } from "../helpers/run-tau.ts";

let home: TauHome | null = null;
afterEach(() => home?.cleanup());
const g = (h: TauHome) => ["--state-dir", h.stateDir, "--config", h.configPath];

/** A home with one processed Telegram event: one runtime event, one trace. */
async function processedHome(): Promise<TauHome> {
  const h = makeTauHome("runner:\n  coalesce_window_ms: 0\nfeatures:\n  communications: false\n", {
    "channel-policy.yaml": OPEN_CHANNEL_POLICY,
    "route-bindings.yaml": "schema_version: 1\nbindings: []\n",
    "rbac.yaml": "schema_version: 1\nadmins: []\n",
  });
  expect((await runTau([...g(h), "ingest", "fixtures/raw/telegram/private-text.json", "--transport", "telegram"])).code).toBe(0);
  expect((await runTau([...g(h), "process", "--once"])).code).toBe(0);
  return h;
}

// Every command is a real child process (2–4 s each on a shared machine).
describe("CLI conventions: bad input is a usage error (exit 2) naming the flag", { timeout: 120_000 }, () => {
  it("traces --limit abc / -1 are refused naming --limit, never a database error or everything", async () => {
    home = await processedHome();
    for (const bad of ["abc", "-1"]) {
      const r = await runTau([...g(home), "traces", "--limit", bad, "--json"]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toContain(`option '--limit <n>' argument '${bad}' is invalid. expected a positive integer`);
      expect(r.stderr).not.toContain("datatype mismatch");
      expect(r.stdout).toBe("");
    }
    const ok = await runTau([...g(home), "traces", "--limit", "1", "--json"]);
    expect(ok.code).toBe(0);
    expect(ok.json<{ event_id: string }[]>().map((t) => t.event_id)).toEqual(["telegram:6112:u:900001"]);
  });

  it("events --since accepts yesterday, today, ISO and durations; anything else exits 2 naming --since", async () => {
    home = await processedHome();
    for (const when of ["yesterday", "2h", "2020-01-01T00:00:00Z"]) {
      const r = await runTau([...g(home), "events", "--since", when, "--json"]);
      expect(r.code, when).toBe(0);
      expect(r.json<{ event: string }[]>().map((e) => e.event)).toEqual(["runner.cycle"]);
    }
    const future = await runTau([...g(home), "events", "--since", "2999-01-01", "--json"]);
    expect(future.json()).toEqual([]);
    for (const bad of ["tuesday"]) {
      const r = await runTau([...g(home), "events", "--since", bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toContain(`option '--since <when>' argument '${bad}' is invalid`);
    }
  });

  it("a missing replay fixture or route file is a usage error naming the file (exit 2), not CONFIG_INVALID", async () => {
    home = makeTauHome();
    const r = await runTau(["replay", path.join(home.dir, "nope.yaml"), "--json"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`USAGE_FILE_NOT_FOUND: replay: fixture ${path.join(home.dir, "nope.yaml")}: no such file`);
    expect(r.stderr).not.toContain("CONFIG_INVALID");
    expect(r.json()).toMatchObject({
      ok: false,
      error: { code: "USAGE_FILE_NOT_FOUND", details: { file: path.join(home.dir, "nope.yaml") } },
    });
    const route = await runTau([...g(home), "route", "inspect", path.join(home.dir, "missing.json")]);
    expect(route.code).toBe(2);
    expect(route.stderr).toContain("USAGE_FILE_NOT_FOUND");
    const outbound = await runTau(["replay", "fixtures/scenarios/01-dm-ping.yaml", "--outbound", "provider"]);
    expect(outbound.code).toBe(2);
    expect(outbound.stderr).toContain("option '--outbound <mode>' argument 'provider' is invalid. expected one of dry-run, channel-store");
  });

  it("a state dir that is a file is named with the fix (exit 2), never EEXIST from mkdir", async () => {
    home = makeTauHome();
    const file = path.join(home.dir, "state-file");
    fs.writeFileSync(file, "not a folder\n");
    for (const cmd of [["process", "--once"], ["health"], ["allowlist", "list"]]) {
      const r = await runTau(["--state-dir", file, "--config", home.configPath, ...cmd]);
      expect(r.code, cmd.join(" ")).toBe(2);
      expect(r.stderr).toContain(`STATE_DIR_NOT_A_FOLDER: ${file} is not a folder (a file is in the way)`);
      expect(r.stderr).toContain("fix: point --state-dir (or TAU_STATE_DIR) at a folder");
      expect(r.stderr).not.toContain("EEXIST");
    }
    expect(fs.readFileSync(file, "utf8")).toBe("not a folder\n");
  });
});

describe("CLI conventions: one --json shape per command", { timeout: 120_000 }, () => {
  it("events --json is one array like traces --json; --ndjson is one object per line; --follow --json is refused", async () => {
    home = await processedHome();
    const ev = await runTau([...g(home), "events", "--json"]);
    expect(ev.code).toBe(0);
    const arr = ev.json<{ event: string; reason_codes: string[] }[]>();
    expect(Array.isArray(arr)).toBe(true);
    expect(arr.map((e) => e.event)).toEqual(["runner.cycle"]);
    const nd = await runTau([...g(home), "events", "--ndjson"]);
    const lines = nd.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ event: "runner.cycle", reason_codes: arr[0]!.reason_codes });
    const tr = await runTau([...g(home), "traces", "--json"]);
    expect(Array.isArray(tr.json())).toBe(true);
    const follow = await runTau([...g(home), "events", "--follow", "--json"]);
    expect(follow.code).toBe(2);
    expect(follow.stderr).toContain("USAGE_FLAG_CONFLICT");
    expect(follow.stderr).toContain("use --ndjson with --follow");
    const both = await runTau([...g(home), "events", "--json", "--ndjson"]);
    expect(both.code).toBe(2);
  });

  it("export prints NDJSON by default (a stream) and one array with --json", async () => {
    home = await processedHome();
    const nd = await runTau([...g(home), "export", "--since", "1h", "--view", "traces"]);
    expect(nd.code).toBe(0);
    expect(
      nd.stdout
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { view: string; event_id: string }).event_id),
    ).toEqual(["telegram:6112:u:900001"]);
    const arr = await runTau([...g(home), "export", "--since", "1h", "--view", "traces", "--json"]);
    expect(arr.json<{ view: string; event_id: string }[]>().map((r) => [r.view, r.event_id])).toEqual([
      ["traces", "telegram:6112:u:900001"],
    ]);
    const bad = await runTau([...g(home), "export", "--since", "last week"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("option '--since <when>' argument 'last week' is invalid");
  });

  it("channel status --json is an array whether or not a transport is named", async () => {
    home = makeTauHome();
    const one = await runTau([...g(home), "channel", "status", "telegram", "--json"]);
    expect(one.json<{ transport: string }[]>().map((r) => r.transport)).toEqual(["telegram"]);
    const all = await runTau([...g(home), "channel", "status", "--json"]);
    expect(all.json<{ transport: string }[]>().map((r) => r.transport)).toEqual(["telegram", "discord", "whatsapp", "email"]);
  });
});

describe("CLI conventions: the environment", { timeout: 60_000 }, () => {
  it("warns about an unknown TAU_* variable with the closest name, and still runs", async () => {
    home = makeTauHome();
    const r = await runTau([...g(home), "channel", "status", "--json"], { env: { TAU_OUTBUND_MODE: "provider", TAU_ZZZ_QQQ: "1" } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("tau: warning: TAU_OUTBUND_MODE is not a tau setting and is ignored (did you mean TAU_OUTBOUND_MODE?)");
    expect(r.stderr).toContain("tau: warning: TAU_ZZZ_QQQ is not a tau setting and is ignored\n");
    const known = await runTau([...g(home), "channel", "status", "--json"], {
      env: { TAU_OUTBOUND_MODE: "dry-run", TAU_TELEGRAM_BOT_TOKEN: "1:x", TAU_TELEGRAM_API_ROOT: "http://127.0.0.1:1" },
    });
    expect(known.stderr).not.toContain("warning");
  });
});
