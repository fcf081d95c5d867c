/**
 * @module Turn the contents of a raw payload file into items: one JSON object, a JSON array, NDJSON,
 * a Telegram getUpdates response (`{ok, result:[…]}`) or a WhatsApp webhook body as-is.
 */
import type { IngressCode } from "../contracts/reason-codes.ts";

export type RawItem =
  { ok: true; value: unknown; line: number; item: number } | { ok: false; code: IngressCode; line: number; item: number; detail: string };

const utf8 = new TextDecoder("utf-8", { fatal: true });

function expand(value: unknown, line: number, startItem: number): RawItem[] {
  if (Array.isArray(value)) return value.map((v, i) => ({ ok: true as const, value: v, line, item: startItem + i }));
  if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    // Telegram getUpdates response: the updates are in `result`.
    if (o.ok === true && Array.isArray(o.result)) {
      return o.result.map((v, i) => ({ ok: true as const, value: v, line, item: startItem + i }));
    }
  }
  return [{ ok: true, value, line, item: startItem }];
}

/** Split file bytes into raw items, with line numbers for NDJSON; bad lines become refusals, not exceptions. */
export function splitPayload(bytes: Buffer, maxLineBytes: number): RawItem[] {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    text = ""; // fall through to per-line decoding to find the bad lines
    return splitLines(bytes, maxLineBytes);
  }
  const trimmed = text.trim();
  if (trimmed === "") return [];
  // A whole-file JSON document (object, array, pretty-printed) first.
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try {
      return expand(JSON.parse(trimmed), 1, 1);
    } catch {
      // not one document: NDJSON below
    }
  }
  return splitLines(bytes, maxLineBytes);
}

function splitLines(bytes: Buffer, maxLineBytes: number): RawItem[] {
  const out: RawItem[] = [];
  let start = 0;
  let line = 0;
  let item = 0;
  while (start <= bytes.length) {
    let nl = bytes.indexOf(10, start);
    if (nl === -1) nl = bytes.length;
    line += 1;
    const raw = bytes.subarray(start, nl);
    start = nl + 1;
    if (raw.length > maxLineBytes) {
      out.push({
        ok: false,
        code: "ingress_line_too_large",
        line,
        item: ++item,
        detail: `line is ${raw.length} bytes; limit ${maxLineBytes}`,
      });
      continue;
    }
    let s: string;
    try {
      s = utf8.decode(raw).trim();
    } catch {
      out.push({ ok: false, code: "ingress_invalid_utf8", line, item: ++item, detail: "line is not valid UTF-8" });
      continue;
    }
    if (s === "") continue;
    try {
      const items = expand(JSON.parse(s), line, item + 1);
      item += items.length;
      out.push(...items);
    } catch (err) {
      out.push({ ok: false, code: "ingress_malformed_json", line, item: ++item, detail: (err as Error).message.slice(0, 200) });
    }
  }
  return out;
}
