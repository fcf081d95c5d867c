/**
 * @module The running package's name and version, from the nearest package.json above this module: the same answer
 * from the TypeScript sources (src/app/) and from the compiled build (dist/src/app/), which sit at different depths.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface PackageInfo {
  name: string;
  version: string;
}

let cached: PackageInfo | null = null;

/** `{ name, version }` of the package this file belongs to; `unknown` when no package.json is found (never throws). */
export function packageInfo(): PackageInfo {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, "package.json");
    try {
      const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { name?: unknown; version?: unknown };
      cached = {
        name: typeof pkg.name === "string" ? pkg.name : "unknown",
        version: typeof pkg.version === "string" ? pkg.version : "unknown",
      };
      return cached;
    } catch (err) {
      // Only a missing file means "look one folder up"; an unreadable or malformed one is the answer "unknown".
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") return (cached = { name: "unknown", version: "unknown" });
    }
    const up = path.dirname(dir);
    if (up === dir) return (cached = { name: "unknown", version: "unknown" });
    dir = up;
  }
}
