/**
 * @module Record the service's effective configuration (src/health/service-record.ts) from inside `tau run`: the
 * transports and modes this process runs with (tau.yaml plus its environment), the thresholds, and the responder checks
 * made with its own secrets. Written at start, refreshed by the watchdog, closed at a clean shutdown.
 */
import { TRANSPORTS, type Transport } from "../contracts/envelope.ts";
import type { Services } from "../capabilities/services.ts";
import { readServiceRecord, writeServiceRecord, type ServiceRecord } from "../health/service-record.ts";
import type { App } from "./open-app.ts";

/** The record for this process now (`startedAt` is kept across refreshes). */
export function serviceRecordFor(app: App, services: Services, startedAt: number, alertTargets: number): ServiceRecord {
  const now = app.clock();
  return {
    v: 1,
    pid: process.pid,
    started_at_ms: startedAt,
    stopped_at_ms: null,
    refreshed_at_ms: now,
    config_file: app.loaded.file,
    policies_dir: app.loaded.policiesDir,
    connectors: Object.fromEntries(TRANSPORTS.map((t) => [t, app.config.connectors[t].mode])) as Record<Transport, string>,
    outbound_mode: app.config.outbound.mode,
    backlog_threshold_ms: app.config.runner.backlog_threshold_ms,
    stale_after_ms: app.config.runner.stale_after_ms,
    communications: app.config.features.communications,
    responder_issues: services.responders
      .checks()
      .filter((c) => !c.ok)
      .map((c) => ({ key: c.key, code: c.code, detail: c.detail ?? c.code })),
    alerts: { enabled: app.config.alerts.enabled, interval_ms: app.config.alerts.interval_ms, targets: alertTargets },
  };
}

/** Write (or refresh) the record. */
export function recordService(app: App, services: Services, startedAt: number, alertTargets: number): ServiceRecord {
  const r = serviceRecordFor(app, services, startedAt, alertTargets);
  writeServiceRecord(app.store.kv, r);
  return r;
}

/** Mark the record stopped at a clean shutdown (health still judges by it: the service's connectors are not live). */
export function recordServiceStopped(app: App): void {
  const r = readServiceRecord(app.store.kv);
  if (r && r.pid === process.pid) writeServiceRecord(app.store.kv, { ...r, stopped_at_ms: app.clock() });
}
