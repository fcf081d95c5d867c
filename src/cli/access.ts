/**
 * @module `tau allowlist list|add|remove` and `tau pairing list|approve|deny|revoke`: each runs its capability
 * through the shared CLI path, so it asks exactly what `tau cap run` and chat ask (allowlist add: a second person;
 * remove: --yes; pairing: nothing).
 */
import type { Command } from "commander";
import { TauError } from "../contracts/errors.ts";
import { runNamedCapability, withRunOptions } from "./run-capability.ts";
import { globals, servicesFor } from "./context.ts";
import { emit, table } from "./output.ts";

/** Stable ids only (PRODUCT.md §5): usernames are mutable and never allowlisted. */
const STABLE_ID: Record<string, RegExp> = {
  telegram: /^\d{1,20}$/,
  discord: /^\d{15,21}$/,
  whatsapp: /^(\d{6,16}|[A-Z]{2}\.\d{6,40})$/,
  email: /^[^\s@]+@[^\s@]+\.[^\s@]+$/,
};

/** Validate `<transport>:<stable id>`; throws a usage error that says what is allowed. */
function parseActorKey(key: string): { transport: string; actorId: string } {
  const i = key.indexOf(":");
  const transport = i < 0 ? "" : key.slice(0, i);
  const actorId = i < 0 ? "" : key.slice(i + 1);
  const re = STABLE_ID[transport];
  if (!re)
    throw new TauError(
      "USAGE_ACTOR_KEY",
      `"${key}": expected <transport>:<actor id> with transport one of ${Object.keys(STABLE_ID).join(", ")}`,
    );
  if (!re.test(actorId)) {
    throw new TauError(
      "USAGE_ACTOR_KEY",
      `"${key}": ${transport} actors are allowlisted by their stable id (${re.source}), never by username`,
      {
        hint: "find the numeric id in `tau traces --json` (actor_id) or the provider's API",
      },
    );
  }
  return { transport, actorId };
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
    parseActorKey(actor);
    return runNamedCapability(cmd, "tau.allowlist.add", [actor], o.note !== undefined ? { note: o.note } : {}, o);
  });
  runs(
    allow
      .command("remove")
      .description("remove an actor from the allowlist (confirm: --yes, or y at a terminal)")
      .argument("<actor>", "<transport>:<stable id>"),
  ).action((actor: string, o: { yes?: boolean; as?: string }, cmd: Command) => {
    parseActorKey(actor);
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
