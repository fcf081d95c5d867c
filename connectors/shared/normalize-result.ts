/** @module Builds NormalizeResults for the platform normalizers: refusals from zod issues, final envelope validation. */
import type { z } from "zod";
import { EnvelopeSchema } from "../../src/contracts/envelope.ts";
import type { Envelope, IgnoredItem, NormalizeResult, RefusedItem } from "../../src/contracts/envelope.ts";
import type { IngressCode } from "../../src/contracts/reason-codes.ts";

/** A refusal: the `ok:false` branch of NormalizeResult. */
export type Refusal = Extract<NormalizeResult, { ok: false }>;
/** A value allowed in `envelope.meta`; `undefined` entries are dropped by {@link compactMeta}. */
export type MetaInput = Record<string, string | number | boolean | null | undefined>;
type PathKey = PropertyKey;

/** Refuse with a stable ingress reason code and a `<path>: <what>` detail. */
export function refuse(code: IngressCode, detail: string): Refusal {
  return { ok: false, code, detail };
}

/** Drop `undefined` entries so the meta record holds primitives only. */
export function compactMeta(meta: MetaInput): Envelope["meta"] {
  const out: Envelope["meta"] = {};
  for (const [key, value] of Object.entries(meta)) if (value !== undefined) out[key] = value;
  return out;
}

function formatPath(path: readonly PathKey[]): string {
  return path.length === 0 ? "(root)" : path.map(String).join(".");
}

function valueAt(raw: unknown, path: readonly PathKey[]): unknown {
  let cur: unknown = raw;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

/** `id`, `*_id`, and the platform's own id fields (WhatsApp's `from` wa_id). */
function isIdKey(key: PathKey | undefined, extra: readonly string[]): boolean {
  return typeof key === "string" && (key === "id" || key.endsWith("_id") || extra.includes(key));
}

/**
 * Turn a zod failure on `raw` into a refusal: `ingress_missing_id` when the first failing id field is
 * absent or empty, else `ingress_payload_invalid`; `base` prefixes paths of payloads parsed piecewise;
 * `idKeys` names id fields beyond `id` and `*_id`.
 */
export function refuseZod(error: z.ZodError, raw: unknown, base: readonly PathKey[] = [], idKeys: readonly string[] = []): Refusal {
  const missing = error.issues.find((issue) => {
    if (!isIdKey(issue.path.at(-1), idKeys)) return false;
    const value = valueAt(raw, issue.path);
    return value === undefined || value === null || value === "";
  });
  if (missing) return refuse("ingress_missing_id", `${formatPath([...base, ...missing.path])}: missing`);
  const first = error.issues[0];
  const where = formatPath([...base, ...(first?.path ?? [])]);
  return refuse("ingress_payload_invalid", `${where}: ${first?.message ?? "invalid"}`);
}

/**
 * Validate every envelope against EnvelopeSchema (a failure is a normalizer bug, refused for that item only) and
 * build the result. Items refused one by one go in `refused`; when the payload was a single item that was refused,
 * the result is that refusal (so a one-item payload reads the same as before per-item refusal).
 */
export function finalize(envelopes: Envelope[], ignored: IgnoredItem[], refused: RefusedItem[] = []): NormalizeResult {
  const checked: Envelope[] = [];
  const bad = [...refused];
  for (const envelope of envelopes) {
    const parsed = EnvelopeSchema.safeParse(envelope);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const detail = `${envelope.event_id}: ${formatPath(issue?.path ?? [])}: ${issue?.message ?? "invalid"}`;
      bad.push({ code: "ingress_envelope_invalid", detail });
      continue;
    }
    checked.push(parsed.data);
  }
  if (checked.length === 0 && ignored.length === 0 && bad.length === 1) return refuse(bad[0]!.code as IngressCode, bad[0]!.detail);
  return bad.length > 0 ? { ok: true, envelopes: checked, ignored, refused: bad } : { ok: true, envelopes: checked, ignored };
}

/** A refusal as an item of a batch (the batch's other items still count), with the item itself for the quarantine. */
export function refusedItem(r: Refusal, raw: unknown): RefusedItem {
  return { code: r.code, detail: r.detail, raw };
}
