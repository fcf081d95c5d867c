import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { countLinesAfter, countLinesAfterMemo, readLineBytes, readLines, type LineCountMemo } from "../../src/ingress/reader.ts";

function file(content: Buffer | string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "tau-reader-"));
  const f = path.join(d, "telegram.ndjson");
  fs.writeFileSync(f, content);
  return f;
}

describe("ingress reader", () => {
  it("answers a transport without a file with no failed open (the runner asks for every transport each cycle)", () => {
    const missing = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tau-reader-")), "discord.ndjson");
    const open = vi.spyOn(fs, "openSync");
    try {
      expect(readLineBytes(missing, null, 10, 1024)).toBeNull();
      expect(countLinesAfterMemo(missing, 0, new Map())).toBe(0);
      // A failed open builds an ENOENT Error with its stack: hundreds a second in an idle runner.
      expect(open).not.toHaveBeenCalled();
    } finally {
      open.mockRestore();
    }
  });

  it("returns complete lines and leaves a partial last line for later", () => {
    const f = file('{"a":1}\n{"a":2}\n{"a":');
    const r = readLines(f, null, 10, 1024)!;
    expect(r.lines.map((l) => (l.ok ? l.text : l.code))).toEqual(['{"a":1}', '{"a":2}']);
    expect(r.cursor.offset).toBe(16);
    expect(r.cursor.line).toBe(2);
    fs.appendFileSync(f, "3}\n");
    const r2 = readLines(f, r.cursor, 10, 1024)!;
    expect(r2.lines.map((l) => (l.ok ? l.text : l.code))).toEqual(['{"a":3}']);
    expect(r2.lines[0]!.line).toBe(3);
  });

  it("reports oversized and non-UTF-8 lines with their line numbers and keeps going", () => {
    const f = file(
      Buffer.concat([Buffer.from('{"ok":1}\n' + "z".repeat(3000) + "\n"), Buffer.from([0xc3, 0x28, 0x0a]), Buffer.from('{"ok":4}\n')]),
    );
    const r = readLines(f, null, 10, 1024)!;
    expect(r.lines.map((l) => (l.ok ? `${l.line}:${l.text}` : `${l.line}:${l.code}`))).toEqual([
      '1:{"ok":1}',
      "2:ingress_line_too_large",
      "3:ingress_invalid_utf8",
      '4:{"ok":4}',
    ]);
  });

  it("handles an oversized line spanning several read chunks", () => {
    const f = file("q".repeat(3 * 1024 * 1024) + '\n{"ok":2}\n');
    const r = readLines(f, null, 10, 1024 * 1024)!;
    expect(r.lines.map((l) => (l.ok ? l.text : l.code))).toEqual(["ingress_line_too_large", '{"ok":2}']);
  });

  it("stops at maxLines and resumes from the cursor; resets when the file is replaced", () => {
    const f = file("1\n2\n3\n");
    const r = readLines(f, null, 2, 100)!;
    expect(r.lines).toHaveLength(2);
    expect(countLinesAfter(f, r.cursor.offset)).toBe(1);
    fs.rmSync(f);
    fs.writeFileSync(f, "9\n");
    const r2 = readLines(f, r.cursor, 5, 100)!;
    expect(r2.reset).toBe(true);
    expect(r2.lines.map((l) => (l.ok ? l.text : ""))).toEqual(["9"]);
  });
});

describe("countLinesAfterMemo", () => {
  it("agrees with a full count as lines are appended, consumed and the file is rotated", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-count-"));
    try {
      const file = path.join(dir, "telegram.ndjson");
      const line = (i: number) => `{"n":${i}}\n`;
      fs.writeFileSync(file, Array.from({ length: 10 }, (_, i) => line(i)).join(""));
      const memos = new Map<string, LineCountMemo>();
      expect(countLinesAfterMemo(file, 0, memos)).toBe(10);
      fs.appendFileSync(file, line(10) + line(11) + '{"partial":');
      const offsetAfter3 = Buffer.byteLength(line(0) + line(1) + line(2));
      expect(countLinesAfterMemo(file, offsetAfter3, memos)).toBe(9);
      expect(countLinesAfterMemo(file, offsetAfter3, memos)).toBe(countLinesAfter(file, offsetAfter3));
      fs.appendFileSync(file, "true}\n");
      const end = fs.statSync(file).size;
      expect(countLinesAfterMemo(file, end, memos)).toBe(0);
      // Rotation: a new file (new inode) at the same path is counted from scratch.
      fs.renameSync(file, `${file}.1`);
      fs.writeFileSync(file, line(0) + line(1));
      expect(countLinesAfterMemo(file, 0, memos)).toBe(2);
      // A cursor behind the memo (a restart re-reading) is a full count too.
      expect(countLinesAfterMemo(file, 0, memos)).toBe(2);
      fs.rmSync(file);
      expect(countLinesAfterMemo(file, 0, memos)).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
