/**
 * `settleDryRunFile`: at startup, receipts past the committed end that belong to no sent chunk (their unit of work
 * never committed) and torn lines are cut off; receipts recorded as sent stay, wherever they are.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { dryRunReceiptId, dryRunWrittenMark, settleDryRunFile } from "../../src/outbound/dry-run.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function fileWith(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-dryrun-"));
  dirs.push(dir);
  const file = path.join(dir, "dry-run.ndjson");
  fs.writeFileSync(file, text);
  return file;
}

const line = (outboxId: string, chunk = 0) =>
  JSON.stringify({ receipt_id: dryRunReceiptId(outboxId, chunk), outbox_id: outboxId, chunk }) + "\n";
const markOf = (file: string, size: number) => dryRunWrittenMark({ ino: fs.statSync(file).ino, after: size });

describe("settleDryRunFile", () => {
  it("cuts trailing receipts of chunks not recorded as sent, and a torn last line", () => {
    const committed = line("ob_a") + line("ob_b");
    const file = fileWith(committed + line("ob_c") + line("ob_d") + '{"receipt_id":"dryrun:ob_e');
    const sent = new Set(["ob_a", "ob_b"]);
    const mark = settleDryRunFile(file, markOf(file, committed.length), (id) => sent.has(id));
    expect(fs.readFileSync(file, "utf8")).toBe(committed);
    expect(mark).toBe(markOf(file, committed.length));
  });

  it("keeps receipts past the mark that are recorded as sent (appended by a tau that kept no mark)", () => {
    const head = line("ob_a");
    const file = fileWith(head + line("ob_b") + line("ob_c") + line("ob_d"));
    const sent = new Set(["ob_a", "ob_b", "ob_c"]);
    settleDryRunFile(file, markOf(file, head.length), (id) => sent.has(id));
    expect(fs.readFileSync(file, "utf8")).toBe(head + line("ob_b") + line("ob_c"));
  });

  it("cuts a file created after a mark that saw none; leaves files it has no mark for alone", () => {
    const orphan = fileWith(line("ob_x"));
    expect(settleDryRunFile(orphan, dryRunWrittenMark({ ino: 0, after: 0 }), () => false)).toBe(markOf(orphan, 0));
    expect(fs.readFileSync(orphan, "utf8")).toBe("");

    const legacy = fileWith(line("ob_y"));
    expect(settleDryRunFile(legacy, undefined, () => false)).toBe(markOf(legacy, line("ob_y").length));
    expect(fs.readFileSync(legacy, "utf8")).toBe(line("ob_y"));

    const missing = path.join(path.dirname(legacy), "none.ndjson");
    expect(settleDryRunFile(missing, undefined, () => false)).toBe(dryRunWrittenMark({ ino: 0, after: 0 }));
  });
});
