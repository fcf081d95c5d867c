/**
 * @module `tau ingest`: raw provider payloads (or v1 envelopes) → normalized, validated lines appended through the
 * ingress writer in bounded batches, so memory stays flat whatever the file size. Bad items are refused with a
 * reason code and their line; good ones still go in.
 */
import type { Envelope, NormalizeContext, NormalizeResult, Transport } from "../contracts/envelope.ts";
import { DEFAULT_MAX_DOCUMENT_BYTES, streamPayloadItems } from "./payload-stream.ts";
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
  /** The accepted event ids, the first `MAX_LISTED` of them (`event_ids_truncated` says when there were more). */
  event_ids: string[];
  event_ids_truncated: boolean;
  /** The first `MAX_LISTED` issues of each kind; the totals count all of them. */
  ignored: IngestIssue[];
  refused: IngestIssue[];
  ignored_total: number;
  refused_total: number;
  /** Bytes read from the payload. */
  bytes: number;
}

/** Where ingestion is, for a progress line: bytes read of the total, items accepted and refused so far. */
export interface IngestProgress {
  bytes: number;
  totalBytes: number | null;
  accepted: number;
  refused: number;
  done: boolean;
}

/** Lists in the report stop growing here, so a file of a million bad lines cannot exhaust memory. */
export const MAX_LISTED = 1000;
/** Envelopes per durable append: one fsync each, a few MB at most in memory. */
const BATCH_EVENTS = 256;
const BATCH_BYTES = 512 * 1024;

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/**
 * Normalize every item of a payload and append the valid envelopes in durable batches. The payload is a Buffer or a
 * stream of chunks (a file read stream); `onProgress` is called after each batch and once at the end.
 */
export async function ingestPayload(input: {
  bytes?: Buffer;
  chunks?: AsyncIterable<Uint8Array>;
  totalBytes?: number;
  transport: Transport;
  normalize: Normalizer;
  ctx: NormalizeContext;
  writer: IngressWriter;
  maxLineBytes: number;
  maxDocumentBytes?: number;
  onProgress?: (p: IngestProgress) => void;
}): Promise<IngestReport> {
  const report: IngestReport = {
    transport: input.transport,
    accepted: 0,
    event_ids: [],
    event_ids_truncated: false,
    ignored: [],
    refused: [],
    ignored_total: 0,
    refused_total: 0,
    bytes: 0,
  };
  const totalBytes = input.totalBytes ?? input.bytes?.length ?? null;
  const refuse = (i: IngestIssue) => {
    report.refused_total += 1;
    if (report.refused.length < MAX_LISTED) report.refused.push(i);
  };
  const ignore = (i: IngestIssue) => {
    report.ignored_total += 1;
    if (report.ignored.length < MAX_LISTED) report.ignored.push(i);
  };
  const progress = (done: boolean) =>
    input.onProgress?.({ bytes: report.bytes, totalBytes, accepted: report.accepted, refused: report.refused_total, done });

  let batch: Envelope[] = [];
  let batchBytes = 0;
  let envelopeIndex = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await input.writer.append(input.transport, batch);
    report.accepted += batch.length;
    for (const e of batch) {
      if (report.event_ids.length < MAX_LISTED) report.event_ids.push(e.event_id);
      else report.event_ids_truncated = true;
    }
    batch = [];
    batchBytes = 0;
    progress(false);
  };
  const add = async (e: Envelope, line: number) => {
    envelopeIndex += 1;
    // Refuse oversized envelopes one by one so a single bad item never blocks the others.
    const size = Buffer.byteLength(JSON.stringify(e)) + 1;
    if (size > input.maxLineBytes) {
      refuse({
        line,
        item: envelopeIndex,
        code: "ingress_line_too_large",
        detail: `${e.event_id}: ${size} bytes; limit ${input.maxLineBytes}`,
      });
      return;
    }
    batch.push(e);
    batchBytes += size;
    if (batch.length >= BATCH_EVENTS || batchBytes >= BATCH_BYTES) await flush();
  };

  const counted = async function* (src: AsyncIterable<Uint8Array>) {
    for await (const c of src) {
      report.bytes += c.length;
      yield c;
    }
  };
  const source = counted(input.chunks ?? once(input.bytes ?? Buffer.alloc(0)));
  const items = streamPayloadItems(source, {
    maxLineBytes: input.maxLineBytes,
    maxDocumentBytes: input.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES,
  });
  for await (const item of items) {
    if (!item.ok) {
      refuse({ line: item.line, item: item.item, code: item.code, detail: item.detail });
      continue;
    }
    const v = item.value as Record<string, unknown> | null;
    if (v && typeof v === "object" && !Array.isArray(v) && "v" in v) {
      // Already an envelope (e.g. replaying an ingress file): validate it as such.
      const r = validateEnvelope(v, input.transport);
      if (r.ok) await add(r.envelope, item.line);
      else refuse({ line: item.line, item: item.item, code: r.code, detail: r.detail });
      continue;
    }
    let result: NormalizeResult;
    try {
      result = input.normalize(item.value, input.ctx);
    } catch (err) {
      result = { ok: false, code: "ingress_payload_invalid", detail: `normalizer failed: ${(err as Error).message}` };
    }
    if (!result.ok) {
      refuse({ line: item.line, item: item.item, code: result.code, detail: result.detail });
      continue;
    }
    for (const e of result.envelopes) await add(e, item.line);
    for (const ig of result.ignored) ignore({ line: item.line, item: item.item, code: ig.code, detail: ig.detail });
  }
  await flush();
  progress(true);
  return report;
}
