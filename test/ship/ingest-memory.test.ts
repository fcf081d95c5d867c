/**
 * `tau ingest` of a large file slows V8's old-generation growth and runs one full collection so the new factor holds
 * from the start (src/cli/ingest.ts; issue 13 §6: a 1 GB ingest in ≤ 100 MB, measured by
 * `npm run bench -- ingest-file`). That is no heap cap: a single JSON document near the 32 MiB document limit, which
 * must be held whole, still ingests in full through the real CLI.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

const homes: TauHome[] = [];
afterAll(() => homes.forEach((h) => h.cleanup()));

describe("tau ingest of a large single document", () => {
  it("a 30 MB JSON array of updates (one document, held whole) ingests every update", () => {
    const h = makeTauHome();
    homes.push(h);
    const base = JSON.parse(fs.readFileSync("fixtures/raw/telegram/private-text.json", "utf8")) as {
      update_id: number;
      message: { message_id: number; text: string };
    };
    const file = path.join(h.dir, "updates.json");
    const fd = fs.openSync(file, "w");
    let bytes = fs.writeSync(fd, "[");
    let n = 0;
    while (bytes < 30 * 1048576) {
      base.update_id = 5_000_000 + n;
      base.message.message_id = n;
      base.message.text = `update ${n}`;
      bytes += fs.writeSync(fd, (n === 0 ? "" : ",\n") + JSON.stringify(base));
      n += 1;
    }
    fs.writeSync(fd, "]\n");
    fs.closeSync(fd);
    expect(fs.statSync(file).size).toBeGreaterThan(30 * 1048576);

    const r = spawnSync(
      process.execPath,
      [
        "--max-semi-space-size=4",
        path.resolve("bin/tau.js"),
        "--state-dir",
        h.stateDir,
        "--config",
        h.configPath,
        "ingest",
        file,
        "--transport",
        "telegram",
        "--json",
      ],
      { encoding: "utf8", env: { ...process.env, TAU_LOG_LEVEL: "silent" }, timeout: 240_000, maxBuffer: 64 * 1048576 },
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ accepted: n, refused_total: 0 });
    const lines = fs
      .readFileSync(path.join(h.stateDir, "ingress", "telegram.ndjson"), "utf8")
      .trimEnd()
      .split("\n");
    expect(lines).toHaveLength(n);
  }, 300_000);
});
