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

/** A line as read, not yet decoded (see `decodeLine`): `bytes` views the read buffer. */
export type ByteLine =
  | { ok: true; bytes: Buffer; line: number; endOffset: number }
  | { ok: false; code: "ingress_line_too_large"; line: number; detail: string; endOffset: number };

export interface ReadResult<L = RawLine> {
  lines: L[];
  /** Cursor after the last returned line. */
  cursor: IngressCursor;
  /** File size at read time. */
  size: number;
  /** True when the file at the path is not the one the cursor pointed at (rotated or replaced). */
  reset: boolean;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const CHUNK = 1 << 20;
const SMALL_CHUNK = 64 << 10;

/** Decode one line read by `readLineBytes`; bytes that are not UTF-8 are reported, with the line number. */
export function decodeLine(l: ByteLine): RawLine {
  if (!l.ok) return l;
  let text: string;
  try {
    text = utf8.decode(l.bytes);
  } catch {
    return { ok: false, code: "ingress_invalid_utf8", line: l.line, detail: "line is not valid UTF-8", endOffset: l.endOffset };
  }
  return { ok: true, text, line: l.line, endOffset: l.endOffset };
}

/** Read up to `maxLines` complete lines after `cursor`. Returns null when the file does not exist. */
export function readLines(file: string, cursor: IngressCursor | null, maxLines: number, maxLineBytes: number): ReadResult | null {
  const r = readLineBytes(file, cursor, maxLines, maxLineBytes);
  return r && { ...r, lines: r.lines.map(decodeLine) };
}

/**
 * `readLines` without decoding: each line's bytes, to decode (`decodeLine`) when it is processed — a batch's
 * text need not all stay alive until the batch is done. Returns null when the file does not exist.
 */
export function readLineBytes(
  file: string,
  cursor: IngressCursor | null,
  maxLines: number,
  maxLineBytes: number,
  /** Reused for the first chunk read (the lines returned may view it until the next read with it). */
  scratch?: Buffer,
): ReadResult<ByteLine> | null {
  // The runner asks for every transport's file each cycle, and most transports never write one: a missing file is
  // answered without the Error (and its stack) a failed open builds; any other failure (EACCES) still throws. One
  // that goes away after this is still caught below.
  if (fs.statSync(file, { throwIfNoEntry: false }) === undefined) return null;
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
    const lines: ByteLine[] = [];
    let carry: Buffer | null = null; // bytes of a line that started in an earlier chunk
    let skipping = false; // inside an oversized line: discard until its newline
    let skipStartLine = 0;
    let pos = offset;
    // A few lines (the backlog's oldest, say) need no megabyte; a longer line is carried over to the next chunk.
    let want = maxLines < 64 ? SMALL_CHUNK : CHUNK;
    let reuse = scratch;
    while (lines.length < maxLines && pos < st.size) {
      // Lines returned are views into the chunk: only the first may use the scratch buffer, later ones are fresh.
      const size = Math.min(want, st.size - pos);
      const buf = reuse && reuse.length >= size ? reuse : Buffer.allocUnsafe(size);
      reuse = undefined;
      want = CHUNK;
      const n = fs.readSync(fd, buf, 0, size, pos);
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
          lines.push({
            ok: false,
            code: "ingress_line_too_large",
            line: skipStartLine,
            detail: `line exceeds ${maxLineBytes} bytes`,
            endOffset: lineEnd,
          });
          skipping = false;
        } else {
          const bytes = carry ? Buffer.concat([carry, buf.subarray(start, nl)]) : buf.subarray(start, nl);
          carry = null;
          if (bytes.length + 1 > maxLineBytes) {
            lines.push({
              ok: false,
              code: "ingress_line_too_large",
              line,
              detail: `line is ${bytes.length + 1} bytes; limit ${maxLineBytes}`,
              endOffset: lineEnd,
            });
          } else {
            lines.push({ ok: true, bytes, line, endOffset: lineEnd });
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
    fd = fs.statSync(file, { throwIfNoEntry: false }) === undefined ? -1 : fs.openSync(file, "r");
  } catch {
    fd = -1;
  }
  if (fd === -1) {
    memos.delete(file);
    return 0;
  }
  try {
    const st = fs.fstatSync(fd);
    const m = memos.get(file);
    const memo = m && m.ino === st.ino && offset >= m.from && offset <= m.to && st.size >= m.to ? m : null;
    // Sized to the larger range to scan (with a memo: what was consumed or appended since the last count).
    const span = memo ? Math.max(offset - memo.from, st.size - memo.to) : st.size - offset;
    const buf = Buffer.allocUnsafe(Math.max(1, Math.min(CHUNK, span)));
    const count = memo
      ? memo.count - countNewlines(fd, memo.from, offset, buf) + countNewlines(fd, memo.to, st.size, buf)
      : countNewlines(fd, offset, st.size, buf);
    memos.set(file, { ino: st.ino, from: offset, to: st.size, count });
    return count;
  } finally {
    fs.closeSync(fd);
  }
}

export function countLinesAfter(file: string, offset: number): number {
  return countLinesAfterMemo(file, offset, new Map());
}
