/**
 * @module Read complete NDJSON lines from an ingress file starting at a byte cursor. A partial last line
 * (a writer mid-append) is left for the next read. Lines that are too long or not UTF-8 are reported,
 * never allowed to block the lines after them.
 */
import fs from "node:fs";

/** Where the runner is in one transport's ingress file. `ino` identifies the file across rotations. */
export interface IngressCursor {
  ino: number;
  offset: number;
  line: number;
}

export type RawLine =
  | { ok: true; text: string; line: number; endOffset: number }
  | { ok: false; code: "ingress_line_too_large" | "ingress_invalid_utf8"; line: number; detail: string; endOffset: number };

export interface ReadResult {
  lines: RawLine[];
  /** Cursor after the last returned line. */
  cursor: IngressCursor;
  /** File size at read time. */
  size: number;
  /** True when the file at the path is not the one the cursor pointed at (rotated or replaced). */
  reset: boolean;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const CHUNK = 1 << 20;

/** Read up to `maxLines` complete lines after `cursor`. Returns null when the file does not exist. */
export function readLines(file: string, cursor: IngressCursor | null, maxLines: number, maxLineBytes: number): ReadResult | null {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  try {
    const st = fs.fstatSync(fd);
    const reset = cursor === null || cursor.ino !== st.ino || cursor.offset > st.size;
    let offset = reset ? 0 : cursor.offset;
    let line = reset ? 0 : cursor.line;
    const lines: RawLine[] = [];
    let carry: Buffer | null = null; // bytes of a line that started in an earlier chunk
    let skipping = false; // inside an oversized line: discard until its newline
    let skipStartLine = 0;
    let pos = offset;
    const buf = Buffer.allocUnsafe(CHUNK);
    while (lines.length < maxLines && pos < st.size) {
      const n = fs.readSync(fd, buf, 0, Math.min(CHUNK, st.size - pos), pos);
      if (n <= 0) break;
      let start = 0;
      while (start < n && lines.length < maxLines) {
        const nl = buf.indexOf(10, start);
        if (nl === -1 || nl >= n) {
          // No newline in the rest of this chunk: keep the bytes and read on.
          if (!skipping) {
            const piece = buf.subarray(start, n);
            carry = carry ? Buffer.concat([carry, piece]) : Buffer.from(piece);
            if (carry.length > maxLineBytes) {
              skipping = true;
              skipStartLine = line + 1;
              carry = null;
            }
          }
          start = n;
          break;
        }
        const lineEnd = pos + nl + 1;
        line += 1;
        if (skipping) {
          lines.push({ ok: false, code: "ingress_line_too_large", line: skipStartLine, detail: `line exceeds ${maxLineBytes} bytes`, endOffset: lineEnd });
          skipping = false;
        } else {
          const bytes = carry ? Buffer.concat([carry, buf.subarray(start, nl)]) : buf.subarray(start, nl);
          carry = null;
          if (bytes.length + 1 > maxLineBytes) {
            lines.push({ ok: false, code: "ingress_line_too_large", line, detail: `line is ${bytes.length + 1} bytes; limit ${maxLineBytes}`, endOffset: lineEnd });
          } else {
            let text: string | null = null;
            try {
              text = utf8.decode(bytes);
            } catch {
              text = null; // reported below with the line number
            }
            if (text === null) lines.push({ ok: false, code: "ingress_invalid_utf8", line, detail: "line is not valid UTF-8", endOffset: lineEnd });
            else lines.push({ ok: true, text, line, endOffset: lineEnd });
          }
        }
        offset = lineEnd;
        start = nl + 1;
      }
      pos += n;
      if (lines.length >= maxLines) break;
    }
    return { lines, cursor: { ino: st.ino, offset, line }, size: st.size, reset };
  } finally {
    fs.closeSync(fd);
  }
}

/** Count complete lines after `offset` (the queue depth), without decoding them. */
/** Newlines in [from, to) of an open file. */
function countNewlines(fd: number, from: number, to: number, buf: Buffer): number {
  let count = 0;
  let pos = from;
  while (pos < to) {
    const n = fs.readSync(fd, buf, 0, Math.min(buf.length, to - pos), pos);
    if (n <= 0) break;
    let i = buf.indexOf(10, 0);
    while (i !== -1 && i < n) {
      count += 1;
      i = buf.indexOf(10, i + 1);
    }
    pos += n;
  }
  return count;
}

/** What the last count of a file saw: its inode, the range scanned and the newlines in it. */
export interface LineCountMemo {
  ino: number;
  from: number;
  to: number;
  count: number;
}

/**
 * `countLinesAfter` without rescanning the whole backlog every cycle: with the memo of the previous count of
 * the same file (same inode, cursor not behind it, file not shrunk) only the bytes consumed since (already in the
 * page cache) and the bytes appended since are read. Anything else is a full count. Updates `memo` in place.
 */
export function countLinesAfterMemo(file: string, offset: number, memos: Map<string, LineCountMemo>): number {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch {
    memos.delete(file);
    return 0;
  }
  try {
    const st = fs.fstatSync(fd);
    const buf = Buffer.allocUnsafe(CHUNK);
    const m = memos.get(file);
    let count: number;
    if (m && m.ino === st.ino && offset >= m.from && offset <= m.to && st.size >= m.to) {
      count = m.count - countNewlines(fd, m.from, offset, buf) + countNewlines(fd, m.to, st.size, buf);
    } else {
      count = countNewlines(fd, offset, st.size, buf);
    }
    memos.set(file, { ino: st.ino, from: offset, to: st.size, count });
    return count;
  } finally {
    fs.closeSync(fd);
  }
}

export function countLinesAfter(file: string, offset: number): number {
  return countLinesAfterMemo(file, offset, new Map());
}
