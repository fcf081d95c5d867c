/**
 * @module Run a capability from the CLI: the local user is `admin` but still confirms side effects with `--yes`
 * (or by typing `yes` on stdin); `two_person` capabilities become an approval request another principal approves.
 */
import os from "node:os";
import readline from "node:readline";
import { createHash } from "node:crypto";
import { argsHash } from "../capabilities/args.ts";
import type { CapabilityResult } from "../capabilities/capability.ts";
import type { AnyCapability } from "../capabilities/registry.ts";
import type { Services } from "../capabilities/services.ts";
import { createCommandStore } from "../store/index.ts";

/** `cli:<os user>`: who ran a local command, for audit and two-person checks. */
export function cliPrincipal(): string {
  let user = "local";
  try {
    user = os.userInfo().username || "local";
  } catch {
    user = "local";
  }
  return `cli:${user}`;
}

/** Ask for `yes` on stdin (a TTY prompt, or a piped line). */
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
  yes: boolean;
  /** For tests and scripts that pipe input; defaults to reading stdin. */
  confirm?: (question: string) => Promise<boolean>;
}

/** Run with confirmation and audit; returns the capability's result (or a refusal as a failed result). */
export async function runCapabilityCli(services: Services, cap: AnyCapability, args: Record<string, unknown>, opts: CliRunOptions): Promise<CapabilityResult> {
  const principal = cliPrincipal();
  const now = services.clock();
  if (cap.approval === "two_person") {
    const commands = services.store.commands;
    const id = "ap_" + createHash("sha256").update(`${principal}\u0000${cap.id}\u0000${now}\u0000${Buffer.from(services.randomBytes(8)).toString("hex")}`).digest("hex").slice(0, 10);
    const hash = argsHash(cap.id, args);
    services.db.transaction(() => {
      commands.insertApproval({
        id, capability_id: cap.id, command: cap.alias.join(" "), args: JSON.stringify(args), args_hash: hash, requester: principal, requester_role: "admin",
        surface: "cli", approval: "two_person", reply_target: null, created_at_ms: now, expires_at_ms: now + 10 * 60_000,
      });
      services.audit({ actor: principal, surface: "cli", action: "approval.request", target: cap.id, args: { id, ...args }, outcome: "pending", reason_code: "approval_requested" });
    })();
    return { status: "reported", reason_code: "approval_requested", text: `${cap.id} needs a second person: another operator runs \`tau approvals approve ${id}\` or \`${services.config.commands.prefix} approve ${id} ${hash.slice(0, 8)}\` within 10 minutes.`, data: { approval_id: id, args_hash: hash } };
  }
  if (cap.sideEffect !== "read" || cap.approval === "confirm") {
    const ok = opts.yes || (await (opts.confirm ?? confirmOnStdin)(`${cap.id} has side effect "${cap.sideEffect}".`));
    if (!ok) {
      services.audit({ actor: principal, surface: "cli", action: "command", target: cap.id, args, outcome: "refused", reason_code: "command_not_confirmed" });
      return { status: "failed", reason_code: "command_not_confirmed", text: `Not confirmed: pass --yes or type "yes" to run ${cap.id}.` };
    }
  }
  let result: CapabilityResult;
  try {
    result = await cap.run(args, { principal, role: "admin", surface: "cli", now, services, origin: null });
  } catch (err) {
    result = { status: "failed", reason_code: "command_execution_failed", text: `${cap.id} failed: ${(err as Error).message}` };
  }
  services.audit({ actor: principal, surface: "cli", action: "command", target: cap.id, args, outcome: result.status, reason_code: result.reason_code });
  return result;
}
