/**
 * SIGTERM/SIGINT stop tau whatever launched it (issue 13). The bug: SIGTERM to `npm run tau -- process` (the README's
 * way to start it) ended npm and the shell between npm and node, and left node running and delivering. Here the
 * runner is started exactly that way, npm gets SIGTERM, and every process under it must be gone, the state's runner
 * lock free, and an event queued afterwards still waiting for the next runner.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

const REPO = path.resolve(".");
const CHILD = path.resolve("test/helpers/stop-guard-child.ts");
let home: TauHome | null = null;
const started: ChildProcess[] = [];
/** Processes started under a child (npm's shell and node): a failing test must not leave them running. */
const strays: number[] = [];
afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const pid of strays.splice(0)) if (alive(pid)) process.kill(pid, "SIGKILL");
  home?.cleanup();
  home = null;
});

/** Every live process below `pid` (from /proc), zombies excluded. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
    } catch {
      continue;
    }
    const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (state === "Z") continue;
    const list = children.get(Number(ppid)) ?? [];
    list.push(Number(d));
    children.set(Number(ppid), list);
  }
  const out: number[] = [];
  const walk = (p: number) => (children.get(p) ?? []).forEach((c) => (out.push(c), walk(c)));
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Resolve when `cond()` holds, checking every 50 ms; reject after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function exited(c: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve({ code: c.exitCode, signal: c.signalCode });
  return new Promise((resolve) => c.once("exit", (code, signal) => resolve({ code, signal })));
}

function tau(h: TauHome, args: string[]) {
  return spawnSync(process.execPath, ["bin/tau.js", "--state-dir", h.stateDir, "--config", h.configPath, ...args], {
    cwd: REPO,
    encoding: "utf8",
    env: { ...process.env, TAU_LOG_LEVEL: "silent" },
    timeout: 60_000,
  });
}

describe("stop signals", () => {
  it("SIGTERM to `npm run tau -- process` stops the runner itself, not only npm", async () => {
    home = makeTauHome();
    const h = home;
    const fixture = path.join(REPO, "fixtures/raw/telegram/private-text.json");
    const npm = spawn("npm", ["--prefix", REPO, "run", "tau", "--", "process", "--state-dir", h.stateDir, "--config", h.configPath], {
      cwd: h.dir,
      env: { ...process.env, TAU_LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    started.push(npm);
    let out = "";
    npm.stdout!.on("data", (d) => (out += d));
    npm.stderr!.on("data", (d) => (out += d));
    await until(() => out.includes("runner.started") || npm.exitCode !== null, 120_000, "runner.started");
    expect(out).toContain("runner.started");
    const below = descendants(npm.pid!);
    strays.push(...below);
    expect(below.length).toBeGreaterThan(0);

    npm.kill("SIGTERM");
    await exited(npm);
    await until(() => below.every((p) => !alive(p)), 20_000, `processes ${below.join(", ")} under npm to exit`);

    // Nothing holds the state: an event ingested now is processed by the next runner, not by a leftover one.
    expect(tau(h, ["ingest", fixture, "--transport", "telegram"]).status).toBe(0);
    const next = tau(h, ["process", "--once", "--json"]);
    expect(next.stderr).toBe("");
    expect(JSON.parse(next.stdout)).toMatchObject({ processed: 1 });
  }, 180_000);

  it("a command that handles SIGTERM but never finishes stopping is ended by the cap (exit 1)", async () => {
    const c = spawn(process.execPath, ["--import", "tsx", CHILD, "handled", "300"], { stdio: ["ignore", "pipe", "pipe"] });
    started.push(c);
    let out = "";
    let err = "";
    c.stdout!.on("data", (d) => (out += d));
    c.stderr!.on("data", (d) => (err += d));
    await until(() => out.includes("ready"), 60_000, "ready");
    c.kill("SIGTERM");
    expect(await exited(c)).toEqual({ code: 1, signal: null });
    expect(out).toContain("stopping");
    expect(err).toContain("still stopping 300 ms after SIGTERM");
  }, 90_000);

  it("a second SIGTERM after the command's own handler ran ends the process at once, by the signal", async () => {
    const c = spawn(process.execPath, ["--import", "tsx", CHILD, "handled", "600000"], { stdio: ["ignore", "pipe", "pipe"] });
    started.push(c);
    let out = "";
    c.stdout!.on("data", (d) => (out += d));
    await until(() => out.includes("ready"), 60_000, "ready");
    c.kill("SIGTERM");
    await until(() => out.includes("stopping"), 30_000, "the command's handler");
    c.kill("SIGTERM");
    expect(await exited(c)).toEqual({ code: null, signal: "SIGTERM" });
  }, 90_000);

  it("a command without a handler of its own is ended by SIGTERM and SIGINT as without the guard", async () => {
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      const c = spawn(process.execPath, ["--import", "tsx", CHILD, "unhandled", "600000"], { stdio: ["ignore", "pipe", "pipe"] });
      started.push(c);
      let out = "";
      c.stdout!.on("data", (d) => (out += d));
      await until(() => out.includes("ready"), 60_000, "ready");
      c.kill(sig);
      expect(await exited(c)).toEqual({ code: null, signal: sig });
    }
  }, 90_000);
});
