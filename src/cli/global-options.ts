/**
 * @module What every command shares before its action runs: the `--log-format` option, the log file of the
 * long-running commands (`state/logs/tau.ndjson`, read by `tau logs`), and a warning for each `TAU_*` environment
 * variable tau does not read (a misspelt override would otherwise be ignored without a word).
 */
import path from "node:path";
import { Option, type Command } from "commander";
import type { LogFormat } from "../log.ts";

/** The commands that run for a long time and keep a log file: the service, the runner, the connectors. */
const LOGGING_COMMANDS = new Set(["run", "process", "connectors run"]);

/** The log file inside a state folder. */
export function logFileOf(stateDir: string): string {
  return path.join(path.resolve(stateDir), "logs", "tau.ndjson");
}

/** "connectors run" for `tau connectors run`. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** Add the global `--log-format` option and the pre-action hook (log output, unknown `TAU_*` warnings). */
export function registerGlobalOptions(program: Command): void {
  program.addOption(
    new Option(
      "--log-format <format>",
      "stderr logs: auto (human at a terminal, else NDJSON), json or pretty (env TAU_LOG_FORMAT)",
    ).choices(["auto", "json", "pretty"]),
  );
  // The hook runs only before a command's action (not for --help or --version), and imports what it needs then, so
  // neither zod nor pino is loaded by `tau --help`.
  program.hook("preAction", async (_root, action) => {
    const [{ readProcessEnv, TauConfigSchema, unknownTauEnv }, { configureLogOutput }] = await Promise.all([
      import("../config/index.ts"),
      import("../log.ts"),
    ]);
    const env = readProcessEnv();
    const g = action.optsWithGlobals() as { logFormat?: LogFormat; stateDir?: string };
    configureLogOutput({
      format: g.logFormat,
      file: LOGGING_COMMANDS.has(commandPath(action)) && g.stateDir ? logFileOf(g.stateDir) : null,
      color: process.stderr.isTTY === true && env.NO_COLOR === undefined,
    });
    for (const u of unknownTauEnv(env, TauConfigSchema))
      process.stderr.write(
        `tau: warning: ${u.name} is not a tau setting and is ignored${u.suggestion ? ` (did you mean ${u.suggestion}?)` : ""}\n`,
      );
  });
}
