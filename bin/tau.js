#!/usr/bin/env -S node --max-semi-space-size=4
// The `tau` executable: runs the TypeScript CLI through tsx, so a fresh checkout needs no build step.
// --max-semi-space-size=4 (MB): a smaller young generation. The runner allocates in short-lived bursts per batch;
// with V8's default 16 MB semi-spaces peak RSS over 100,000 events is ~225 MB, with 4 MB ~185 MB, same speed
// (scripts/bench-core.ts run-runner). `npm run tau` passes the same flag.
import { register } from "tsx/esm/api";
register();
const { runCli } = await import("../src/cli/main.ts");
process.exitCode = await runCli(process.argv);
