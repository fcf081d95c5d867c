/**
 * @module `tau secrets set|list|delete <id>`: the integration store (table `secrets` in the state database, 0600). `set`
 * reads the value from stdin only — never argv, where `ps` and shell history would see it; `list` shows ids,
 * sources (env wins over store) and presence, never values.
 */
import fs from "node:fs";
import readline from "node:readline";
import type { Command } from "commander";
import { appendAudit } from "../audit/audit-log.ts";
import { deleteSecret, listSecrets, setSecret } from "../lifecycle/index.ts";
import { stateDatabaseFiles } from "../store/inspect-store.ts";
import { appFor, globals } from "./context.ts";
import { emit, table } from "./output.ts";
import { cliPrincipal } from "./run-capability.ts";

/** The whole of stdin (one line from a terminal), without the trailing newline. */
async function readValue(id: string): Promise<string> {
  if (process.stdin.isTTY) {
    process.stderr.write(`value for ${id}, then Enter: `);
    const rl = readline.createInterface({ input: process.stdin, terminal: false });
    try {
      for await (const line of rl) return line;
      return "";
    } finally {
      rl.close();
    }
  }
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

/** Keep the database files private after a write (SQLite may have created the WAL just now). */
function keepPrivate(stateDir: string): void {
  for (const p of stateDatabaseFiles(stateDir)) {
    if (fs.existsSync(p)) fs.chmodSync(p, 0o600);
  }
}

export function registerSecrets(program: Command): void {
  const sec = program.command("secrets").description("integration store: credentials by id (env variables take precedence)");
  sec
    .command("set")
    .description('store a secret read from stdin, e.g. printf %s "$TOKEN" | tau secrets set telegram-bot-token')
    .argument("<id>", "integration id, e.g. telegram-bot-token")
    .option("--json", "machine-readable")
    .action(async (id: string, _o, cmd: Command) => {
      const value = await readValue(id);
      const app = appFor(cmd);
      try {
        const now = app.clock();
        app.store.atomically(() => {
          setSecret(app.store.secrets, id, value, now);
          appendAudit(
            app.store,
            {
              actor: cliPrincipal(),
              surface: "cli",
              action: "secret.set",
              target: id,
              args: {},
              outcome: "stored",
              reason_code: "secret_stored",
            },
            now,
          );
        });
        keepPrivate(app.stateDir);
        const entry = listSecrets(app.env, app.store.secrets).find((s) => s.id === id)!;
        emit(
          globals(cmd).json,
          { id, stored: true, effective_source: entry.source },
          () => `stored ${id}${entry.source === "env" ? ` (note: ${entry.env_var} is set in the environment and takes precedence)` : ""}`,
        );
      } finally {
        app.close();
      }
    });
  sec
    .command("list")
    .description("ids, sources and presence (never values)")
    .option("--json", "machine-readable")
    .action((_o, cmd: Command) => {
      const app = appFor(cmd);
      try {
        const rows = listSecrets(app.env, app.store.secrets);
        emit(globals(cmd).json, rows, () =>
          table([
            ["id", "present", "source", "env", "store"],
            ...rows.map((r) => [r.id, r.present ? "yes" : "no", r.source, r.env_var, r.in_store ? "yes" : "no"]),
          ]),
        );
      } finally {
        app.close();
      }
    });
  sec
    .command("delete")
    .description("remove a stored secret (environment variables are not touched)")
    .argument("<id>", "integration id")
    .option("--json", "machine-readable")
    .action((id: string, _o, cmd: Command) => {
      const app = appFor(cmd);
      try {
        const now = app.clock();
        const deleted = app.store.atomically(() => {
          const ok = deleteSecret(app.store.secrets, id);
          appendAudit(
            app.store,
            {
              actor: cliPrincipal(),
              surface: "cli",
              action: "secret.delete",
              target: id,
              args: {},
              outcome: ok ? "deleted" : "absent",
              reason_code: ok ? "secret_deleted" : "secret_absent",
            },
            now,
          );
          return ok;
        });
        emit(globals(cmd).json, { id, deleted }, () => (deleted ? `deleted ${id}` : `${id} was not in the store`));
        if (!deleted) process.exitCode = 1;
      } finally {
        app.close();
      }
    });
}
