#!/usr/bin/env -S node --max-semi-space-size=4
// The `tau` executable: runs the compiled CLI in dist/ (`npm run build`; the package ships dist/ and no sources).
// In a checkout whose dist/ is missing or older than a source file it runs the TypeScript sources through tsx
// instead (the same CLI, slower to start) and says so on a terminal, so an edit is never hidden behind an old build.
// --max-semi-space-size=4 (MB): a smaller young generation. The runner allocates in short-lived bursts per batch;
// with V8's default 16 MB semi-spaces peak RSS over 100,000 events is ~225 MB, with 4 MB ~185 MB, same speed
// (scripts/bench-core.ts run-runner). `npm run tau` passes the same flag.
//
// The build is one CommonJS file, dist/lib/main.cjs, compiled here with the V8 code cache the build recorded beside
// it (scripts/build.ts says why): V8 takes it only from the same Node and flags, and compiles as usual otherwise.
import fs from "node:fs";
import Module, { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** Newest modification time (ms) of the files under `dir`; 0 for none. */
function newest(dir) {
  let max = 0;
  let entries = [];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    let t = 0;
    try {
      t = e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs;
    } catch {
      // Removed while we looked: it no longer counts.
    }
    if (t > max) max = t;
  }
  return max;
}

/** Why dist/ is not the build of the sources beside it, or null when it is (or when there are no sources). */
function distStale() {
  let stamp;
  try {
    stamp = JSON.parse(fs.readFileSync(path.join(root, "dist", "build-stamp.json"), "utf8"));
  } catch {
    return "dist/ is not built";
  }
  if (!fs.existsSync(path.join(root, "src"))) return null;
  const changed = Math.max(newest(path.join(root, "src")), newest(path.join(root, "connectors")));
  return changed > stamp.sources_at_ms ? "dist/ is older than the sources" : null;
}

/** The bundled CLI's exports: dist/lib/main.cjs compiled as Node compiles a CommonJS module, with its code cache. */
function loadBundle() {
  const file = path.join(root, "dist", "lib", "main.cjs");
  let cachedData;
  try {
    cachedData = fs.readFileSync(`${file}.cache`);
  } catch {
    // No cache (or unreadable): compile without it.
  }
  // Module.wrap: the same source text scripts/build.ts recorded the cache for (V8 checks it).
  const script = new vm.Script(Module.wrap(fs.readFileSync(file, "utf8")), { filename: file, cachedData });
  const mod = { exports: {} };
  script.runInThisContext()(mod.exports, createRequire(file), mod, file, path.dirname(file));
  return mod.exports;
}

async function loadCli() {
  const stale = distStale();
  if (stale === null) return loadBundle();
  if (!fs.existsSync(path.join(root, "src", "cli", "main.ts"))) {
    process.stderr.write(`tau: ${stale} and there are no sources beside it (${root}): reinstall the package\n`);
    process.exit(1);
  }
  let tsx;
  try {
    tsx = await import("tsx/esm/api");
  } catch {
    process.stderr.write(`tau: ${stale} and tsx (to run the TypeScript sources) is not installed: run \`npm run build\`\n`);
    process.exit(1);
  }
  if (process.stderr.isTTY) process.stderr.write(`tau: ${stale}; running the TypeScript sources through tsx (\`npm run build\` for a fast start)\n`);
  tsx.register();
  return import("../src/cli/main.ts");
}

const { runCli } = await loadCli();
process.exitCode = await runCli(process.argv);
