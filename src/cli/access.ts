/** @module `tau allowlist list|add|remove` and `tau pairing list|approve|deny|revoke`. */
import type { Command } from "commander";
import { TauError } from "../contracts/errors.ts";
import { cliPrincipal, runCapabilityCli } from "./run-capability.ts";
import { printResult } from "./cap.ts";
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
  allow
    .command("add")
    .argument("<actor>", "<transport>:<stable id>, e.g. telegram:4242")
    .option("--note <text>", "why", "")
    .option("--json", "machine-readable")
    .action((actor: string, o: { note: string }, cmd: Command) => {
      const { transport, actorId } = parseActorKey(actor);
      const { app, services } = servicesFor(cmd);
      try {
        const added = app.store.atomically(() => {
          const ok = services.store.access.addAllowlist({
            actor_key: actor,
            transport,
            actor_id: actorId,
            note: o.note,
            added_by: cliPrincipal(),
            added_at_ms: app.clock(),
          });
          services.audit({
            actor: cliPrincipal(),
            surface: "cli",
            action: "allowlist.add",
            target: actor,
            args: { note: o.note },
            outcome: ok ? "added" : "exists",
            reason_code: ok ? "allowlist_added" : "allowlist_exists",
          });
          return ok;
        });
        emit(globals(cmd).json, { actor, added }, () => (added ? `added ${actor}` : `${actor} was already allowlisted`));
      } finally {
        app.close();
      }
    });
  allow
    .command("remove")
    .argument("<actor>", "<transport>:<stable id>")
    .option("--json", "machine-readable")
    .action((actor: string, _o, cmd: Command) => {
      parseActorKey(actor);
      const { app, services } = servicesFor(cmd);
      try {
        const removed = app.store.atomically(() => {
          const ok = services.store.access.removeAllowlist(actor);
          services.audit({
            actor: cliPrincipal(),
            surface: "cli",
            action: "allowlist.remove",
            target: actor,
            args: {},
            outcome: ok ? "removed" : "absent",
            reason_code: ok ? "allowlist_removed" : "allowlist_absent",
          });
          return ok;
        });
        emit(globals(cmd).json, { actor, removed }, () => (removed ? `removed ${actor}` : `${actor} was not allowlisted`));
        if (!removed) process.exitCode = 1;
      } finally {
        app.close();
      }
    });

  const pairing = program.command("pairing").description("one-time pairing codes for unknown DM actors");
  const viaCapability = (name: string, capId: string, arg?: string) => {
    const c = pairing.command(name).option("--yes", "confirm").option("--json", "machine-readable");
    if (arg) c.argument(`<${arg}>`);
    c.action(async (...a: unknown[]) => {
      const cmd = a.at(-1) as Command;
      const o = a.at(-2) as { yes?: boolean };
      const { app, services } = servicesFor(cmd);
      try {
        const cap = services.registry.get(capId)!;
        const args = arg ? { [arg]: a[0] as string } : {};
        printResult(globals(cmd).json, await runCapabilityCli(services, cap, args, { yes: o.yes ?? false }));
      } finally {
        app.close();
      }
    });
  };
  viaCapability("list", "tau.pairing.list");
  viaCapability("approve", "tau.pairing.approve", "code");
  viaCapability("deny", "tau.pairing.deny", "code");
  viaCapability("revoke", "tau.pairing.revoke", "actor");
}
