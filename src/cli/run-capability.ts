/**
 * @module Run a capability from the CLI — `tau cap run` and every dedicated command (`tau allowlist add`, `tau
 * killswitch on`, `tau pairing approve`, `tau approvals approve` …) — through the one confirmation model of
 * `gateFor`: `none` runs (a `--yes` is accepted and changes nothing), `confirm` needs `--yes` or a y/N answer at a
 * terminal (without either it is a usage error, exit 2), `two_person` records an approval request that a different
 * principal approves. The caller is the OS user (`cli:<user>`, admin) or `--as <principal>` listed in rbac.yaml.
 */
import os from "node:os";
import readline from "node:readline";
import type { Command } from "commander";
import type { Role } from "../contracts/decision.ts";
import { TauError } from "../contracts/errors.ts";
import type { FlagValue } from "../capabilities/args.ts";
import type { CapabilityResult } from "../capabilities/capability.ts";
import type { AnyCapability } from "../capabilities/registry.ts";
import type { Services } from "../capabilities/services.ts";
import { APPROVAL_TTL_MS, authorize, executeCapability, gateFor, requestApproval, validateArgs } from "../capabilities/execute.ts";
import { globals } from "./context.ts";
import { servicesFor } from "./services-for.ts";
import { emit } from "./output.ts";

/** `cli:<os user>`: who ran a local command when no `--as` is given. */
export function cliPrincipal(): string {
  let user = "local";
  try {
    user = os.userInfo().username || "local";
  } catch {
    user = "local";
  }
  return `cli:${user}`;
}

/** Who runs a CLI command, with which role, and why that role. */
export interface CliCaller {
  principal: string;
  role: Role;
  matched_by: "os_user" | "rbac.admins" | "rbac.operators";
}

/**
 * The caller: the OS user is the local admin (shell access to the state is admin access); `--as <principal>` names
 * another principal, which must be listed under `admins` or `operators` in policies/rbac.yaml and gets that role.
 * `--as` is accountability between operators sharing a host (who approves a two-person request), not authentication.
 */
export function resolveCaller(services: Pick<Services, "policies">, as: string | undefined): CliCaller {
  const self = cliPrincipal();
  if (as === undefined || as === self) return { principal: self, role: "admin", matched_by: "os_user" };
  const rbac = services.policies.current()?.rbac;
  if (!rbac)
    throw new TauError("USAGE_PRINCIPAL_UNKNOWN", `--as ${as}: no valid policies/rbac.yaml is loaded, so no principal can be checked`, {
      hint: "fix the policy files (`tau policy check`), or leave out --as to act as " + self,
    });
  if (rbac.admins.includes(as)) return { principal: as, role: "admin", matched_by: "rbac.admins" };
  if (rbac.operators.includes(as)) return { principal: as, role: "operator", matched_by: "rbac.operators" };
  throw new TauError("USAGE_PRINCIPAL_UNKNOWN", `--as ${as}: not listed under admins or operators in policies/rbac.yaml`, {
    hint: `add "${as}" to admins: (or operators:) in policies/rbac.yaml, e.g. cli:<os user> for a second local operator`,
  });
}

