/** @module The ingress port connectors write to: append envelopes durably (resolves after fsync). */
import type { Envelope, Transport } from "./envelope.ts";

/** Implemented by `src/ingress/writer.ts`; handed to connectors so they never import src/. */
export interface IngressSink {
  append(transport: Transport, envelopes: readonly Envelope[]): Promise<void>;
}
