/**
 * @module The `tau` CLI (commander). Thin: parse arguments, call into src/, print. Every command takes
 * `--state-dir` (env TAU_STATE_DIR, default ./state) and `--config` (default ./tau.yaml).
 *
 * Start-up: the commands are listed in {@link COMMANDS} (name, help line, loader). Only the module of the command being
 * run is imported; the others are registered as light stubs from the table, so `tau --help`, `tau --version` and
 * `tau health` do not load every command module (scripts/bench-startup.ts measures it).
 */
import { Command, CommanderError } from "commander";
import { readProcessEnv } from "../config/env.ts";
import { packageInfo } from "../app/package-info.ts";
import { guardStopSignals } from "./shutdown.ts";
import { registerGlobalOptions } from "./global-options.ts";

/** Registers one or more top-level commands on the program (the `registerX` function of a src/cli module). */
type Register = (program: Command) => void;

/** One top-level command: what `tau --help` shows without loading it, and how to load it. */
export interface CommandEntry {
  /** The command word (`tau <name>`). */
  name: string;
  /** Positional arguments as shown in the help list, e.g. `<file>`. */
  args?: string;
  /** The help line. */
  description: string;
  /** Import the module and return its register function (which may register sibling commands too). */
  load: () => Promise<Register>;
}

/**
 * Every top-level command, in help order. To add one: append `{ name, description, load: async () => (await
 * import("./x.ts")).registerX }`. A module that registers several commands (observe: health, status, events, traces)
 * has one row per command, each with the same loader. test/ship/cli-lazy.test.ts checks the table against the modules.
 */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: "init",
    description: "write a starter tau.yaml and policies/ with secure defaults",
    load: async () => (await import("./init.ts")).registerInit,
  },
  {
    name: "ingest",
    args: "<file>",
    description: "normalize a raw provider payload file (object, array, NDJSON, getUpdates response, WhatsApp webhook body) into ingress",
    load: async () => (await import("./ingest.ts")).registerIngest,
  },
  {
    name: "process",
    description: "consume ingress exactly once: decide, queue replies, deliver (runs until SIGTERM/SIGINT)",
    load: async () => (await import("./process.ts")).registerProcess,
  },
  { name: "health", description: "healthy / degraded / failing with reason codes; exit 0 / 1 / 2", load: () => loadObserve() },
  {
    name: "status",
    description: "rollout gate (pass only when healthy), counters, runner state, outbound mode",
    load: () => loadObserve(),
  },
  {
    name: "events",
    description: "runtime events (one per runner cycle that did something, plus lifecycle events)",
    load: () => loadObserve(),
  },
  { name: "traces", description: "route traces: one record per processed event with its decisions and outcome", load: () => loadObserve() },
  {
    name: "connectors",
    description: "inbound connectors (they only write ingress)",
    load: async () => (await import("./connectors.ts")).registerConnectors,
  },
  {
    name: "run",
    description: "the service: enabled connectors + webhook server + runner; SIGTERM/SIGINT drain and exit, SIGHUP reloads policies",
    load: async () => (await import("./run.ts")).registerRun,
  },
  {
    name: "replay",
    args: "<fixture...>",
    description: "replay a scenario fixture end to end in a temporary state (dry-run outbound by default)",
    load: async () => (await import("./replay.ts")).registerReplay,
  },
  { name: "route", description: "routing tools", load: async () => (await import("./route.ts")).registerRoute },
  {
    name: "policy",
    description: "the configuration: policy files, communications contracts, responders, tau.yaml",
    load: async () => (await import("./policy.ts")).registerPolicy,
  },
  { name: "allowlist", description: "actors admitted by stable id (allowlisted actors are operators)", load: () => loadAccess() },
  { name: "pairing", description: "one-time pairing codes for unknown DM actors", load: () => loadAccess() },
  { name: "approvals", description: "pending approval requests (confirm / two_person)", load: () => loadApprovals() },
  { name: "audit", description: "the append-only, hash-chained audit log", load: () => loadApprovals() },
  { name: "cap", description: "capabilities: the operations chat commands run", load: async () => (await import("./cap.ts")).registerCap },
  {
    name: "killswitch",
    description: "kill switches (outbound, responders, transport:<name>)",
    load: async () => (await import("./killswitch.ts")).registerKillswitch,
  },
  {
    name: "channel",
    description: "per-transport lifecycle: login, logout, status, probe",
    load: async () => (await import("./channel.ts")).registerChannel,
  },
  {
    name: "preflight",
    description: "readiness gate over enabled transports: key:code lines, non-zero exit on any failure",
    load: async () => (await import("./preflight.ts")).registerPreflight,
  },
  {
    name: "secrets",
    description: "integration store: credentials by id (env variables take precedence)",
    load: async () => (await import("./secrets.ts")).registerSecrets,
  },
  {
    name: "deadletter",
    description: "undelivered replies: ambiguous (unknown) sends, dead letters, failures",
    load: async () => (await import("./deadletter.ts")).registerDeadletter,
  },
  {
    name: "incident",
    description: "incident records: the runbook's evidence for every intervention",
    load: async () => (await import("./incident.ts")).registerIncident,
  },
  {
    name: "export",
    description:
      "NDJSON views for a time window: events, traces, deliveries, audit, incidents, alerts (stdout, or one file per view with --out)",
    load: async () => (await import("./export.ts")).registerExport,
  },
  { name: "media", description: "media understanding records", load: async () => (await import("./media.ts")).registerMedia },
  {
    name: "logs",
    description: "log lines of tau run / process / connectors run (state/logs/tau.ndjson), oldest first",
    load: async () => (await import("./logs.ts")).registerLogs,
  },
  {
    name: "doctor",
    description: "check connectors, policy, responders, communications and state in one report; exit 0 ok / 1 warnings / 2 failing",
    load: async () => (await import("./doctor.ts")).registerDoctor,
  },
  {
    name: "config",
    description: "the configuration tau runs with",
    load: async () => (await import("./config-show.ts")).registerConfigShow,
  },
  {
    name: "completion",
    args: "<shell>",
    description: "print a shell completion script: tau completion bash|zsh|fish",
    load: async () => (await import("./completion.ts")).registerCompletion,
  },
  {
    name: "ui",
    description: "the web control page: tau ui login --as <principal> prints a one-time sign-in link",
    load: async () => (await import("./ui.ts")).registerUi,
  },
  {
    name: "backup",
    args: "<file>",
    description: "copy the state database to <file> with SQLite's online backup (safe while the service runs)",
    load: () => loadBackup(),
  },
  {
    name: "restore",
    args: "<file>",
    description: "replace the state database with a backup (refused while a runner holds the state; keeps the old file)",
    load: () => loadBackup(),
  },
];