/** Ask `question [y/N]` on a terminal; true only for y/yes. Streams are arguments so tests can drive a fake TTY. */
export async function confirmOnTty(
  question: string,
  io: { input: NodeJS.ReadableStream; output: NodeJS.WritableStream } = { input: process.stdin, output: process.stderr },
): Promise<boolean> {
  const rl = readline.createInterface({ input: io.input, output: io.output, terminal: false });
  try {
    io.output.write(`${question} [y/N] `);
    const answer = await new Promise<string>((resolve) => {
      rl.once("line", resolve);
      rl.once("close", () => resolve(""));
    });
    return /^(y|yes)$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/**
 * Ask for `yes` on stdin (a TTY prompt, or a piped line). Kept for `tau deadletter replay`, which is not a
 * capability; capability commands use `confirmOnTty` and refuse piped answers.
 */
export async function confirmOnStdin(question: string): Promise<boolean> {
  if (process.stdin.isTTY) process.stderr.write(`${question} Type "yes" to continue: `);
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  try {
    for await (const line of rl) return line.trim().toLowerCase() === "yes";
    return false;
  } finally {
    rl.close();
  }
}

export interface CliRunOptions {
  /** `--yes`: confirms a `confirm` capability; accepted and ignored for the others. */
  yes: boolean;
  /** `--as <principal>`; the OS user when absent. */
  as?: string;
  /** Answer a confirmation (tests, scripts); by default a terminal prompt, and a usage error without a terminal. */
  confirm?: (question: string) => Promise<boolean>;
}

/** `tau approvals approve <id> <hash> --as <another principal>` (or chat), as the request's reply tells it. */
function approvalText(services: Services, cap: AnyCapability, caller: CliCaller, id: string, hash: string): string {
  const minutes = APPROVAL_TTL_MS / 60_000;
  const prefix = services.config.commands.prefix;
  return [
    `${cap.id} needs a second person (two_person): recorded as ${id}, requested by ${caller.principal}.`,
    `Another operator approves it within ${minutes} minutes:`,
    `  tau approvals approve ${id} ${hash.slice(0, 8)} --as cli:<their user>   (listed in policies/rbac.yaml; not ${caller.principal})`,
    `  ${prefix} approve ${id} ${hash.slice(0, 8)}   (in chat)`,
  ].join("\n");
}

/** Validate nothing (the caller did), check RBAC, pass the gate, run and audit. Refusals are failed results. */
export async function runCapabilityCli(
  services: Services,
  cap: AnyCapability,
  args: Record<string, unknown>,
  opts: CliRunOptions,
): Promise<CapabilityResult> {
  const caller = resolveCaller(services, opts.as);
  const now = services.clock();
  const refuse = (reason_code: string, text: string): CapabilityResult => {
    services.audit({ actor: caller.principal, surface: "cli", action: "command", target: cap.id, args, outcome: "refused", reason_code });
    return { status: "failed", reason_code, text };
  };
  const rbac = services.policies.current()?.rbac;
  if (caller.matched_by !== "os_user") {
    const d = rbac ? authorize(cap, caller.role, rbac) : null;
    if (!d || d.outcome === "deny")
      return refuse(
        "command_rbac_denied",
        `${caller.principal} is ${caller.role}; ${cap.id} needs ${String(d?.detail?.need ?? cap.role)}.`,
      );
  }
  const gate = gateFor(cap, "cli");
  if (gate === "request_approval") {
    const nonce = Buffer.from(services.randomBytes(8)).toString("hex");
    const { id, hash, expires_at_ms } = requestApproval(services, {
      cap,
      args,
      principal: caller.principal,
      role: caller.role,
      surface: "cli",
      replyTarget: null,
      now,
      seed: `${caller.principal}\u0000${cap.id}\u0000${now}\u0000${nonce}`,
    });
    return {
      status: "reported",
      reason_code: "approval_requested",
      text: approvalText(services, cap, caller, id, hash),
      data: { approval_id: id, args_hash: hash, requester: caller.principal, expires_at_ms },
    };
  }
  if (gate === "confirm" && !opts.yes) {
    const ask = opts.confirm ?? (process.stdin.isTTY ? confirmOnTty : null);
    if (!ask)
      throw new TauError(
        "USAGE_CONFIRM_REQUIRED",
        `${cap.id} asks for confirmation (approval: confirm) and stdin is not a terminal: pass --yes to run it`,
        { hint: "add --yes to the command, or run it at a terminal to be asked" },
      );
    if (!(await ask(`Run ${cap.id} (${cap.sideEffect}) as ${caller.principal}?`)))
      return refuse("command_not_confirmed", `Not confirmed: ${cap.id} did not run (answer y, or pass --yes).`);
  }
  return executeCapability(cap, args, { principal: caller.principal, role: caller.role, surface: "cli", now, services, origin: null });
}

/** Print a capability result; a failed result sets exit code 1. */
export function printResult(json: boolean | undefined, result: CapabilityResult): void {
  emit(json, result, () => `${result.text}\n(${result.status}, ${result.reason_code})`);
  if (result.status === "failed") process.exitCode = 1;
}

/** `--yes` and `--as` on a command that runs a capability (every such command takes both). */
export function withRunOptions(cmd: Command): Command {
  return cmd
    .option("--yes", "confirm a capability that asks (approval: confirm); accepted and ignored otherwise")
    .option("--as <principal>", "act as this principal (listed in policies/rbac.yaml), e.g. cli:alice; default cli:<os user>");
}

/** A dedicated command's run: words and flags → validated arguments → the shared path → printed (or `render`ed). */
export async function runNamedCapability(
  cmd: Command,
  capabilityId: string,
  words: readonly string[],
  flags: Record<string, FlagValue>,
  o: { yes?: boolean; as?: string },
  render?: (result: CapabilityResult, services: Services) => { json: unknown; human: string } | null,
): Promise<void> {
  const { app, services } = servicesFor(cmd);
  try {
    const cap = services.registry.get(capabilityId);
    if (!cap) throw new TauError("USAGE_CAPABILITY_UNKNOWN", `unknown capability "${capabilityId}"`, { hint: "see `tau cap list`" });
    const args = validateArgs(cap, words, flags);
    if (!args.ok) throw new TauError("USAGE_ARGS_INVALID", `${capabilityId}: ${args.detail} (reason command_args_invalid)`);
    const result = await runCapabilityCli(services, cap, args.args, { yes: o.yes ?? false, as: o.as });
    const custom = render?.(result, services) ?? null;
    if (!custom) return printResult(globals(cmd).json, result);
    emit(globals(cmd).json, custom.json, () => custom.human);
    if (result.status === "failed") process.exitCode = 1;
  } finally {
    app.close();
  }
}
