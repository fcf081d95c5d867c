/**
 * @module Start-up bench (`npm run bench -- startup`): `tau --version`, `tau --help` and `tau health` against
 * `node -e 0`, measured in the same run, as the package ships: `npm pack`ed, unpacked into a temp folder with its
 * runtime dependencies only, run as `node <package>/bin/tau.js` (compiled dist/, no tsx). Like hyperfine: warm-up
 * runs, then rounds in which each command runs once in turn (so drift on a shared machine hits all alike); the
 * figure is the median wall time, and each ratio is the median of the per-round ratios to `node -e 0`.
 * Last line: one JSON object. Target: every ratio ≤ 3.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBuilt } from "../test/helpers/ship.ts";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const flag = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const ROUNDS = flag("--rounds", 21);
const WARMUP = flag("--warmup", 3);

function run(cmd: string, argv: string[], opts: { cwd?: string } = {}): string {
  const r = spawnSync(cmd, argv, { cwd: opts.cwd ?? repo, encoding: "utf8", timeout: 900_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** The package as `npm pack` makes it, unpacked, with symlinks to the runtime dependencies only. */
function unpack(dir: string): string {
  const [info] = JSON.parse(run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dir])) as { filename: string }[];
  run("tar", ["-xzf", path.join(dir, info!.filename), "-C", dir]);
  const pkg = path.join(dir, "package");
  const deps = Object.keys((JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8")) as { dependencies: object }).dependencies);
  for (const name of deps.filter((d) => d !== "tsx")) {
    const link = path.join(pkg, "node_modules", name);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(path.join(repo, "node_modules", name), link, "dir");
  }
  return pkg;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

ensureBuilt();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tau-bench-startup-"));
try {
  const pkg = unpack(tmp);
  const home = path.join(tmp, "home");
  fs.mkdirSync(home);
  const bin = path.join(pkg, "bin", "tau.js");
  run(process.execPath, [bin, "init", "--dir", home], { cwd: home });
  run(process.execPath, [bin, "process", "--once"], { cwd: home });

  // The flag bin/tau.js's shebang gives node (`npm run tau` too), so tau is measured as it starts.
  const tau = (...a: string[]) => [process.execPath, "--max-semi-space-size=4", bin, ...a];
  const commands: Record<string, string[]> = {
    "node -e 0": [process.execPath, "-e", "0"],
    "tau --version": tau("--version"),
    "tau --help": tau("--help"),
    "tau health": tau("health"),
  };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  for (let round = -WARMUP; round < ROUNDS; round++) {
    for (const [name, [cmd, ...argv]] of Object.entries(commands)) {
      const t0 = performance.now();
      const r = spawnSync(cmd!, argv, { cwd: home, stdio: "ignore", env: { ...process.env, TAU_LOG_LEVEL: "silent" } });
      const ms = performance.now() - t0;
      // `tau health` exits 0/1/2 by verdict; anything else is a crash, not a time.
      if (r.status === null || r.status > 2) throw new Error(`${name} exited ${r.status ?? r.signal}`);
      if (round >= 0) times[name]!.push(ms);
    }
  }
  const base = times["node -e 0"]!;
  const out: Record<string, { median_ms: number; ratio: number }> = {};
  for (const [name, ms] of Object.entries(times))
    out[name] = { median_ms: Math.round(median(ms) * 10) / 10, ratio: Math.round(median(ms.map((m, i) => m / base[i]!)) * 100) / 100 };
  for (const [name, v] of Object.entries(out))
    console.log(
      `${name.padEnd(14)} ${String(v.median_ms).padStart(7)} ms   ${v.ratio.toFixed(2)}× node -e 0${name === "node -e 0" ? "" : v.ratio <= 3 ? "   ok" : "   over 3×"}`,
    );
  console.log(JSON.stringify({ rounds: ROUNDS, warmup: WARMUP, node: process.version, commands: out }));
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
