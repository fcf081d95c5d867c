/**
 * @module Test helper run as a child process (`node --import tsx pg-migrate-child.ts <url>`): migrate the PostgreSQL
 * store at <url> as a starting tau node does, then print the versions this process applied as JSON.
 */
import { PgDb } from "../../src/store/pg/pg-db.ts";
import { migratePg } from "../../src/store/pg/migrate.ts";

const db = new PgDb(process.argv[2]!);
try {
  process.stdout.write(JSON.stringify({ applied: migratePg(db) }) + "\n");
} finally {
  db.close();
}
