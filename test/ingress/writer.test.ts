import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createIngressWriter } from "../../src/ingress/writer.ts";
import { makeEnvelope } from "../helpers/envelope-factory.ts";

const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "tau-writer-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe("ingress writer", () => {
  it("appends whole lines, group-commits concurrent appends, and creates files 0600 in a 0700 dir", async () => {
    const dir = path.join(tmp(), "ingress");
    const w = createIngressWriter({ ingressDir: dir, maxLineBytes: 1 << 20 });
    const appends = Array.from({ length: 400 }, (_, i) => w.append("telegram", [makeEnvelope({ event_id: `telegram:6112:u:${i}` })]));
    await Promise.all(appends);
    const stats = w.stats();
    await w.close();
    const lines = fs.readFileSync(path.join(dir, "telegram.ndjson"), "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(400);
    expect(new Set(lines.map((l) => JSON.parse(l).event_id)).size).toBe(400);
    expect(stats.events).toBe(400);
    // Coalescing: far fewer fsyncs than events (the first append flushes alone, the rest pile up behind it).
    expect(stats.fsyncs).toBeLessThan(50);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(dir, "telegram.ndjson")).mode & 0o777).toBe(0o600);
  });

  it("refuses an invalid envelope and writes nothing of that call", async () => {
    const dir = path.join(tmp(), "ingress");
    const w = createIngressWriter({ ingressDir: dir, maxLineBytes: 1 << 20 });
    const bad = { ...makeEnvelope(), chat_type: "supergroup" } as unknown as ReturnType<typeof makeEnvelope>;
    await expect(w.append("telegram", [makeEnvelope({ event_id: "telegram:6112:u:1" }), bad])).rejects.toMatchObject({
      code: "INGRESS_ENVELOPE_INVALID",
      reason: "ingress_envelope_invalid",
    });
    await w.append("telegram", [makeEnvelope({ event_id: "telegram:6112:u:2" })]);
    await w.close();
    const lines = fs.readFileSync(path.join(dir, "telegram.ndjson"), "utf8").trimEnd().split("\n");
    expect(lines.map((l) => JSON.parse(l).event_id)).toEqual(["telegram:6112:u:2"]);
  });

  it("refuses a line over max_line_bytes", async () => {
    const dir = path.join(tmp(), "ingress");
    const w = createIngressWriter({ ingressDir: dir, maxLineBytes: 2048 });
    await expect(w.append("telegram", [makeEnvelope({ text: "x".repeat(4000) })])).rejects.toMatchObject({
      code: "INGRESS_LINE_TOO_LARGE",
      reason: "ingress_line_too_large",
    });
    await w.close();
  });

  it("reopens the file when it was rotated away under it", async () => {
    const dir = path.join(tmp(), "ingress");
    const w = createIngressWriter({ ingressDir: dir, maxLineBytes: 1 << 20 });
    await w.append("telegram", [makeEnvelope({ event_id: "telegram:6112:u:1" })]);
    fs.renameSync(path.join(dir, "telegram.ndjson"), path.join(dir, "old.ndjson"));
    await w.append("telegram", [makeEnvelope({ event_id: "telegram:6112:u:2" })]);
    await w.close();
    expect(
      fs
        .readFileSync(path.join(dir, "telegram.ndjson"), "utf8")
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l).event_id),
    ).toEqual(["telegram:6112:u:2"]);
    expect(
      fs
        .readFileSync(path.join(dir, "old.ndjson"), "utf8")
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l).event_id),
    ).toEqual(["telegram:6112:u:1"]);
  });

  it("never interleaves lines from concurrent writer processes", async () => {
    const dir = path.join(tmp(), "ingress");
    const script = path.resolve("test/helpers/writer-child.ts");
    const children = Array.from(
      { length: 4 },
      (_, p) =>
        new Promise<number>((resolve, reject) => {
          const c = spawn(process.execPath, ["--import", "tsx", script, dir, String(p), "300"], {
            stdio: ["ignore", "inherit", "inherit"],
          });
          c.on("error", reject);
          c.on("exit", (code) => resolve(code ?? -1));
        }),
    );
    expect(await Promise.all(children)).toEqual([0, 0, 0, 0]);
    const lines = fs.readFileSync(path.join(dir, "telegram.ndjson"), "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(1200);
    const ids = lines.map((l) => JSON.parse(l).event_id as string); // throws if any line is torn
    expect(new Set(ids).size).toBe(1200);
  });
});
