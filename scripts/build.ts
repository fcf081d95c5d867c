/**
 * @module `npm run build`: type-check src/ and connectors/ with tsc (tsconfig.build.json, no output), bundle the CLI
 * with esbuild into one file, record V8's code cache for it, copy the SQL migrations the store reads at run time, and
 * stamp the build with the time its sources were read. bin/tau.js runs dist/ when the stamp is newer than every source
 * file, and the TypeScript sources through tsx otherwise; a build with type errors writes no stamp, so it is never run.
 *
 * Why (issue 13: `tau health` within 3× of `node -e 0`): most of a short command's start-up is loading code, not
 * running it. Node 20 loads ES modules one file at a time (resolve, an asynchronous read, compile: ~200 files for
 * `tau health`, ours and zod's) and has no compile cache for them. So the CLI is one CommonJS file, dist/lib/main.cjs,
 * which bin/tau.js compiles with the code cache recorded here (dist/lib/main.cjs.cache: the bytecode of what a
 * `tau health` run compiled). Lazy stays lazy: esbuild turns each `import()` of our modules into a call that runs the
 * module (and its `require`s of packages) on first use, so a command still runs only the modules it imports — the
 * start-up tests read which from the module probe below. zod, yaml, commander and pino (pure JavaScript; tau uses no
 * pino transport, the one part of pino that loads files by path) are bundled; every other dependency is required from
 * node_modules (native better-sqlite3, pg, the provider SDKs).
 *
 * V8 takes the cache only from the same V8 version and flags: it is recorded under `--max-semi-space-size=4`, the flag
 * bin/tau.js's shebang, `npm run tau` and the service run with. Otherwise (another Node, other flags) V8 rejects it and
 * compiles as usual: slower to start, nothing else changes.
 *
 * Layout: dist/lib/main.cjs (+ .cache); dist/lib/worker.js and metric-counts-worker.js (the PostgreSQL bridge's and
 * the metrics scans' workers, ES modules the store imports from beside the CLI); dist/migrations/ (and pg/), found
 * from dist/lib/ as `../migrations` by src/store/db.ts and src/store/pg/migrate.ts.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");
const lib = path.join(dist, "lib");
/** Read before tsc reads the sources: a file saved during the build is newer than the stamp, so the build is stale. */
const sourcesAt = Date.now();
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  version: string;
  dependencies: Record<string, string>;
};

/** Dependencies compiled into the bundle: pure JavaScript, loaded by most commands. Everything else is required from node_modules. */
const BUNDLED = new Set(["zod", "yaml", "commander", "pino"]);
const external = Object.keys(pkg.dependencies)
  .filter((d) => !BUNDLED.has(d))
  .flatMap((d) => [d, `${d}/*`]);

/**
 * zod's `z.locales` namespace holds every language's error messages (~370 kB, half of zod); tau never selects one, and
 * zod registers English itself (classic/schemas.js imports locales/en.js directly). The namespace keeps `en`.
 */
const zodLocalesEnglishOnly: esbuild.Plugin = {
  name: "zod-locales-english-only",
  setup(b) {
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, (args) => ({
      contents: 'export { default as en } from "./en.js";\n',
      loader: "js",
      resolveDir: path.dirname(args.path),
    }));
  },
};

/**
 * The module probe: each of our modules starts with `globalThis.__tauModuleProbe?.("src/x.ts")`, a no-op unless a
 * test defines the function (test/ship/loaded-modules.ts). In one bundled file the module loader no longer sees our
 * modules; this is how the start-up tests still see which ran.
 */
const moduleProbe: esbuild.Plugin = {
  name: "module-probe",
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      const rel = path.relative(root, args.path).split(path.sep).join("/");
      if (!/^(src|connectors)\//.test(rel)) return undefined;
      const text = fs.readFileSync(args.path, "utf8");
      return { contents: `globalThis.__tauModuleProbe?.(${JSON.stringify(rel)});\n${text}`, loader: "ts" };
    });
  },
};

fs.rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const typecheck = spawnSync(process.execPath, [tsc, "--noEmit", "-p", path.join(root, "tsconfig.build.json")], {
  cwd: root,
  stdio: "inherit",
});
if (typecheck.status !== 0) {
  process.stderr.write(
    `build: tsc exited ${typecheck.status ?? typecheck.signal}; dist/ is not built, so bin/tau.js keeps running the sources\n`,
  );
  process.exit(1);
}

