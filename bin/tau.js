#!/usr/bin/env node
// The `tau` executable: runs the TypeScript CLI through tsx, so a fresh checkout needs no build step.
import { register } from "tsx/esm/api";
register();
const { runCli } = await import("../src/cli/main.ts");
process.exitCode = await runCli(process.argv);
