import Database from "better-sqlite3";
import fs from "node:fs";
const dir = fs.mkdtempSync("/tmp/sqlc-");
const db = new Database(dir + "/t.db");
db.pragma("journal_mode = WAL"); db.pragma("synchronous = " + (process.argv[2] ?? "FULL")); db.pragma("wal_autocheckpoint = 10000");
db.exec("CREATE TABLE t (seq INTEGER PRIMARY KEY, a TEXT, b INTEGER, c TEXT); CREATE INDEX ti ON t(a, b); CREATE INDEX tc ON t(c, b)");
const ins = db.prepare("INSERT INTO t (a, b, c) VALUES (?, ?, ?)");
const xs = [];
for (let i = 0; i < 2000; i++) { const t = performance.now(); ins.run("resp", i, "telegram:" + (i % 300)); xs.push(performance.now() - t); }
xs.sort((a,b)=>a-b); console.log(process.argv[2] ?? "FULL", "autocommit insert ms p50", xs[1000].toFixed(3), "p99", xs[1980].toFixed(3), "mean", (xs.reduce((a,b)=>a+b)/xs.length).toFixed(3));
fs.rmSync(dir, { recursive: true });
