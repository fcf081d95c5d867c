/** @module IMAP client timeouts and limits, apart from the imapflow adapter so callers need not load it. */
/** Defaults for the knobs callers rarely change. */
export const IMAP_CLIENT_DEFAULTS = {
  connectTimeoutMs: 10_000,
  operationTimeoutMs: 30_000,
  // IDLE on the wire ~0.2 s after the last command: EXISTS arrives well within the 2 s ingestion target.
  idleDelayMs: 200,
  maxSourceBytes: 8 * 1024 * 1024,
} as const;
