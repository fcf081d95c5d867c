/**
 * @module `tau ingest`: raw provider payloads (or v1 envelopes) → normalized, validated lines appended
 * through the ingress writer. Bad items are refused with a reason code and their line; good ones still go in.
 */
import type { Envelope, NormalizeContext, NormalizeResult, Transport } from "../contracts/envelope.ts";
import { splitPayload } from "./split-payload.ts";
import { validateEnvelope } from "./parse-line.ts";
import type { IngressWriter } from "./writer.ts";

export type Normalizer = (raw: unknown, ctx: NormalizeContext) => NormalizeResult;

export interface IngestIssue {
  line: number;
  item: number;
  code: string;
  detail: string;
}

export interface IngestReport {
  transport: Transport;
  accepted: number;
  event_ids: string[];
  ignored: IngestIssue[];
  refused: IngestIssue[];
}

/** Normalize every item of a payload file and append the valid envelopes in one durable batch. */
export async function ingestPayload(input: {
  bytes: Buffer;
  transport: Transport;
  normalize: Normalizer;
  ctx: NormalizeContext;
  writer: IngressWriter;
  maxLineBytes: number;
}): Promise<IngestReport> {
  const report: IngestReport = { transport: input.transport, accepted: 0, event_ids: [], ignored: [], refused: [] };
  const envelopes: Envelope[] = [];
  for (const item of splitPayload(input.bytes, input.maxLineBytes)) {
    if (!item.ok) {
      report.refused.push({ line: item.line, item: item.item, code: item.code, detail: item.detail });
      continue;
    }
    const v = item.value as Record<string, unknown> | null;
    if (v && typeof v === "object" && !Array.isArray(v) && "v" in v) {
      // Already an envelope (e.g. replaying an ingress file): validate it as such.
      const r = validateEnvelope(v, input.transport);
      if (r.ok) envelopes.push(r.envelope);
      else report.refused.push({ line: item.line, item: item.item, code: r.code, detail: r.detail });
      continue;
    }
    let result: NormalizeResult;
    try {
      result = input.normalize(item.value, input.ctx);
    } catch (err) {
      result = { ok: false, code: "ingress_payload_invalid", detail: `normalizer failed: ${(err as Error).message}` };
    }
    if (!result.ok) {
      report.refused.push({ line: item.line, item: item.item, code: result.code, detail: result.detail });
      continue;
    }
    envelopes.push(...result.envelopes);
    for (const ig of result.ignored) report.ignored.push({ line: item.line, item: item.item, code: ig.code, detail: ig.detail });
  }
  // Refuse oversized envelopes one by one so a single bad item never blocks the others.
  const maxBytes = input.maxLineBytes;
  const fit = envelopes.filter((e, i) => {
    const size = Buffer.byteLength(JSON.stringify(e)) + 1;
    if (size <= maxBytes) return true;
    report.refused.push({
      line: 0,
      item: i + 1,
      code: "ingress_line_too_large",
      detail: `${e.event_id}: ${size} bytes; limit ${maxBytes}`,
    });
    return false;
  });
  await input.writer.append(input.transport, fit);
  report.accepted = fit.length;
  report.event_ids = fit.map((e) => e.event_id);
  return report;
}
