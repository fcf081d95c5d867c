/** @module Ingress: the durable writer, the cursor reader, line validation, payload ingestion. */
export { createIngressWriter, ingressFile, encodeEnvelopes, type IngressWriter, type IngressWriterStats } from "./writer.ts";
export {
  readLines,
  readLineBytes,
  decodeLine,
  countLinesAfter,
  countLinesAfterMemo,
  type LineCountMemo,
  type IngressCursor,
  type RawLine,
  type ByteLine,
  type ReadResult,
} from "./reader.ts";
export { storedFileCursor } from "./file-cursor.ts";
export { parseIngressLine, validateEnvelope, type ParsedLine } from "./parse-line.ts";
export { splitPayload, type RawItem } from "./split-payload.ts";
export { ingestPayload, type IngestReport, type IngestIssue, type IngestProgress, type Normalizer } from "./ingest-file.ts";
export { streamPayloadItems, DEFAULT_MAX_DOCUMENT_BYTES } from "./payload-stream.ts";
export {
  createJetStreamIngressWriter,
  openConfiguredIngressWriter,
  lazyJetStream,
  jetStreamSettings,
  ingressSubject,
  transportOfSubject,
  INGRESS_SUBJECT_PREFIX,
  RUNNER_CONSUMER,
  type JetStreamPort,
  type JetStreamSettings,
  type JetStreamWriterStats,
  type StreamMessage,
  type ConsumerLag,
} from "./jetstream.ts";
