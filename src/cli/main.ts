#!/usr/bin/env node
/**
 * @module The `tau` CLI (commander). Thin: parse arguments, call into src/, print. Every command takes
 * `--state-dir` (env TAU_STATE_DIR, default ./state) and `--config` (default ./tau.yaml).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";
import { readProcessEnv } from "../config/index.ts";
import { registerIngest } from "./ingest.ts";
import { registerInit } from "./init.ts";
import { registerObserve } from "./observe.ts";
import { registerProcess } from "./process.ts";
import { reportError } from "./output.ts";
import { registerCap } from "./cap.ts";
import { registerAccess } from "./access.ts";
import { registerApprovals } from "./approvals.ts";
import { registerPolicy } from "./policy.ts";
import { registerRoute } from "./route.ts";
import { registerReplay } from "./replay.ts";
import { registerKillswitch } from "./killswitch.ts";
import { registerChannel } from "./channel.ts";
import { registerPreflight } from "./preflight.ts";
import { registerSecrets } from "./secrets.ts";
import { registerDeadletter } from "./deadletter.ts";
import { registerConnectors } from "./connectors.ts";
import { registerRun } from "./run.ts";
import { registerIncident } from "./incident.ts";
import { registerExport } from "./export.ts";
import { registerMedia } from "./media.ts";

/** Build the program; exported so tests can run commands in-process. */
export function buildProgram(): Command {
  const env = readProcessEnv();
  const program = new Command("tau")
    .description("tau — chat-ops for Telegram, Discord, WhatsApp and email")
    .option("--state-dir <dir>", "state folder (env TAU_STATE_DIR)", env.TAU_STATE_DIR ?? "./state")
    .option("--config <file>", "config file", "./tau.yaml")
    .showHelpAfterError()
    .exitOverride();
  registerInit(program);
  registerIngest(program);
  registerProcess(program);
  registerObserve(program);
  registerConnectors(program);
  registerRun(program);
  registerReplay(program);
  registerRoute(program);
  registerPolicy(program);
  registerAccess(program);
  registerApprovals(program);
  registerCap(program);
  registerKillswitch(program);
  registerChannel(program);
  registerPreflight(program);
  registerSecrets(program);
  registerDeadletter(program);
  registerIncident(program);
  registerExport(program);
  registerMedia(program);
  return program;
}

export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const json = argv.includes("--json");
    return reportError(err, json);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runCli(process.argv).then((code) => {
    process.exitCode = code;
  });
}
