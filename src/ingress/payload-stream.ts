/**
 * @module Stream a raw payload file into items with bounded memory. NDJSON is read line by line (a line at a time is
 * all that is held); a multi-line JSON document (a pretty-printed object, array or getUpdates response) is gathered
 * up to `maxDocumentBytes` and parsed whole. Each complete unit (a line or a document) is expanded into items by
 * `splitPayload`, so what an item is stays defined in one place. Invalid UTF-8 is reported once, at its line.
 */
import type { IngressCode } from "../contracts/reason-codes.ts";
import { splitPayload, type RawItem } from "./split-payload.ts";

export interface PayloadStreamOptions {
  /** A line longer than this is refused (`ingress_line_too_large`) without being held in memory. */
  maxLineBytes: number;
  /** A multi-line JSON document larger than this is refused with a hint to convert it to NDJSON. */
  maxDocumentBytes: number;
}

/** Default cap for a whole-document payload (a getUpdates response is at most 100 updates; a webhook body 1 MB). */
export const DEFAULT_MAX_DOCUMENT_BYTES = 32 * 1024 * 1024;

const utf8 = new TextDecoder("utf-8", { fatal: true });
const NL = 10;
const CR = 13;
const QUOTE = 34;
const BACKSLASH = 92;
const OPEN = new Set([123, 91]); // { [
const CLOSE = new Set([125, 93]); // } ]
const WS = new Set([32, 9, 13, 10]);
/** After one of these a JSON value may start inside a document: `[`, `,`, `:`. */
const VALUE_LEADS = new Set([91, 44, 58]);

interface Scan {
  depth: number;
  /** Last significant (non-whitespace, outside strings) byte, or -1. */
  last: number;
}

/** Bracket depth and last significant byte after `bytes`, starting from `s`. Strings never span lines in JSON. */
function scan(bytes: Uint8Array, s: Scan): Scan {
  let { depth, last } = s;
  let inString = false;
  let escaped = false;
  for (const b of bytes) {
    if (inString) {
      if (escaped) escaped = false;
      else if (b === BACKSLASH) escaped = true;
      else if (b === QUOTE) {
        inString = false;
        last = b;
      }
      continue;
    }
    if (b === QUOTE) inString = true;
    else if (OPEN.has(b)) depth += 1;
    else if (CLOSE.has(b)) depth -= 1;
    if (!WS.has(b)) last = b;
  }
  return { depth, last };
}

function firstNonSpace(bytes: Uint8Array): number {
  for (const b of bytes) if (!WS.has(b)) return b;
  return -1;
}

function lineError(bytes: Uint8Array): string {
  try {
    JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"));
    return "invalid JSON";
  } catch (err) {
    return (err as Error).message.slice(0, 200);
  }
}

/** The parse error of a whole document, its position turned into a file line and column. */
function documentError(bytes: Uint8Array, startLine: number, complete: boolean): string {
  if (!complete) return "the document ends before its closing bracket";
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
  try {
    JSON.parse(text);
    return "invalid JSON";
  } catch (err) {
    const msg = (err as Error).message.slice(0, 200);
    const pos = msg.match(/at position (\d+)/);
    if (!pos) return msg;
    const before = text.slice(0, Number(pos[1]));
    const nl = before.lastIndexOf("\n");
    const line = startLine + (before.match(/\n/g)?.length ?? 0);
    return `${msg} (line ${line}, column ${before.length - nl})`;
  }
}

interface Doc {
  startLine: number;
  endLine: number;
  lines: Uint8Array[];
  bytes: number;
  scan: Scan;
  badUtf8Line: number | null;
  tooLargeLine: number | null;
  overCap: boolean;
}

/**
 * Items of a payload given as byte chunks (a file read stream, or one Buffer). Line numbers are 1-based file lines;
 * item numbers count every item and refusal across the file. Never throws on bad input: bad units become refusals.
 */
