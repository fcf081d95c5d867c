/**
 * The README tour runs verbatim (issue 13 §3): the ```bash tour block of README.md, extracted as it is, runs in bash
 * from a fresh copy of the repository (the files a clone has: tracked plus new, not ignored — no state/, no dist/),
 * with no TAU_* variables set, and each of its commands exits as the README says and prints what the README promises.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readmeBlocks, readmePath } from "./helpers/readme-blocks.ts";

interface Step {
  command: string;
  code: number;
  stdout: string;
  stderr: string;
}

let work = "";
let steps: Step[] = [];

/** The files a fresh clone of this checkout would have (git's tracked and untracked-but-not-ignored files). */
function cloneFiles(root: string): string[] {
  const r = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git ls-files failed: ${r.stderr}`);
  return r.stdout.split("\0").filter((f) => f !== "" && fs.existsSync(path.join(root, f)));
}

/** Run the tour's lines in one bash, printing a marker with each line's exit status on stdout and stderr. */
function runTour(lines: string[], cwd: string, tmpdir: string): Promise<{ stdout: string; stderr: string }> {
  const script = lines.map((l, i) => `${l}\n__s=$?; printf '\\n@@step ${i} exit %d\\n' $__s; printf '\\n@@step ${i} exit %d\\n' $__s >&2`);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("TAU_")) env[k] = v;
  env.TMPDIR = tmpdir;
  env.PATH = `${path.dirname(process.execPath)}:${env.PATH ?? ""}`;
  return new Promise((resolve, reject) => {
    const c = spawn("bash", ["--noprofile", "--norc", "-c", script.join("\n")], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    c.on("error", reject);
    c.on("exit", () => resolve({ stdout, stderr }));
  });
}

/** Output split at the step markers: step index → [exit status, text]. */
function bySteps(out: string): Map<number, { code: number; text: string }> {
  const m = new Map<number, { code: number; text: string }>();
  const re = /\n@@step (\d+) exit (\d+)\n/g;
  let from = 0;
  for (const hit of out.matchAll(re)) {
    m.set(Number(hit[1]), { code: Number(hit[2]), text: out.slice(from, hit.index) });
    from = hit.index + hit[0].length;
  }
  return m;
}

beforeAll(async () => {
  const blocks = readmeBlocks(fs.readFileSync(readmePath(), "utf8")).filter((b) => b.info === "bash tour");
  if (blocks.length !== 1) throw new Error(`README: expected one \`\`\`bash tour block, found ${blocks.length}`);
  const lines = blocks[0]!.body.split("\n").filter((l) => l.trim() !== "");
  work = fs.mkdtempSync(path.join(os.tmpdir(), "tau-readme-tour-"));
  const repo = path.join(work, "tau");
  const root = process.cwd();
  for (const f of cloneFiles(root)) {
    fs.mkdirSync(path.dirname(path.join(repo, f)), { recursive: true });
    fs.copyFileSync(path.join(root, f), path.join(repo, f));
  }
  fs.copyFileSync(readmePath(), path.join(repo, "README.md"));
  fs.chmodSync(path.join(repo, "bin/tau.js"), 0o755);
  // `npm ci` of the README's install step: the same packages, linked instead of reinstalled.
  fs.symlinkSync(path.join(root, "node_modules"), path.join(repo, "node_modules"), "dir");
  const tmpdir = path.join(work, "tmp");
  fs.mkdirSync(tmpdir);
  const { stdout, stderr } = await runTour(lines, repo, tmpdir);
  const outs = bySteps(stdout);
  const errs = bySteps(stderr);
  steps = lines.map((command, i) => ({
    command,
    code: outs.get(i)?.code ?? -1,
    stdout: outs.get(i)?.text ?? "",
    stderr: errs.get(i)?.text ?? "",
  }));
}, 600_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** The step whose command starts with `prefix` (the tour's own words). */
function step(prefix: string): Step {
  const s = steps.find((x) => x.command.startsWith(prefix));
  if (!s) throw new Error(`the tour has no command starting with "${prefix}"; its commands: ${steps.map((x) => x.command).join(" | ")}`);
  return s;
}

/** The JSON document a step printed (the runner's own output, without the marker). */
function json<T>(s: Step): T {
  return JSON.parse(s.stdout) as T;
}

describe("README tour, run verbatim on a fresh copy", () => {
  it("every command of the block exits 0 (the last one's status is what `echo` printed)", () => {
    expect(steps.length).toBeGreaterThanOrEqual(10);
    expect(steps.map((s) => [s.command.split(/\s+/).slice(0, 3).join(" "), s.code, s.code === 0 ? "" : s.stderr])).toEqual(
      steps.map((s) => [s.command.split(/\s+/).slice(0, 3).join(" "), 0, ""]),
    );
  });

  it("init writes tau.yaml with the fixtures' bot identity, and ingest accepts the message", () => {
    expect(step("tau init").stdout).toMatch(/^wrote tau\.yaml, policies\/channel-policy\.yaml/);
    expect(step("tau ingest").stdout).toBe("ingested 1 telegram event(s) into ingress/telegram.ndjson\n");
  });

  it("process decides and traces show the pairing challenge for the stranger", () => {
    expect(json<{ processed: number; replies: number }>(step("tau process"))).toMatchObject({ processed: 1, replies: 1 });
    const traces = json<{ event_id: string; outcome: string; reason: string; decisions: { reason: string }[] }[]>(step("tau traces"));
    expect(traces.map((t) => [t.event_id, t.outcome, t.reason])).toEqual([
      ["telegram:6112:u:900001", "denied", "pairing_challenge_issued"],
    ]);
    expect(traces[0]!.decisions.map((d) => d.reason)).toEqual([
      "channel_policy_allow",
      "deny_actor_not_paired_or_allowlisted",
      "pairing_challenge_issued",
    ]);
  });

  it("the pairing code listed is the one approved, with no placeholder to invent", () => {
    const listed = step("tau pairing list").stdout.match(/^([A-Z0-9]{8})\s+telegram:4242 \(ana\)/m);
    expect(listed).not.toBeNull();
    expect(step("tau pairing approve").stdout).toContain("Paired telegram:4242 (ana).");
  });

  it("health is healthy and the tour prints its exit status 0", () => {
    expect(step("tau health").stdout).toMatch(/^healthy {2}healthy_cycle .*\nexit 0\n$/);
  });
});
