/**
 * @module `npm run bench -- ingest-file`: `tau ingest` of one large NDJSON file of Telegram updates (default 200 MB;
 * `--mb N`), as the CLI runs it (bin/tau.js in a child), against a one-line file for the baseline: events/s, MB/s and
 * peak RSS of each (scripts/peak-rss.mjs). Memory must not follow the file size (issue 13 §6: ≤ 100 MB for 1 GB).
 * The CLI measured is the build (dist/, built first when older than the sources), as shipped: bin/tau.js would
 * otherwise run the sources through tsx, whose loader alone adds tens of MB.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBuilt } from "../test/helpers/ship.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const mbArg = process.argv.indexOf("--mb");
const targetMb = mbArg > 0 ? Number(process.argv[mbArg + 1]) : 200;

function writeNdjson(file: string, mb: number, batch = 5000): number {
  const base = JSON.parse(fs.readFileSync(path.join(root, "fixtures/raw/telegram/private-text.json"), "utf8")) as {
    update_id: number;
    message: { message_id: number; text: string };
  };
  const fd = fs.openSync(file, "w");
  let bytes = 0;
  let n = 0;
  try {
    do {
      const lines: string[] = [];
      for (let i = 0; i < batch; i++, n++) {
        base.update_id = 1_000_000 + n;
        base.message.message_id = n;
        base.message.text = `hello ${n}`;
        lines.push(JSON.stringify(base));
      }
      bytes += fs.writeSync(fd, lines.join("\n") + "\n");
    } while (bytes < mb * 1048576);
  } finally {
    fs.closeSync(fd);
  }
  return n;
}

function ingest(dir: string, file: string): { peak_rss_mb: number; seconds: number; accepted: number } {
  const started = process.hrtime.bigint();
  const r = spawnSync(
    process.execPath,
    [
      "--max-semi-space-size=4",
      "--import",
      path.join(root, "scripts/peak-rss.mjs"),
      path.join(root, "bin/tau.js"),
      "--state-dir",
      path.join(dir, "state"),
      "--config",
      path.join(dir, "tau.yaml"),
      "ingest",
      file,
      "--transport",
      "telegram",
      "--json",
    ],
    { encoding: "utf8", maxBuffer: 64 * 1048576, env: { ...process.env, TAU_LOG_LEVEL: "silent" } },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const peak = r.stderr.match(/peak_rss_mb=(\d+)/);
  if (r.status !== 0 || !peak) throw new Error(`tau ingest exited ${r.status}: ${r.stderr.slice(-500)}`);
  return { peak_rss_mb: Number(peak[1]), seconds, accepted: (JSON.parse(r.stdout) as { accepted: number }).accepted };
}

ensureBuilt();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-bench-ingest-file-"));
try {
  fs.writeFileSync(path.join(dir, "tau.yaml"), 'schema_version: 1\nidentity:\n  telegram: { bot_id: "6112", username: "tau_ops_bot" }\n');
  const one = path.join(dir, "one.ndjson");
  writeNdjson(one, 0, 1);
  const big = path.join(dir, "big.ndjson");
  const lines = writeNdjson(big, targetMb);
  const mb = fs.statSync(big).size / 1048576;
  const base = ingest(dir, one);
  fs.rmSync(path.join(dir, "state"), { recursive: true, force: true });
  const r = ingest(dir, big);
  console.log(
    JSON.stringify({
      file_mb: Math.round(mb),
      lines,
      accepted: r.accepted,
      events_per_s: Math.round(r.accepted / r.seconds),
      mb_per_s: Number((mb / r.seconds).toFixed(1)),
      peak_rss_mb: r.peak_rss_mb,
      baseline_peak_rss_mb: base.peak_rss_mb,
    }),
  );
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
