/**
 * @module The facts health is computed from, read from the Store: the runner state (parsed here, once), dead
 * letters, the policy status, every transport's connector status and lifecycle, and active kill switches. Reads
 * only; never writes, so a read-only monitoring user gets the same verdict as the service.
 */
import type { TauConfig } from "../config/index.ts";
import { readPolicyStatus } from "../config/policy-manager.ts";
import type { Clock } from "../contracts/clock.ts";
import { TRANSPORTS } from "../contracts/envelope.ts";
import { isLoggedOut } from "../lifecycle/state.ts";
import type { RunnerState } from "../contracts/health.ts";
import type { Store } from "../store/index.ts";
import { connectorStatusKey, readConnectorStatus, type ConnectorFact } from "./connector-liveness.ts";
import type { HealthInputs } from "./health.ts";

/** What health reads: the store, the config (connector modes) and the clock (staleness). */
interface HealthSource {
  store: Store;
  config: TauConfig;
  clock: Clock;
}

/** The runner state the runner persists after each cycle (kv `runner_state`), or null before the first cycle. */
export function readRunnerState(store: Store): RunnerState | null {
  const raw = store.kv.get("runner_state");
  if (!raw) return null;
  try {
    return JSON.parse(raw) as RunnerState;
  } catch {
    return null;
  }
}

/** Every transport's connector status as another process reads it, with its logout state. */
export function readConnectorFacts(src: HealthSource): ConnectorFact[] {
  const now = src.clock();
  return TRANSPORTS.map((t) => {
    const loggedOut = isLoggedOut(src.store.kv, t);
    return {
      status: readConnectorStatus(t, src.config.connectors[t].mode, src.store.kv.get(connectorStatusKey(t)), loggedOut, now),
      loggedOut,
    };
  });
}

/** All health inputs; `commsReplayPending` comes from the communications contracts (computed by the composition). */
export function readHealthFacts(src: HealthSource, extras: { commsReplayPending?: number } = {}): HealthInputs {
  return {
    runner: readRunnerState(src.store),
    deadLetters: src.store.outbox.countInStatus("dead_letter"),
    commsReplayPending: extras.commsReplayPending ?? 0,
    policyState: readPolicyStatus(src.store.kv)?.state ?? null,
    connectors: readConnectorFacts(src),
    killSwitches: src.store.killswitches.activeScopes(),
  };
}
