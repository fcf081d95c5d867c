// Test preload (test/ship/loaded-modules.ts): the bundled CLI calls `globalThis.__tauModuleProbe?.("src/x.ts")` as
// each of our modules starts (scripts/build.ts); this defines it to append each path, one a line, to the file named by
// TAUTEST_MODULE_PROBE. Without the preload the calls are no-ops.
import fs from "node:fs";

const out = process.env.TAUTEST_MODULE_PROBE;
if (out) globalThis.__tauModuleProbe = (m) => fs.appendFileSync(out, `${m}\n`);
