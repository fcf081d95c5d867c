/**
 * @module Connector liveness, defined once: how a connector's persisted status reads to another process (stale when
 * its writer went quiet, stopped when the transport is logged out), and when an enabled connector counts as not live.
 * The connector runtime writes the record; `tau connectors status`, `tau health`, `/healthz` and `/tau health` read it.
 */
import { initialStatus, type ConnectorStatus } from "../contracts/connector.ts";
import type { Transport } from "../contracts/envelope.ts";

/** kv key of a connector's persisted status: `{"status": ConnectorStatus, "updated_at_ms": …}`. */
export const connectorStatusKey = (t: Transport): string => `connector_status:${t}`;

/** A status its writer has not refreshed for this long is `stale` (the runtime writes at least every second while running). */
const CONNECTOR_STATUS_STALE_MS = 30_000;

/** What health knows about one transport's connector. */
export interface ConnectorFact {
  status: ConnectorStatus;
  /** `tau channel logout`: the connector is stopped on purpose. */
  loggedOut: boolean;
}

/** A persisted status as another process reads it: `mode` from config, `stale` when old, `stopped` when logged out. */
export function readConnectorStatus(
  t: Transport,
  mode: string,
  stored: string | undefined,
  loggedOut: boolean,
  now: number,
): ConnectorStatus {
  let status = initialStatus(t, mode);
  if (stored) {
    try {
      const rec = JSON.parse(stored) as { status: ConnectorStatus; updated_at_ms: number };
      status = { ...rec.status, mode };
      if (status.liveness !== "stopped" && now - rec.updated_at_ms > CONNECTOR_STATUS_STALE_MS) status.liveness = "stale";
    } catch {
      // An unreadable record is reported as the initial status.
    }
  }
  return loggedOut ? { ...status, liveness: "stopped", last_error_code: "logout_requested" } : status;
}

/** Enabled, not logged-out transports whose connector is not live. */
export function connectorsNotLive(facts: readonly ConnectorFact[]): Transport[] {
  return facts.filter((f) => f.status.mode !== "disabled" && !f.loggedOut && f.status.liveness !== "live").map((f) => f.status.transport);
}
