/**
 * @module `npm run build`: compile src/ and connectors/ to dist/ with tsc (tsconfig.build.json: `.ts` import
 * specifiers rewritten to `.js`), copy the SQL migrations the store reads at run time, and stamp the build with the
 * time its sources were read. bin/tau.js runs dist/ when the stamp is newer than every source file, and the
 * TypeScript sources through tsx otherwise; a build with type errors writes no stamp, so it is never run.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");
/** Read before tsc reads the sources: a file saved during the build is newer than the stamp, so the build is stale. */
const sourcesAt = Date.now();

fs.rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const r = spawnSync(process.execPath, [tsc, "-p", path.join(root, "tsconfig.build.json")], { cwd: root, stdio: "inherit" });
// The store lists and reads migrations from the folder beside its module (src/store/db.ts), in dist/ as in src/.
fs.cpSync(path.join(root, "src/store/migrations"), path.join(dist, "src/store/migrations"), { recursive: true });
if (r.status !== 0) {
  process.stderr.write(`build: tsc exited ${r.status ?? r.signal}; dist/ is not stamped, so bin/tau.js keeps running the sources\n`);
  process.exit(1);
}
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { version: string };
fs.writeFileSync(path.join(dist, "build-stamp.json"), JSON.stringify({ version: pkg.version, sources_at_ms: sourcesAt }) + "\n");
const files = (dir: string): number =>
  fs.readdirSync(dir, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? files(path.join(dir, e.name)) : 1), 0);
console.log(`build: dist/ (${files(dist)} files) from sources read at ${new Date(sourcesAt).toISOString()}`);
