/**
 * @module Health for one state dir, composed from what the database knows: the runner state, dead letters, the
 * policy reload status, kill switches and connector liveness. Used by `tau health`, `/tau health` and `/healthz`.
 */
import { readPolicyStatus } from "../config/policy-manager.ts";
import { activeScopes } from "../capabilities/killswitch/switches.ts";
import type { RunnerState } from "../runner/runner-state.ts";
import type { Db, Store } from "../store/index.ts";
import { computeHealth, type HealthReport } from "./health.ts";

/** The part of an open app health needs. */
export interface HealthSource {
  db: Db;
  store: Store;
  clock: () => number;
}

/** A connector is not live when its persisted status says so (written by the connector runtime). */
function connectorsNotLive(db: Db): string[] {
  const rows = db.prepare("SELECT key, value FROM kv WHERE key LIKE 'connector_status:%'").all() as { key: string; value: string }[];
  return rows.flatMap((r) => {
    try {
      const s = JSON.parse(r.value) as { transport?: string; liveness?: string };
      return s.liveness && s.liveness !== "live" && s.liveness !== "stopped" ? [s.transport ?? r.key.slice("connector_status:".length)] : [];
    } catch {
      return [];
    }
  });
}

/** Inputs from outside the core tables, computed by the composition root (src/main.ts `healthFor`). */
export interface HealthExtras {
  commsReplayPending?: number;
}

export function healthOf(app: HealthSource, extras: HealthExtras = {}): HealthReport {
  const raw = app.store.kv.get("runner_state");
  const runner = raw ? (JSON.parse(raw) as RunnerState) : null;
  const deadLetters = app.db.prepare("SELECT COUNT(*) FROM outbox WHERE status = 'dead_letter'").pluck().get() as number;
  const policy = readPolicyStatus({ get: (k) => app.store.kv.get(k), put: (k, v) => app.store.kv.put(k, v) });
  return computeHealth({
    runner,
    deadLetters,
    commsReplayPending: extras.commsReplayPending,
    policyReloadRejected: policy?.state === "reload_rejected",
    policyLoadError: policy?.state === "no_known_good",
    connectorsNotLive: connectorsNotLive(app.db),
    killSwitches: activeScopes(app.db),
  });
}