async function loadObserve(): Promise<Register> {
  return (await import("./observe.ts")).registerObserve;
}
async function loadAccess(): Promise<Register> {
  return (await import("./access.ts")).registerAccess;
}
async function loadApprovals(): Promise<Register> {
  return (await import("./approvals.ts")).registerApprovals;
}
async function loadBackup(): Promise<Register> {
  return (await import("./backup.ts")).registerBackup;
}

/** The root program: global options, version, no commands yet. */
function rootProgram(): Command {
  const env = readProcessEnv();
  return new Command("tau")
    .description("tau — chat-ops for Telegram, Discord, WhatsApp and email")
    .version(packageInfo().version, "-V, --version", "print the tau version")
    .option("--state-dir <dir>", "state folder (env TAU_STATE_DIR)", env.TAU_STATE_DIR ?? "./state")
    .option("--config <file>", "config file", "./tau.yaml")
    .showHelpAfterError()
    .exitOverride();
}

/**
 * The command word in `argv` (node, script, …args): the first operand that is not a global option or its value;
 * for `tau help <command>`, that command. Value-taking global options are read from the program itself, so a global
 * option added later (`--log-format <fmt>`) is skipped with its value.
 */
export function invokedCommand(program: Command, argv: readonly string[]): string | undefined {
  const takesValue = new Set(
    program.options.filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short].filter((f): f is string => !!f)),
  );
  const args = argv.slice(2);
  let helpSeen = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") return args[i + 1];
    if (takesValue.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith("-")) continue;
    if (a === "help" && !helpSeen) {
      helpSeen = true;
      continue;
    }
    return a;
  }
  return undefined;
}

/** A help-only stand-in for a command that is not loaded in this process (never run: the invoked command is loaded). */
function addStub(program: Command, entry: CommandEntry): void {
  const stub = program.command(entry.name).description(entry.description);
  if (entry.args) stub.arguments(entry.args);
}

/**
 * Build the program. With `argv`, only the invoked command's module is loaded and every other command is a stub
 * from {@link COMMANDS} (what `bin/tau.js` does); without it, every command is loaded (tests run commands in-process).
 */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const program = rootProgram();
  registerGlobalOptions(program);
  const has = (name: string) => program.commands.some((c) => c.name() === name);
  if (argv) {
    const wanted = COMMANDS.find((c) => c.name === invokedCommand(program, argv));
    // The invoked module first: it may register sibling commands, which then need no stub.
    if (wanted) (await wanted.load())(program);
    for (const entry of COMMANDS) if (!has(entry.name)) addStub(program, entry);
    return program;
  }
  for (const entry of COMMANDS) if (!has(entry.name)) (await entry.load())(program);
  return program;
}

/** Run the CLI over `argv` (node, script, …args); resolves with the exit code. The executable's entry (bin/tau.js). */
export async function runCli(argv: string[]): Promise<number> {
  guardStopSignals();
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const { reportError } = await import("./output.ts");
    return reportError(err, argv.includes("--json"));
  }
}
