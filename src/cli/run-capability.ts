/**
 * @module Run a capability from the CLI: the local user is `admin` but still confirms side effects with `--yes`
 * (or by typing `yes` on stdin); `two_person` capabilities become an approval request another principal approves.
 */
import os from "node:os";
import readline from "node:readline";
import type { CapabilityResult } from "../capabilities/capability.ts";
import type { AnyCapability } from "../capabilities/registry.ts";
import type { Services } from "../capabilities/services.ts";
import { APPROVAL_TTL_MS, executeCapability, requestApproval } from "../capabilities/execute.ts";

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

interface CliRunOptions {
  yes: boolean;
  /** For tests and scripts that pipe input; defaults to reading stdin. */
  confirm?: (question: string) => Promise<boolean>;
}

/** Run with confirmation and audit; returns the capability's result (or a refusal as a failed result). */
export async function runCapabilityCli(
  services: Services,
  cap: AnyCapability,
  args: Record<string, unknown>,
  opts: CliRunOptions,
): Promise<CapabilityResult> {
  const principal = cliPrincipal();
  const now = services.clock();
  if (cap.approval === "two_person") {
    const nonce = Buffer.from(services.randomBytes(8)).toString("hex");
    const { id, hash } = requestApproval(services, {
      cap,
      args,
      principal,
      role: "admin",
      surface: "cli",
      replyTarget: null,
      now,
      seed: `${principal}\u0000${cap.id}\u0000${now}\u0000${nonce}`,
    });
    return {
      status: "reported",
      reason_code: "approval_requested",
      text: `${cap.id} needs a second person: another operator runs \`tau approvals approve ${id}\` or \`${services.config.commands.prefix} approve ${id} ${hash.slice(0, 8)}\` within ${APPROVAL_TTL_MS / 60_000} minutes.`,
      data: { approval_id: id, args_hash: hash },
    };
  }
  if (cap.sideEffect !== "read" || cap.approval === "confirm") {
    const ok = opts.yes || (await (opts.confirm ?? confirmOnStdin)(`${cap.id} has side effect "${cap.sideEffect}".`));
    if (!ok) {
      services.audit({
        actor: principal,
        surface: "cli",
        action: "command",
        target: cap.id,
        args,
        outcome: "refused",
        reason_code: "command_not_confirmed",
      });
      return { status: "failed", reason_code: "command_not_confirmed", text: `Not confirmed: pass --yes or type "yes" to run ${cap.id}.` };
    }
  }
  return executeCapability(cap, args, { principal, role: "admin", surface: "cli", now, services, origin: null });
}
