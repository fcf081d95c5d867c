/** @module `tau cap list` and `tau cap run <capability> [--arg k=v …] [--yes]`: the registry chat uses, from a shell. */
import type { Command } from "commander";
import { TauError } from "../contracts/errors.ts";
import { validateArgs } from "../capabilities/execute.ts";
import type { CapabilityResult } from "../capabilities/capability.ts";
import { globals, servicesFor } from "./context.ts";
import { emit, table } from "./output.ts";
import { runCapabilityCli } from "./run-capability.ts";

const collect = (v: string, prev: string[]) => [...prev, v];

/** Print a capability result; failed results set exit code 1. */
export function printResult(json: boolean | undefined, result: CapabilityResult): void {
  emit(json, result, () => `${result.text}\n(${result.status}, ${result.reason_code})`);
  if (result.status === "failed") process.exitCode = 1;
}

export function registerCap(program: Command): void {
  const cap = program.command("cap").description("capabilities: the operations chat commands run");
  cap
    .command("list")
    .description("every capability with its chat alias, role, side effect and approval")
    .option("--json", "machine-readable")
    .action((_o, cmd: Command) => {
      const { app, services } = servicesFor(cmd);
      try {
        const caps = services.registry.list().map((c) => ({
          id: c.id,
          chat: `${services.config.commands.prefix} ${c.alias.join(" ")}`,
          summary: c.summary,
          role: c.role,
          side_effect: c.sideEffect,
          approval: c.approval,
          positional: c.positional ?? [],
        }));
        emit(globals(cmd).json, caps, () =>
          table([["id", "chat", "role", "effect", "approval"], ...caps.map((c) => [c.id, c.chat, c.role, c.side_effect, c.approval])]),
        );
      } finally {
        app.close();
      }
    });
  cap
    .command("run")
    .description("run a capability as the local admin (side effects need --yes or `yes` on stdin)")
    .argument("<capability>", "capability id, e.g. tau.status")
    .argument("[words...]", "positional arguments, as in chat")
    .option("--arg <k=v>", "an argument (repeatable)", collect, [])
    .option("--yes", "confirm side effects")
    .option("--json", "machine-readable")
    .action(async (id: string, words: string[], o: { arg: string[]; yes?: boolean }, cmd: Command) => {
      const { app, services } = servicesFor(cmd);
      try {
        const c = services.registry.get(id);
        if (!c)
          throw new TauError("USAGE_CAPABILITY_UNKNOWN", `unknown capability "${id}" (reason command_unknown)`, {
            hint: "see `tau cap list`",
          });
        const flags: Record<string, string | true> = {};
        for (const kv of o.arg) {
          const eq = kv.indexOf("=");
          if (eq <= 0) throw new TauError("USAGE_BAD_ARG", `--arg ${kv}: expected key=value`);
          flags[kv.slice(0, eq)] = kv.slice(eq + 1);
        }
        const args = validateArgs(c, words, flags);
        if (!args.ok) throw new TauError("USAGE_ARGS_INVALID", `${id}: ${args.detail} (reason command_args_invalid)`);
        printResult(globals(cmd).json, await runCapabilityCli(services, c, args.args, { yes: o.yes ?? false }));
      } finally {
        app.close();
      }
    });
}
