/**
 * src/store/durability.ts over a real SQLite database: in `before-effects` mode a commit does not fsync; the WAL is
 * fsynced (really) right before an effect, only when something was committed since the last sync; close syncs what
 * is left; `every-commit` mode (every CLI command) has nothing to sync.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createWalSync } from "../../src/store/durability.ts";
import { openDatabase, openStore } from "../../src/store/index.ts";

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) fs.rmSync(dirs.pop()!, { recursive: true, force: true });
});
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "tau-durability-"));
  dirs.push(d);
  return d;
}

describe("WAL sync before effects", () => {
  it("fsyncs the WAL only when this connection committed something since the last sync", () => {
    const dir = tempDir();
    const db = openDatabase(dir);
    db.pragma("synchronous = NORMAL");
    const changes = db.prepare("SELECT total_changes()").pluck();
    const synced: number[] = [];
    const sync = createWalSync({
      changes: () => changes.get() as number,
      walFile: path.join(dir, "tau.db-wal"),
      fdatasync: (fd) => {
        fs.fdatasyncSync(fd); // the real call, counted
        synced.push(fd);
      },
    });
    // What migrations committed (synchronous = FULL then) needs no sync.
    sync.syncBeforeEffect();
    expect(synced).toHaveLength(0);
    db.prepare("INSERT INTO kv (key, value) VALUES ('a', '1')").run();
    db.prepare("INSERT INTO kv (key, value) VALUES ('b', '2')").run();
    sync.syncBeforeEffect();
    expect(synced).toHaveLength(1); // one fsync covers both commits
    sync.syncBeforeEffect();
    expect(synced).toHaveLength(1); // nothing new
    db.prepare("UPDATE kv SET value = '3' WHERE key = 'a'").run();
    sync.syncBeforeEffect();
    expect(synced).toHaveLength(2);
    // The descriptor is the WAL's.
    expect(fs.fstatSync(synced[0]!).ino).toBe(fs.statSync(path.join(dir, "tau.db-wal")).ino);
    sync.close();
    db.close();
  });

  it("the service's store: commits survive close and reopen; `every-commit` stores have nothing to sync", () => {
    const dir = tempDir();
    const service = openStore(dir, { durability: "before-effects" });
    service.kv.put("probe", "one");
    service.syncBeforeEffect();
    service.kv.put("probe", "two"); // committed after the last effect: synced by close
    service.close();
    const cli = openStore(dir);
    expect(cli.kv.get("probe")).toBe("two");
    expect(() => cli.syncBeforeEffect()).not.toThrow();
    cli.close();
  });
});
