/**
 * @module One ingress line → a validated envelope, or a quarantine reason with detail.
 */
import { EnvelopeSchema, type Envelope, type Transport } from "../contracts/envelope.ts";
import type { IngressCode } from "../contracts/reason-codes.ts";

export type ParsedLine = { ok: true; envelope: Envelope } | { ok: false; code: IngressCode; detail: string };

/** Validate a line read from `<transport>.ndjson`. */
export function parseIngressLine(text: string, transport: Transport): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, code: "ingress_malformed_json", detail: (err as Error).message.slice(0, 200) };
  }
  return validateEnvelope(value, transport);
}

/** Validate an already-parsed value as a v1 envelope of `transport`. */
export function validateEnvelope(value: unknown, transport: Transport | null): ParsedLine {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { ok: false, code: "ingress_envelope_invalid", detail: "expected a JSON object" };
  }
  const o = value as Record<string, unknown>;
  if (o.v !== 1) {
    return { ok: false, code: "ingress_schema_version_unsupported", detail: `v=${JSON.stringify(o.v) ?? "missing"}; this tau reads v=1` };
  }
  if (typeof o.event_id !== "string" || o.event_id.length === 0) {
    return { ok: false, code: "ingress_missing_id", detail: "event_id is missing or empty" };
  }
  if (transport !== null && o.transport !== transport) {
    return {
      ok: false,
      code: "ingress_transport_mismatch",
      detail: `transport ${JSON.stringify(o.transport)} in the ${transport} ingress file`,
    };
  }
  const r = EnvelopeSchema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0]!;
    return { ok: false, code: "ingress_envelope_invalid", detail: `${i.path.join(".") || "(root)"}: ${i.message}` };
  }
  return { ok: true, envelope: r.data };
}
