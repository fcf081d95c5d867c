import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger, formatLogLine, openLogFile } from "../../src/log.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";
import { runTau } from "../helpers/run-tau.ts";

let home: TauHome | null = null;
afterEach(() => home?.cleanup());
const g = (h: TauHome) => ["--state-dir", h.stateDir, "--config", h.configPath];
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function sink(): { stream: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split("\n")) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { stream, lines };
}

/** A home with one Telegram event ingested, ready for `process --once` (which logs one runner.cycle line at info). */
async function homeWithEvent(): Promise<TauHome> {
  const h = makeTauHome("runner:\n  coalesce_window_ms: 0\nfeatures:\n  communications: false\n", {
    "channel-policy.yaml": OPEN_CHANNEL_POLICY,
    "route-bindings.yaml": "schema_version: 1\nbindings: []\n",
    "rbac.yaml": "schema_version: 1\nadmins: []\n",
  });
  expect((await runTau([...g(h), "ingest", "fixtures/raw/telegram/private-text.json", "--transport", "telegram"])).code).toBe(0);
  return h;
}

describe("log lines", () => {
  it("carry ISO 8601 times", async () => {
    const s = sink();
    createLogger({ level: "info", includeIdentifiers: false, destination: s.stream }).info({ event: "x.y" }, "hello");
    await new Promise((r) => setImmediate(r));
    expect(s.lines[0]).toMatchObject({ level: 30, event: "x.y", msg: "hello" });
    expect(s.lines[0]!.time).toMatch(ISO);
  });

  it("have a human form: time, level, event, message, then the fields", () => {
    const line = JSON.stringify({
      level: 40,
      time: "2026-01-02T03:04:05.678Z",
      app: "tau",
      event: "outbound.retry",
      transport: "telegram",
      attempt: 2,
      reason: "rate limited",
      msg: "retrying",
    });
    expect(formatLogLine(line)).toBe(
      '2026-01-02T03:04:05.678Z WARN  outbound.retry retrying  transport=telegram attempt=2 reason="rate limited"',
    );
    expect(formatLogLine(line, { color: true })).toContain("\u001b[33mWARN ");
    // An older line with an epoch time reads the same way; a line that is not JSON is shown as it is.
    expect(formatLogLine({ level: 30, time: Date.parse("2026-01-02T03:04:05.678Z"), msg: "m" })).toBe("2026-01-02T03:04:05.678Z INFO  m");
    expect(formatLogLine("not json")).toBe("not json");
  });

  it("the log file rotates by size and keeps three older files, 0600", () => {
    home = makeTauHome();
    const file = path.join(home.stateDir, "logs", "tau.ndjson");
    const f = openLogFile(file, 120);
    const line = (i: number) => JSON.stringify({ level: 30, i, pad: "x".repeat(30) }) + "\n"; // 58–59 bytes: two per file
    for (let i = 1; i <= 11; i++) f.write(line(i));
    const ids = (name: string) =>
      fs
        .readFileSync(name, "utf8")
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { i: number }).i);
    expect(ids(file)).toEqual([11]);
    expect(ids(`${file}.1`)).toEqual([9, 10]);
    expect(ids(`${file}.2`)).toEqual([7, 8]);
    expect(ids(`${file}.3`)).toEqual([5, 6]);
    expect(fs.existsSync(`${file}.4`)).toBe(false);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
  });
});

