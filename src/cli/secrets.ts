/**
 * @module `tau secrets set|list|delete <id>|rotate-key`: the integration store (table `secrets` in the state database,
 * sealed with AES-256-GCM). `set` reads the value from stdin only — never argv, where `ps` and shell history would see
 * it — and at a terminal prompts with echo off; `list` shows ids, sources (env wins over store), key ids and times with
 * the value masked; `rotate-key` re-seals every value under a new key in one transaction.
 */
import fs from "node:fs";
import type { Command } from "commander";
import { appendAudit } from "../audit/audit-log.ts";
import { ValidationError } from "../contracts/errors.ts";
import { deleteSecret, listSecrets, rotateSecretsKey, setSecret } from "../lifecycle/index.ts";
import { stateDatabaseFiles } from "../store/inspect-store.ts";
import { appFor, globals } from "./context.ts";
import { emit, table } from "./output.ts";
import { cliPrincipal } from "./run-capability.ts";

/**
 * One line typed at a terminal with echo off (raw mode): nothing of the value reaches the screen or the scrollback.
 * Enter ends it, Backspace edits, Ctrl-C / Ctrl-D with nothing typed cancel.
 */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  // Echo off before the prompt shows, so nothing typed the moment it appears is echoed.
  stdin.setRawMode(true);
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let value = "";
    const done = (err: Error | null) => {
      stdin.removeListener("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString("utf8")) {
        if (ch === "\r" || ch === "\n") return done(null);
        if (ch === "\u0003" || (ch === "\u0004" && value === "")) {
          value = "";
          return done(new ValidationError("USAGE_SECRET_CANCELLED", "cancelled: nothing stored"));
        }
        if (ch === "\u007f" || ch === "\b") value = [...value].slice(0, -1).join("");
        else if (ch >= " ") value += ch;
      }
    };
    stdin.resume();
    stdin.on("data", onData);
  });
}

/** The value: typed at a terminal without echo, else the whole of stdin without the trailing newline. */
async function readValue(prompt: string): Promise<string> {
  if (process.stdin.isTTY) return promptHidden(prompt);
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
      const value = await readValue(`value for ${id} (not shown), then Enter: `);
      const app = appFor(cmd);
      try {
        const now = app.clock();
        // The shared PostgreSQL store's own URL lives in this node's local store (Store.secretHome).
        const home = app.store.secretHome(id);
        home.atomically(() => {
          setSecret(home.secrets, id, value, now);
          appendAudit(
            home,
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
        const when = (ms: number | null) => (ms === null ? "" : new Date(ms).toISOString());
        emit(globals(cmd).json, rows, () =>
          table([
            ["id", "value", "source", "env", "store", "key", "created", "updated"],
            ...rows.map((r) => [
              r.id,
              r.value ?? "-",
              r.source,
              r.env_var,
              r.in_store ? "yes" : "no",
              r.key_id ?? "",
              when(r.created_at_ms),
              when(r.updated_at_ms),
            ]),
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
        const home = app.store.secretHome(id);
        const deleted = home.atomically(() => {
          const ok = deleteSecret(home.secrets, id);
          appendAudit(
            home,
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
  sec
    .command("rotate-key")
    .description("re-seal every stored secret under a new key (TAU_SECRETS_KEY set: the new key, base64 of 32 bytes, comes on stdin)")
    .option("--json", "machine-readable")
    .action(async (_o, cmd: Command) => {
      const app = appFor(cmd);
      try {
        const fromEnv = Boolean(app.env.TAU_SECRETS_KEY);
        const newKey = fromEnv ? await readValue("new key (base64 of 32 bytes, not shown), then Enter: ") : null;
        const now = app.clock();
        const r = rotateSecretsKey(app.env, app.store.secrets, newKey);
        appendAudit(
          app.store,
          {
            actor: cliPrincipal(),
            surface: "cli",
            action: "secret.rotate_key",
            target: r.to,
            args: { from: r.from, resealed: r.resealed },
            outcome: "rotated",
            reason_code: "secrets_key_rotated",
          },
          now,
        );
        keepPrivate(app.stateDir);
        emit(globals(cmd).json, r, () =>
          [
            `re-sealed ${r.resealed} secret(s) under key ${r.to} (was ${r.from.join(", ") || "none"})`,
            fromEnv ? `now set TAU_SECRETS_KEY to the new key before tau next starts` : `key file: ${r.key_source}`,
          ].join("\n"),
        );
      } finally {
        app.close();
      }
    });
}
