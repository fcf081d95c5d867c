/**
 * The access stage asks `store.access.admission` (allowlisted? paired?), which answers from memory until the
 * allowlist or pairings change: writes through the store and writes by any other connection (another tau
 * process, `tau allowlist add`) are seen at once.
 */
import Database from "better-sqlite3";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { App } from "../../src/app/index.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

let h: TauHome | null = null;
let app: App | null = null;
afterEach(() => {
  app?.close();
  h?.cleanup();
  app = null;
  h = null;
});

/** A write through a second connection, as another process would make it. */
function elsewhere(home: TauHome, sql: string): void {
  const db = new Database(path.join(home.stateDir, "tau.db"));
  try {
    db.prepare(sql).run();
  } finally {
    db.close();
  }
}

describe("admission memory", () => {
  it("sees allowlist and pairing changes made through the store", () => {
    h = makeTauHome();
    app = h.open();
    const access = app.store.access;
    expect(access.admission("telegram:7001")).toEqual({ allowlisted: false, paired: false });
    access.addAllowlist({
      actor_key: "telegram:7001",
      transport: "telegram",
      actor_id: "7001",
      note: "",
      added_by: "test",
      added_at_ms: 0,
    });
    expect(access.admission("telegram:7001")).toEqual({ allowlisted: true, paired: false });
    access.insertPairing(
      { code: "AAAABBBB", actor_key: "telegram:7001", channel_key: "telegram:7001", display: null, expires_at_ms: 1 },
      0,
    );
    expect(access.admission("telegram:7001")).toEqual({ allowlisted: true, paired: false });
    access.decidePairing("AAAABBBB", "approved", "test", 0);
    expect(access.admission("telegram:7001")).toEqual({ allowlisted: true, paired: true });
    access.removeAllowlist("telegram:7001");
    access.revokePairing("telegram:7001", "test", 0);
    expect(access.admission("telegram:7001")).toEqual({ allowlisted: false, paired: false });
  });

  it("sees changes committed by another connection", () => {
    h = makeTauHome();
    app = h.open();
    const access = app.store.access;
    expect(access.admission("telegram:7002")).toEqual({ allowlisted: false, paired: false });
    elsewhere(
      h,
      "INSERT INTO allowlist (actor_key, transport, actor_id, note, added_by, added_at_ms) VALUES ('telegram:7002', 'telegram', '7002', '', 'cli', 0)",
    );
    expect(access.admission("telegram:7002")).toEqual({ allowlisted: true, paired: false });
    elsewhere(
      h,
      "INSERT INTO pairings (code, actor_key, channel_key, display, status, created_at_ms, expires_at_ms) VALUES ('CCCCDDDD', 'telegram:7002', 'telegram:7002', NULL, 'approved', 0, 1)",
    );
    expect(access.admission("telegram:7002")).toEqual({ allowlisted: true, paired: true });
    elsewhere(h, "DELETE FROM allowlist WHERE actor_key = 'telegram:7002'");
    expect(access.admission("telegram:7002")).toEqual({ allowlisted: false, paired: true });
  });

  it("inside a held unit of work (the runner's batch) answers as of its start, and looks again after", () => {
    h = makeTauHome();
    app = h.open();
    const access = app.store.access;
    access.holdAdmissions();
    expect(access.admission("telegram:7003")).toEqual({ allowlisted: false, paired: false });
    elsewhere(
      h,
      "INSERT INTO allowlist (actor_key, transport, actor_id, note, added_by, added_at_ms) VALUES ('telegram:7003', 'telegram', '7003', '', 'cli', 0)",
    );
    expect(access.admission("telegram:7003")).toEqual({ allowlisted: false, paired: false });
    access.releaseAdmissions();
    expect(access.admission("telegram:7003")).toEqual({ allowlisted: true, paired: false });
    access.holdAdmissions();
    access.removeAllowlist("telegram:7003"); // a write through the store is seen at once, held or not
    expect(access.admission("telegram:7003")).toEqual({ allowlisted: false, paired: false });
    access.releaseAdmissions();
  });
});
