/**
 * @module `tau cap list` and `tau cap run <capability> [words…] [--<arg> …] [--yes] [--as P]`: the registry chat
 * uses, from a shell. Each capability's arguments are flags generated from its zod schema (`--write`, `--top 5`,
 * `--preview-id pv_…`; `tau cap run <id> --help` lists them); `--arg k=v` is kept as a deprecated alias.
 */
import { Command, CommanderError, type Option } from "commander";
import { createRegistry } from "../app/index.ts";
import { TauError } from "../contracts/errors.ts";
import { argSpecs, numberRange, type ArgSpec, type FlagValue } from "../capabilities/args.ts";
import type { AnyCapability } from "../capabilities/registry.ts";
import { globals } from "./context.ts";
import { servicesFor } from "./services-for.ts";
import { emit, table } from "./output.ts";
import { printResult, runNamedCapability, withRunOptions } from "./run-capability.ts";

export { printResult };

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

/** Options every `cap run` has; a capability argument with one of these names is reachable through `--arg` only. */
const RESERVED = new Set(["--yes", "--as", "--json", "--arg", "--help", "--state-dir", "--config"]);

/** Help text for one argument flag: its type, bounds or choices, default, and the word that can fill it. */
function describeArg(s: ArgSpec): string {
  const what =
    s.kind === "boolean"
      ? "switch"
      : s.kind === "number"
        ? `${s.integer ? "whole " : ""}number${numberRange(s)}`
        : s.kind === "enum"
          ? `one of ${s.choices!.join(", ")}`
          : s.kind === "list"
            ? "repeatable"
            : "text";
  const extra = [
    s.required ? "required" : null,
    s.default !== undefined && s.default !== false && s.default !== "" ? `default ${String(s.default)}` : null,
    s.position !== null ? `or positional word ${s.position + 1}` : null,
  ].filter(Boolean);
  return `${what}${extra.length ? ` (${extra.join("; ")})` : ""}`;
}

/** The flag's commander spelling: `--write`, `--top <n>`, `--field <choice>`, `--var <value>`. */
function optionFlags(s: ArgSpec): string {
  if (s.kind === "boolean") return s.flag;
  return `${s.flag} <${s.kind === "number" ? "n" : s.kind === "enum" ? "choice" : "value"}>`;
}

/** A parser for one capability: its positional words, its argument flags, and the run options. */
function capabilityCommand(c: AnyCapability): { command: Command; specs: { spec: ArgSpec; option: Option }[] } {
  const command = new Command(`tau cap run ${c.id}`)
    .description(`${c.summary}\n(role ${c.role}, side effect ${c.sideEffect}, approval ${c.approval}; in chat: ${c.alias.join(" ")})`)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined })
    .action(() => undefined);
  const positional = c.positional ?? [];
  positional.forEach((name, i) => command.argument(i === positional.length - 1 ? `[${name}...]` : `[${name}]`));
  const specs: { spec: ArgSpec; option: Option }[] = [];
  for (const s of argSpecs(c)) {
    if (RESERVED.has(s.flag)) continue;
    if (s.kind === "list") command.option(optionFlags(s), describeArg(s), collect);
    else command.option(optionFlags(s), describeArg(s));
    specs.push({ spec: s, option: command.options.at(-1)! });
  }
  withRunOptions(command)
    .option("--arg <k=v>", "an argument as key=value, repeatable (deprecated: use the flags above)", collect)
    .option("--json", "machine-readable");
  return { command, specs };
}

/** Parse `rest` for capability `c`: words, argument flags (by schema name as typed) and the run options. */
function parseCapabilityArgs(c: AnyCapability, rest: string[]) {
  const { command, specs } = capabilityCommand(c);
  try {
    command.parse(rest, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError && (err.code === "commander.helpDisplayed" || err.code === "commander.help")) return null;
    if (err instanceof CommanderError)
      throw new TauError("USAGE_FLAG", `${c.id}: ${err.message.replace(/^error: /, "")}`, { hint: `see tau cap run ${c.id} --help` });
    throw err;
  }
  const o = command.opts<{ arg?: string[]; yes?: boolean; as?: string; json?: boolean }>();
  const flags: Record<string, FlagValue> = {};
  for (const { spec, option } of specs) {
    const v = o[option.attributeName() as keyof typeof o] as FlagValue | undefined;
    if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    flags[spec.flag.slice(2)] = v;
  }
  for (const kv of o.arg ?? []) {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw new TauError("USAGE_BAD_ARG", `--arg ${kv}: expected key=value`);
    const key = kv.slice(0, eq).replace(/_/g, "-");
    if (key in flags) throw new TauError("USAGE_BAD_ARG", `--arg ${kv}: --${key} is given twice`);
    flags[key] = kv.slice(eq + 1);
  }
  return { words: command.args, flags, yes: o.yes, as: o.as, json: o.json };
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
    .description(
      "run a capability: positional words as in chat, its arguments as flags (`tau cap run <id> --help`); " +
        "approval none runs, confirm needs --yes (or y at a terminal), two_person records a request another principal approves",
    )
    .usage("<capability> [words…] [--<argument> value…] [--yes] [--as principal] [--json]")
    .argument("[capability]", "capability id, e.g. tau.status (see `tau cap list`)")
    .argument("[rest...]", "positional words and the capability's flags")
    .helpOption(false)
    .allowUnknownOption()
    .action(async (id: string | undefined, rest: string[], _o, cmd: Command) => {
      if (id === undefined || id === "--help" || id === "-h") return void cmd.outputHelp();
      const c = createRegistry().get(id);
      if (!c)
        throw new TauError("USAGE_CAPABILITY_UNKNOWN", `unknown capability "${id}" (reason command_unknown)`, {
          hint: "see `tau cap list`",
        });
      const parsed = parseCapabilityArgs(c, rest);
      if (!parsed) return;
      // `--json` after the capability id belongs to this parser; the shared printer reads it from the command.
      if (parsed.json) cmd.setOptionValue("json", true);
      await runNamedCapability(cmd, id, parsed.words, parsed.flags, { yes: parsed.yes, as: parsed.as });
    });
}