describe("tau logs and the log format", { timeout: 180_000 }, () => {
  it("stderr is NDJSON with ISO times off a terminal, human with --log-format pretty or TAU_LOG_FORMAT; the file is NDJSON", async () => {
    home = await homeWithEvent();
    const env = { TAU_LOG_LEVEL: "info" };
    const json = await runTau([...g(home), "process", "--once"], { env });
    expect(json.code).toBe(0);
    const lines = json.stderr
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { event: string; time: string });
    expect(lines.map((l) => l.event)).toContain("runner.cycle");
    for (const l of lines) expect(l.time).toMatch(ISO);

    // Each run needs a busy cycle to log: the same event again is a duplicate, which the runner logs.
    const again = async () =>
      expect((await runTau([...g(home!), "ingest", "fixtures/raw/telegram/private-text.json", "--transport", "telegram"])).code).toBe(0);
    await again();
    const pretty = await runTau([...g(home), "--log-format", "pretty", "process", "--once"], { env });
    expect(pretty.stderr).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z INFO {2}runner\.cycle cycle {2}health=\w+ /m);
    expect(pretty.stderr).not.toContain('"level"');
    await again();
    const viaEnv = await runTau([...g(home), "process", "--once"], { env: { ...env, TAU_LOG_FORMAT: "pretty" } });
    expect(viaEnv.stderr).toMatch(/Z INFO {2}runner\.cycle cycle/);
    const bad = await runTau([...g(home), "--log-format", "xml", "health"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("option '--log-format <format>' argument 'xml' is invalid");

    const file = path.join(home.stateDir, "logs", "tau.ndjson");
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const stored = fs
      .readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { event: string; time: string });
    expect(stored.filter((l) => l.event === "runner.cycle")).toHaveLength(3);

    const all = await runTau([...g(home), "logs", "--json"]);
    expect(all.code).toBe(0);
    const arr = all.json<{ event: string; level: number }[]>();
    expect(arr.filter((l) => l.event === "runner.cycle")).toHaveLength(3);
    const nd = await runTau([...g(home), "logs", "--ndjson", "--limit", "1"]);
    expect(nd.stdout.trim().split("\n")).toEqual([fs.readFileSync(file, "utf8").trim().split("\n").at(-1)]);
    const human = await runTau([...g(home), "logs", "--limit", "1"]);
    expect(human.stdout).toMatch(/^\d{4}-\d{2}-\d{2}T[\d:.]+Z INFO {2}runner\.cycle cycle {2}health=\w+ .*\n$/);
    expect((await runTau([...g(home), "logs", "--level", "warn", "--json"])).json()).toEqual([]);
    expect((await runTau([...g(home), "logs", "--since", "2999-01-01", "--json"])).json()).toEqual([]);
  });

  it("at a terminal (a pseudo-terminal from script(1)) stderr logs are human lines", async () => {
    home = await homeWithEvent();
    const cmd = [process.execPath, path.resolve("bin/tau.js"), ...g(home), "process", "--once"].map((a) => `'${a}'`).join(" ");
    const r = spawnSync("script", ["-qec", cmd, "/dev/null"], {
      env: { ...process.env, TAU_LOG_LEVEL: "info", NO_COLOR: "1" },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Z INFO {2}runner\.cycle cycle/);
    expect(r.stdout).not.toContain('"level":30');
  });

  it("logs --follow --ndjson prints lines appended later, until SIGTERM", async () => {
    home = makeTauHome();
    const file = path.join(home.stateDir, "logs", "tau.ndjson");
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const line = (i: number) => JSON.stringify({ level: 30, time: "2026-01-02T03:04:05.678Z", app: "tau", event: "test.follow", i }) + "\n";
    fs.writeFileSync(file, line(1));
    const child = spawn(process.execPath, [path.resolve("bin/tau.js"), ...g(home), "logs", "--follow", "--ndjson"], {
      env: { ...process.env, TAU_LOG_LEVEL: "silent" },
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const until = async (pred: () => boolean) => {
      const deadline = Date.now() + 60_000;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`timed out; stdout so far: ${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      await until(() => out.includes('"i":1'));
      fs.appendFileSync(file, line(2));
      await until(() => out.includes('"i":2'));
      // A rotation: the file moves to .1 and a new one starts.
      fs.renameSync(file, `${file}.1`);
      fs.writeFileSync(file, line(3));
      await until(() => out.includes('"i":3'));
    } finally {
      child.kill("SIGTERM");
    }
    const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    expect(code).toBe(0);
    expect(
      out
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { i: number }).i),
    ).toEqual([1, 2, 3]);
  });
});
