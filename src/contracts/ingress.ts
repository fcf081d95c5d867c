/** @module The ingress port connectors write to: append envelopes durably (resolves after fsync). */
import type { Envelope, Transport } from "./envelope.ts";

/** Implemented by `src/ingress/writer.ts`; handed to connectors so they never import src/. */
export interface IngressSink {
  append(transport: Transport, envelopes: readonly Envelope[]): Promise<void>;
}

/**
 * A provider item refused at intake (invalid, missing its id): quarantined with its reason code so the operator
 * can see and replay it, while the good items of the same payload are appended (PRODUCT.md §4, per-item refusal).
 */
export interface IntakeRefusal {
  /** Where it came from: `webhook`, `gateway`, `polling`, `imap`. */
  source: string;
  reason: string;
  detail: string;
  /** The refused item as received (kept in the quarantine file only, never in logs). */
  raw?: unknown;
}

/** Implemented by composition (`state/quarantine/<transport>.ndjson` + the quarantine table); resolves once durable. */
export interface QuarantineSink {
  quarantine(transport: Transport, items: readonly IntakeRefusal[]): Promise<void>;
}
