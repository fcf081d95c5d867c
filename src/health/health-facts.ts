/**
 * @module The facts health is computed from, read from state: the runner state (parsed here, once), the ingress
 * backlog, dead letters, the policy and config status, every transport's connector status and lifecycle, and active
 * kill switches — judged with the service's recorded configuration (service-record.ts) when there is one, so the
 * caller's environment never changes the verdict. Reads only; never writes.
 */
import { runnerStateKey, type TauConfig } from "../config/index.ts";
import { readConfigStatus, readPolicyStatus } from "../config/policy-manager.ts";
import type { Clock } from "../contracts/clock.ts";
import { TRANSPORTS, type Transport } from "../contracts/envelope.ts";
import { isLoggedOut } from "../lifecycle/state.ts";
import type { RunnerState } from "../contracts/health.ts";
import type { Store } from "../store/index.ts";
import { connectorStatusKey, readConnectorStatus, type ConnectorFact } from "./connector-liveness.ts";
import type { HealthInputs } from "./health.ts";
import { readQueueFact } from "./queue-facts.ts";
import { readServiceRecord, type ServiceRecord } from "./service-record.ts";

/** What health reads: the store, the state folder (ingress), the caller's config (when no service recorded one) and the clock. */
export interface HealthSource {
  store: Store;
  stateDir: string;
  config: TauConfig;
  clock: Clock;
}

/** The configuration health judges by: the service's record, else the caller's config. */
export interface EffectiveConfig {
  source: "service_record" | "caller_config";
  connectors: Record<Transport, string>;
  backlog_threshold_ms: number;
  stale_after_ms: number;
  communications: boolean;
  record: ServiceRecord | null;
}

export function effectiveConfig(store: Pick<Store, "kv">, config: TauConfig): EffectiveConfig {
  const record = readServiceRecord(store.kv);
  if (record)
    return {
      source: "service_record",
      connectors: record.connectors,
      backlog_threshold_ms: record.backlog_threshold_ms,
      stale_after_ms: record.stale_after_ms,
      communications: record.communications,
      record,
    };
  return {
    source: "caller_config",
    connectors: Object.fromEntries(TRANSPORTS.map((t) => [t, config.connectors[t].mode])) as Record<Transport, string>,
    backlog_threshold_ms: config.runner.backlog_threshold_ms,
    stale_after_ms: config.runner.stale_after_ms,
    communications: config.features.communications,
    record: null,
  };
}

/** This node's runner state as its runner persists it after each cycle (`runnerStateKey`), or null before the first cycle. */
export function readRunnerState(store: Pick<Store, "kv">, config: Pick<TauConfig, "cluster" | "store">): RunnerState | null {
  const raw = store.kv.get(runnerStateKey(config));
  if (!raw) return null;
  try {
    return JSON.parse(raw) as RunnerState;
  } catch {
    return null;
  }
}

/** Every transport's connector status as another process reads it, with its logout state, in its effective mode. */
export function readConnectorFacts(src: Omit<HealthSource, "stateDir">, modes?: Record<Transport, string>): ConnectorFact[] {
  const now = src.clock();
  const mode = modes ?? effectiveConfig(src.store, src.config).connectors;
  return TRANSPORTS.map((t) => {
    const loggedOut = isLoggedOut(src.store.kv, t);
    return {
      status: readConnectorStatus(t, mode[t] ?? "disabled", src.store.kv.get(connectorStatusKey(t)), loggedOut, now),
      loggedOut,
    };
  });
}

/** Facts the composition works out from files and secrets (health never loads contracts or checks responders itself). */
export interface ComputedFacts {
  commsReplayPending: number;
  /** null when the contracts load or the feature is off. */
  commsContractError: string | null;
  /** Responder names whose check fails, as the caller sees them (used only when no service record exists). */
  respondersMisconfigured: readonly string[];
  /** The calendar's contract error or the CalDAV server's last failed answer; null when no calendar is configured. */
  calendar: { contractError: string | null; serverDown: string | null } | null;
}

/** All health inputs. */
export function readHealthFacts(src: HealthSource, computed: ComputedFacts): HealthInputs {
  const eff = effectiveConfig(src.store, src.config);
  const policy = readPolicyStatus(src.store.kv);
  const fromRecord = eff.record
    ? [...new Set(eff.record.responder_issues.map((i) => i.key.replace(/^responder\.(binding\.)?/, "")))]
    : null;
  return {
    now: src.clock(),
    runner: readRunnerState(src.store, src.config),
    queue: readQueueFact(src.store, src.stateDir, src.config),
    thresholds: { backlog_threshold_ms: eff.backlog_threshold_ms, stale_after_ms: eff.stale_after_ms },
    deadLetters: src.store.outbox.countInStatus("dead_letter"),
    commsReplayPending: computed.commsReplayPending,
    policyState: policy?.state ?? null,
    policyFilesMissing: policy?.missing ?? [],
    configReloadRejected: readConfigStatus(src.store.kv)?.state === "reload_rejected",
    commsContractError: eff.communications ? computed.commsContractError : null,
    respondersMisconfigured: fromRecord ?? computed.respondersMisconfigured,
    calendar: computed.calendar,
    connectors: readConnectorFacts(src, eff.connectors),
    killSwitches: src.store.killswitches.activeScopes(),
  };
}
