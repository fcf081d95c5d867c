/**
 * @module `tau allowlist list|add|remove` and `tau pairing list|approve|deny|revoke`: each runs its capability
 * through the shared CLI path, so it asks exactly what `tau cap run` and chat ask (allowlist add: a second person;
 * remove: --yes; pairing: nothing).
 */
import type { Command } from "commander";
import { actorKeyProblem } from "../capabilities/core/allowlist.ts";
import { TauError } from "../contracts/errors.ts";
import { runNamedCapability, withRunOptions } from "./run-capability.ts";
import { globals } from "./context.ts";
import { servicesFor } from "./services-for.ts";
import { emit, table } from "./output.ts";

/**
 * The allowlist capability's stable-id rule (PRODUCT.md §5), checked before anything runs so a username is a usage
 * error (exit 2) naming the argument, with the same sentence chat gives.
 */
function checkActorKey(key: string): void {
  const problem = actorKeyProblem(key);
  if (problem) {
    throw new TauError("USAGE_ACTOR_KEY", `<actor>: ${problem}`, {
      hint: "`/tau whoami` in the chat shows the sender's key; `tau traces --json` shows actor_id for messages already received",
    });
  }
}

export function registerAccess(program: Command): void {
  const allow = program.command("allowlist").description("actors admitted by stable id (allowlisted actors are operators)");
  allow
    .command("list")
    .option("--json", "machine-readable")
    .action((_o, cmd: Command) => {
      const { app, services } = servicesFor(cmd);
      try {
        const rows = services.store.access.listAllowlist();
        emit(globals(cmd).json, rows, () =>
          rows.length
            ? table([
                ["actor", "note", "added_by", "added_at"],
                ...rows.map((r) => [r.actor_key, r.note, r.added_by, new Date(r.added_at_ms).toISOString()]),
              ])
            : "allowlist is empty",
        );
      } finally {
        app.close();
      }
    });
  /** A command that runs a capability: `--yes`, `--as` and `--json`. */
  const runs = (c: Command) => withRunOptions(c).option("--json", "machine-readable");
  runs(
    allow
      .command("add")
      .description("allowlist an actor (two_person: records a request that another operator approves)")
      .argument("<actor>", "<transport>:<stable id>, e.g. telegram:4242")
      .option("--note <text>", "why (kept with the entry)"),
  ).action((actor: string, o: { note?: string; yes?: boolean; as?: string }, cmd: Command) => {
    checkActorKey(actor);
    return runNamedCapability(cmd, "tau.allowlist.add", [actor], o.note !== undefined ? { note: o.note } : {}, o);
  });
  runs(
    allow
      .command("remove")
      .description("remove an actor from the allowlist (confirm: --yes, or y at a terminal)")
      .argument("<actor>", "<transport>:<stable id>"),
  ).action((actor: string, o: { yes?: boolean; as?: string }, cmd: Command) => {
    // Any stored key may be removed (also one added before the stable-id rule): the capability checks the shape.
    return runNamedCapability(cmd, "tau.allowlist.remove", [actor], {}, o);
  });

  const pairing = program.command("pairing").description("one-time pairing codes for unknown DM actors");
  const viaCapability = (name: string, capId: string, arg?: string) => {
    const c = runs(pairing.command(name));
    if (arg) c.argument(`<${arg}>`);
    c.action((...a: unknown[]) => {
      const cmd = a.at(-1) as Command;
      const o = a.at(-2) as { yes?: boolean; as?: string };
      return runNamedCapability(cmd, capId, arg ? [a[0] as string] : [], {}, o);
    });
  };
  viaCapability("list", "tau.pairing.list");
  viaCapability("approve", "tau.pairing.approve", "code");
  viaCapability("deny", "tau.pairing.deny", "code");
  viaCapability("revoke", "tau.pairing.revoke", "actor");
}
