/**
 * @module Test helper for the shipped package: is dist/ the build of the sources (the rule bin/tau.js applies), build
 * it when not, pack it with npm and unpack it into a folder whose node_modules holds only the runtime dependencies.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export const REPO = path.resolve(".");

/** Newest modification time (ms) of the files under `dir`. */
function newest(dir: string): number {
  let max = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    max = Math.max(max, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return max;
}

/** True when dist/ is stamped and no file under src/ or connectors/ changed after its sources were read. */
export function distIsFresh(): boolean {
  let stamp: { sources_at_ms: number };
  try {
    stamp = JSON.parse(fs.readFileSync(path.join(REPO, "dist", "build-stamp.json"), "utf8")) as { sources_at_ms: number };
  } catch {
    return false;
  }
  return Math.max(newest(path.join(REPO, "src")), newest(path.join(REPO, "connectors"))) <= stamp.sources_at_ms;
}

/** `npm run build` unless dist/ is already the build of these sources (CI builds before `npm test`). */
export function ensureBuilt(): void {
  if (distIsFresh()) return;
  const r = spawnSync("npm", ["run", "build"], { cwd: REPO, encoding: "utf8", timeout: 600_000 });
  if (r.status !== 0) throw new Error(`npm run build failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
}

/** What `npm pack` would put in the tarball (paths relative to the package root), without running scripts. */
export function packList(): string[] {
  const r = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: REPO, encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`npm pack --dry-run failed (${r.status}): ${r.stderr}`);
  const [info] = JSON.parse(r.stdout) as { files: { path: string }[] }[];
  return info!.files.map((f) => f.path).sort();
}

/**
 * Pack the package into `dir` and unpack it as `dir/package`, with a node_modules of symlinks to the runtime
 * dependencies only (package.json `dependencies`, minus `omit`): no dev packages, no sources.
 */
export function unpackPackage(dir: string, omit: readonly string[] = []): string {
  const r = spawnSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dir], {
    cwd: REPO,
    encoding: "utf8",
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`npm pack failed (${r.status}): ${r.stderr}`);
  const [info] = JSON.parse(r.stdout) as { filename: string }[];
  const t = spawnSync("tar", ["-xzf", path.join(dir, info!.filename), "-C", dir], { encoding: "utf8" });
  if (t.status !== 0) throw new Error(`tar failed: ${t.stderr}`);
  const pkg = path.join(dir, "package");
  const deps = Object.keys((JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { dependencies: object }).dependencies);
  for (const name of deps.filter((d) => !omit.includes(d))) {
    const link = path.join(pkg, "node_modules", name);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(path.join(REPO, "node_modules", name), link, "dir");
  }
  return pkg;
}
