/**
 * @module Turn the contents of a raw payload file into items: one JSON object, a JSON array, NDJSON,
 * a Telegram getUpdates response (`{ok, result:[…]}`), or a WhatsApp webhook body (split into one item per
 * message, status and error, so each is accepted or refused on its own).
 */
import type { IngressCode } from "../contracts/reason-codes.ts";

export type RawItem =
  { ok: true; value: unknown; line: number; item: number } | { ok: false; code: IngressCode; line: number; item: number; detail: string };

const utf8 = new TextDecoder("utf-8", { fatal: true });

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The per-item arrays of a WhatsApp change value: one item of any of them is one event. */
const WHATSAPP_ITEM_ARRAYS = ["messages", "statuses", "errors"] as const;

/**
 * A WhatsApp webhook body → one body per message, status and error (each keeping its entry, change field, metadata
 * and contacts), so a bad message is refused with its own item number and the others of the body still go in.
 * Anything not shaped like a body is left whole for the normalizer to judge.
 * @see https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/reference/messages (batched entries/changes)
 */
function splitWhatsAppBody(body: Record<string, unknown>): unknown[] {
  if (body.object !== "whatsapp_business_account" || !Array.isArray(body.entry)) return [body];
  const parts: unknown[] = [];
  for (const entry of body.entry as unknown[]) {
    if (!isRecord(entry) || !Array.isArray(entry.changes)) {
      parts.push({ ...body, entry: [entry] });
      continue;
    }
    for (const change of entry.changes as unknown[]) {
      const one = (c: unknown) => ({ ...body, entry: [{ ...entry, changes: [c] }] });
      const value = isRecord(change) ? change.value : undefined;
      if (!isRecord(change) || !isRecord(value)) {
        parts.push(one(change));
        continue;
      }
      const rest: Record<string, unknown> = { ...value };
      for (const key of WHATSAPP_ITEM_ARRAYS) delete rest[key];
      const items = WHATSAPP_ITEM_ARRAYS.flatMap((key) =>
        Array.isArray(value[key]) ? (value[key] as unknown[]).map((v) => [key, v] as const) : [],
      );
      if (items.length <= 1) parts.push(one(change));
      else for (const [key, v] of items) parts.push(one({ ...change, value: { ...rest, [key]: [v] } }));
    }
  }
  return parts.length > 0 ? parts : [body];
}

function expand(value: unknown, line: number, startItem: number): RawItem[] {
  const items = (values: readonly unknown[]) => values.map((v, i) => ({ ok: true as const, value: v, line, item: startItem + i }));
  if (Array.isArray(value)) return items(value.flatMap((v) => (isRecord(v) ? splitWhatsAppBody(v) : [v])));
  if (isRecord(value)) {
    // Telegram getUpdates response: the updates are in `result`.
    if (value.ok === true && Array.isArray(value.result)) return items(value.result);
    return items(splitWhatsAppBody(value));
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
