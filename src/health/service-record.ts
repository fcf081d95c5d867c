/**
 * @module The service's effective configuration, recorded by `tau run` at start and refreshed by its watchdog: the
 * transports it runs and their modes (whatever mix of tau.yaml and environment produced them), the thresholds health
 * judges by, and the responder checks made with the service's own secrets. Health reads this record, not the
 * caller's environment, so a monitoring shell and the service give the same verdict.
 */
import type { Transport } from "../contracts/envelope.ts";

/** kv key of the record. */
export const SERVICE_RECORD_KEY = "service_config";

/** A failing responder check, as the service saw it. */
export interface RecordedIssue {
  key: string;
  code: string;
  detail: string;
}

export interface ServiceRecord {
  v: 1;
  pid: number;
  started_at_ms: number;
  /** Set at a clean shutdown; null while running (or after a crash). */
  stopped_at_ms: number | null;
  /** Last refresh (start, then every watchdog evaluation). */
  refreshed_at_ms: number;
  config_file: string | null;
  policies_dir: string;
  /** Mode per transport, "disabled" included. */
  connectors: Record<Transport, string>;
  outbound_mode: string;
  backlog_threshold_ms: number;
  stale_after_ms: number;
  communications: boolean;
  responder_issues: RecordedIssue[];
  alerts: { enabled: boolean; interval_ms: number; targets: number };
}

interface KvRead {
  get(key: string): string | undefined;
}

/** The recorded service configuration, or null when no `tau run` ever recorded one (or the record is unreadable). */
export function readServiceRecord(kv: KvRead): ServiceRecord | null {
  const raw = kv.get(SERVICE_RECORD_KEY);
  if (!raw) return null;
  try {
    const r = JSON.parse(raw) as Partial<ServiceRecord>;
    return r.v === 1 && r.connectors && typeof r.backlog_threshold_ms === "number" ? (r as ServiceRecord) : null;
  } catch {
    return null;
  }
}

/** Store the record. */
export function writeServiceRecord(kv: { put(key: string, value: string): void }, r: ServiceRecord): void {
  kv.put(SERVICE_RECORD_KEY, JSON.stringify(r));
}