const common: esbuild.BuildOptions = {
  absWorkingDir: root,
  bundle: true,
  platform: "node",
  target: "node20",
  external,
  plugins: [zodLocalesEnglishOnly, moduleProbe],
  // Less to parse at every start; identifiers keep their names (error names, stack traces).
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
};
await esbuild.build({
  ...common,
  entryPoints: ["src/cli/main.ts"],
  outfile: path.join(lib, "main.cjs"),
  format: "cjs",
  // Every import() becomes a lazy require: nothing is left for the vm.Script bin/tau.js compiles to import.
  supported: { "dynamic-import": false },
  // Our modules' import.meta.url (package.json lookup, migrations, the worker) is the bundle's own file.
  define: { "import.meta.url": "__tauModuleUrl" },
  banner: { js: 'var __tauModuleUrl=require("node:url").pathToFileURL(__filename).href;' },
});
// The workers the store starts beside main.cjs, as ES modules: the PostgreSQL bridge's (`new URL("./worker.js",
// import.meta.url)`) and the metrics scans' (`./metric-counts-worker.js`, src/store/metric-counts.ts).
for (const [entry, out] of [
  ["src/store/pg/worker.ts", "worker.js"],
  ["src/store/metric-counts-worker.ts", "metric-counts-worker.js"],
]) {
  await esbuild.build({
    ...common,
    entryPoints: [entry!],
    outfile: path.join(lib, out!),
    format: "esm",
    banner: { js: 'import{createRequire as __tauCreateRequire}from"node:module";const require=__tauCreateRequire(import.meta.url);' },
  });
}
// The store lists and reads its migrations from disk (src/store/db.ts: `migrations` beside its module, else one up).
fs.cpSync(path.join(root, "src/store/migrations"), path.join(dist, "migrations"), { recursive: true });

// The code cache: a real `tau health` in a scratch home (after `init` and `process --once`), run from the bundle as
// bin/tau.js runs it (Module.wrap, the flag its shebang gives node), then the bytecode V8 compiled for the bundle. The
// runner is inline, not bin/tau.js: a build context may hold only what the build needs (deploy/Dockerfile).
const RECORD = `
const fs = require("node:fs"), path = require("node:path"), vm = require("node:vm"), Module = require("node:module");
const [file, out, ...args] = process.argv.slice(1);
const script = new vm.Script(Module.wrap(fs.readFileSync(file, "utf8")), { filename: file });
const mod = { exports: {} };
script.runInThisContext()(mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
mod.exports.runCli(["node", "tau", ...args]).then((code) => {
  if (out !== "-") fs.writeFileSync(out, script.createCachedData());
  process.exitCode = code;
});`;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "tau-build-cache-"));
try {
  const cache = path.join(lib, "main.cjs.cache");
  const steps: [string, string[]][] = [
    ["-", ["init", "--dir", scratch]],
    ["-", ["process", "--once"]],
    [cache, ["health"]],
  ];
  for (const [out, args] of steps) {
    const r = spawnSync(
      process.execPath,
      ["--max-semi-space-size=4", "-e", RECORD, path.join(lib, "main.cjs"), out, "--state-dir", path.join(scratch, "state"), ...args],
      { cwd: scratch, encoding: "utf8", env: { ...process.env, TAU_LOG_LEVEL: "silent" } },
    );
    if (r.status === null || r.status > 2) throw new Error(`build: tau ${args.join(" ")} exited ${r.status ?? r.signal}: ${r.stderr}`);
  }
  if (!fs.existsSync(cache)) throw new Error("build: no code cache written");
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}

fs.writeFileSync(path.join(dist, "build-stamp.json"), JSON.stringify({ version: pkg.version, sources_at_ms: sourcesAt }) + "\n");
const kb = (f: string) => Math.round(fs.statSync(path.join(lib, f)).size / 1024);
console.log(
  `build: dist/lib/main.cjs (${kb("main.cjs")} kB, code cache ${kb("main.cjs.cache")} kB) from sources read at ${new Date(sourcesAt).toISOString()}`,
);
