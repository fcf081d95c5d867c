/**
 * @module The cost of one outbox insert (the write every reply makes) with the outbox's partial index conditions as
 * IN lists (before migration 019) and as OR-ed equalities (since), interleaved in one process: 80 units of work of
 * 1,000 dry-run replies over 5,000 conversations, on a real SQLite file with tau's pragmas. One JSON line.
 * Usage: tsx scripts/bench-outbox-insert.ts
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { openStore } from "../src/store/index.ts";

const IN_LISTS =
  "DROP INDEX outbox_pending; DROP INDEX outbox_attention; " +
  "CREATE INDEX outbox_pending ON outbox(status, next_attempt_at_ms) WHERE status IN ('queued', 'retry_scheduled', 'sending'); " +
  "CREATE INDEX outbox_attention ON outbox(status) WHERE status IN ('dead_letter', 'unknown', 'failed');";

/** µs per insert, commits included. */
function measure(inLists: boolean): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-bench-outbox-"));
  try {
    openStore(dir).close();
    const db = new Database(path.join(dir, "tau.db"));
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("cache_size = -16384");
    if (inLists) db.exec(IN_LISTS);
    const insert = db.prepare(
      "INSERT INTO outbox (outbox_id, event_id, transport, account_id, conversation_id, thread_id, reply_to, mode, purpose, status, reason, chunk_count, attempts, next_attempt_at_ms, created_at_ms, updated_at_ms, rich, claimed_by, claim_until_ms) " +
        "VALUES (?, ?, 'telegram', '6112', ?, NULL, ?, 'dry-run', 'reply', 'sent', 'delivery_dry_run', 1, 1, 0, ?, ?, NULL, NULL, 0)",
    );
    let ns = 0n;
    let n = 0;
    for (let unit = 0; unit < 80; unit++) {
      const now = 1_763_712_000_000 + unit * 37;
      const rows = Array.from({ length: 1000 }, (_, i) => {
        const k = unit * 1000 + i;
        const id = "ob_" + now.toString(36).padStart(9, "0") + crypto.createHash("sha256").update(String(k)).digest("hex").slice(0, 15);
        return [id, `telegram:6112:u:${k}`, String(100_000 + (k % 5000)), String(k), now, now] as const;
      });
      const t = process.hrtime.bigint();
      db.transaction(() => {
        for (const r of rows) insert.run(...r);
      })();
      ns += process.hrtime.bigint() - t;
      n += rows.length;
    }
    db.close();
    return Number(ns) / n / 1000;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const before: number[] = [];
const after: number[] = [];
for (let round = 0; round < 3; round++) {
  before.push(measure(true));
  after.push(measure(false));
}
const best = (xs: number[]) => Number(Math.min(...xs).toFixed(2));
process.stdout.write(
  JSON.stringify({
    bench: "outbox-insert",
    inserts: 80_000,
    in_lists_us: best(before),
    or_equalities_us: best(after),
    ratio: Number((best(after) / best(before)).toFixed(3)),
  }) + "\n",
);