export async function* streamPayloadItems(chunks: AsyncIterable<Uint8Array>, opts: PayloadStreamOptions): AsyncGenerator<RawItem> {
  let item = 0;
  let lineNo = 0;
  let doc: Doc | null = null;
  const out: RawItem[] = [];

  const refuse = (line: number, code: IngressCode, detail: string) => out.push({ ok: false, code, line, item: ++item, detail });
  /** Expand one complete unit (a line or a document) with splitPayload, renumbering lines and items. */
  const unit = (bytes: Uint8Array, line: number): RawItem[] =>
    splitPayload(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), Number.MAX_SAFE_INTEGER).map((r) => ({
      ...r,
      line: line + r.line - 1,
      item: ++item,
    }));

  const finishDoc = (d: Doc, complete: boolean) => {
    const range = d.startLine === d.endLine ? `line ${d.startLine}` : `lines ${d.startLine}–${d.endLine}`;
    if (d.badUtf8Line !== null) {
      refuse(
        d.badUtf8Line,
        "ingress_invalid_utf8",
        `line is not valid UTF-8 (in the JSON document at ${range}; nothing of it was ingested)`,
      );
      return;
    }
    if (d.tooLargeLine !== null) {
      refuse(d.tooLargeLine, "ingress_line_too_large", `line is over ${opts.maxLineBytes} bytes (in the JSON document at ${range})`);
      return;
    }
    if (d.overCap) {
      refuse(
        d.startLine,
        "ingress_line_too_large",
        `the JSON document at ${range} is over ${opts.maxDocumentBytes} bytes, the limit for a single-document payload; ` +
          `convert it to NDJSON (one item per line), e.g. jq -c '.[]' FILE (array) or jq -c '.result[]' FILE (getUpdates)`,
      );
      return;
    }
    const joined = Buffer.concat(d.lines.flatMap((l, i) => (i === 0 ? [l] : [Buffer.from([NL]), l])));
    if (complete) {
      const whole = unit(joined, d.startLine);
      // A document that parsed whole comes back as items of its first line; otherwise splitPayload fell back to lines.
      if (whole.every((r) => r.line === d.startLine)) {
        out.push(...whole);
        return;
      }
      item -= whole.length;
    }
    // Not one valid document: keep the lines that are complete JSON values on their own (a broken NDJSON line
    // swallowed the next ones), refuse the rest once, at the document's first line — not once per line.
    const kept: RawItem[] = [];
    let rest = 0;
    for (const [i, l] of d.lines.entries()) {
      const r = unit(l, d.startLine + i);
      item -= r.length;
      if (r.length > 0 && r.every((x) => x.ok)) kept.push(...r);
      else if (firstNonSpace(l) !== -1) rest += 1;
    }
    if (rest > 0 || !complete) {
      const why = d.lines.length === 1 || rest === 1 ? lineError(d.lines[0]!) : documentError(joined, d.startLine, complete);
      refuse(d.startLine, "ingress_malformed_json", d.lines.length === 1 || rest === 1 ? why : `the JSON document at ${range}: ${why}`);
    }
    for (const k of kept) out.push({ ...k, item: ++item });
  };

  const onLine = (raw: Uint8Array, tooLong: number | null) => {
    lineNo += 1;
    let bytes = raw;
    if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    if (doc) {
      const d = doc;
      if (tooLong !== null) {
        d.tooLargeLine ??= lineNo;
        d.endLine = lineNo;
        // The line's brackets are unknown: the document is refused; go back to reading lines.
        finishDoc(d, true);
        doc = null;
        return;
      }
      // A line that is a complete value on its own where the document cannot take a value: the document was
      // a broken NDJSON line; settle it and read this line as NDJSON.
      const lead = bytes[0];
      if (lead !== undefined && OPEN.has(lead) && !VALUE_LEADS.has(d.scan.last) && d.badUtf8Line === null) {
        const alone = unit(bytes, lineNo);
        item -= alone.length;
        if (alone.length > 0 && alone.every((x) => x.ok)) {
          finishDoc(d, false);
          doc = null;
          lineNo -= 1;
          onLine(raw, null);
          return;
        }
      }
      d.endLine = lineNo;
      d.scan = scan(bytes, d.scan);
      if (d.badUtf8Line === null) {
        try {
          utf8.decode(bytes);
        } catch {
          d.badUtf8Line = lineNo;
        }
      }
      d.bytes += bytes.length + 1;
      if (d.bytes > opts.maxDocumentBytes) d.overCap = true;
      if (d.overCap || d.badUtf8Line !== null) d.lines = [];
      else d.lines.push(Uint8Array.from(bytes));
      if (d.scan.depth <= 0) {
        finishDoc(d, true);
        doc = null;
      }
      return;
    }
    if (tooLong !== null) {
      refuse(lineNo, "ingress_line_too_large", `line is ${tooLong} bytes; limit ${opts.maxLineBytes}`);
      return;
    }
    const lead = firstNonSpace(bytes);
    if (lead === -1) return;
    const items = unit(bytes, lineNo);
    const malformed = items.length === 1 && !items[0]!.ok && items[0]!.code === "ingress_malformed_json";
    if (malformed && OPEN.has(lead)) {
      const s = scan(bytes, { depth: 0, last: -1 });
      if (s.depth > 0) {
        // The start of a multi-line document (pretty-printed JSON): gather it.
        item -= 1;
        doc = {
          startLine: lineNo,
          endLine: lineNo,
          lines: [Uint8Array.from(bytes)],
          bytes: bytes.length + 1,
          scan: s,
          badUtf8Line: null,
          tooLargeLine: null,
          overCap: bytes.length + 1 > opts.maxDocumentBytes,
        };
        return;
      }
    }
    out.push(...items);
  };

  // Line splitting over chunks: only the current line is held (up to maxLineBytes; past it, only its length).
  let parts: Uint8Array[] = [];
  let partLen = 0;
  let tooLong = false;
  const takeLine = () => {
    const raw = tooLong ? new Uint8Array(0) : parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    onLine(raw, tooLong ? partLen : null);
    parts = [];
    partLen = 0;
    tooLong = false;
  };
  const add = (piece: Uint8Array) => {
    partLen += piece.length;
    if (tooLong) return;
    if (partLen > opts.maxLineBytes) {
      tooLong = true;
      parts = [];
      return;
    }
    // Views are fine: a line is handled before the next chunk is read, and a reader never reuses a chunk's memory.
    if (piece.length > 0) parts.push(piece);
  };
  for await (const chunk of chunks) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NL, start);
      if (nl === -1) {
        add(chunk.subarray(start));
        break;
      }
      add(chunk.subarray(start, nl));
      takeLine();
      start = nl + 1;
      // Hand items on as they come, so a large chunk (a whole Buffer) is not parsed in full before the first one.
      if (out.length >= 64) yield* out.splice(0);
    }
    if (out.length > 0) yield* out.splice(0);
  }
  if (partLen > 0 || parts.length > 0) takeLine();
  if (doc) {
    finishDoc(doc, false);
    doc = null;
  }
  yield* out.splice(0);
}
