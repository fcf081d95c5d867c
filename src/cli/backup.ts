/**
 * @module `tau backup <file>` and `tau restore <file>`: the state database copied with SQLite's online backup API
 * (consistent while the service writes) and put back (refused while a runner holds the state; the database it
 * replaces is kept beside it). Neither reads tau.yaml: they work on a state folder whose configuration is broken.
 */
import type { Command } from "commander";
import { systemClock } from "../app/system-clock.ts";
import { openStore, restoreDatabase } from "../store/index.ts";
import { emit, type GlobalOptions } from "./output.ts";

export function registerBackup(program: Command): void {
  program
    .command("backup")
    .description("copy the state database to <file> with SQLite's online backup (safe while the service runs)")
    .argument("<file>", "the backup file to write (must not exist unless --force)")
    .option("--force", "replace <file> if it exists")
    .option("--json", "machine-readable")
    .action(async (file: string, opts: { force?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals() as GlobalOptions;
      // Read-only: a backup never creates, migrates or chmods the state it copies.
      const store = openStore(g.stateDir, { readonly: true });
      try {
        const r = await store.backup(file, { overwrite: opts.force === true });
        emit(g.json, r, () => `backed up ${g.stateDir} to ${r.file} (${r.bytes} bytes, schema ${r.schema_version})`);
      } finally {
        store.close();
      }
    });

  program
    .command("restore")
    .description("replace the state database with a backup (refused while a runner holds the state; keeps the old file)")
    .argument("<file>", "a file written by tau backup")
    .option("--json", "machine-readable")
    .action(async (file: string, _o, cmd: Command) => {
      const g = cmd.optsWithGlobals() as GlobalOptions;
      const r = await restoreDatabase(g.stateDir, file, systemClock());
      const migrated = r.migrations_applied.length ? `, migrated ${r.schema_from} → ${r.schema_to}` : "";
      emit(
        g.json,
        r,
        () =>
          `restored ${r.file} into ${r.database} (schema ${r.schema_from}${migrated})` +
          (r.previous ? `; the database it replaced is kept as ${r.previous}` : ""),
      );
    });
}
