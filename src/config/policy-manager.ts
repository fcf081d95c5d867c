/**
 * @module Last-known-good policy management: the active set, reloads that keep the last good set on error
 * (recording `policy_reload_rejected`), and fail-closed when nothing good was ever loaded. The known-good
 * sources are persisted, so a restart with a broken file still runs on the last good policy.
 */
import { describeError } from "../contracts/errors.ts";
import { loadPolicySet, policySetFromSources, type PolicySet } from "./policy-set.ts";

/** Persistence for the known-good snapshot and the reload status (the kv table). */
interface PolicyStateStore {
  get(key: string): string | undefined;
  put(key: string, value: string): void;
}

interface PolicyStatus {
  state: "ok" | "reload_rejected" | "no_known_good";
  active_sha256: string | null;
  error: string | null;
  at_ms: number;
}

export interface PolicyManager {
  /** The active set, or null when tau must fail closed. */
  current(): PolicySet | null;
  status(): PolicyStatus;
  /** Re-read the folder; on error keep the last known good. Returns the new status. */
  reload(): PolicyStatus;
}

const LKG_KEY = "policy_lkg";
const STATUS_KEY = "policy_status";

export function createPolicyManager(dir: string, kv: PolicyStateStore, clock: () => number): PolicyManager {
  let active: PolicySet | null = null;
  let status: PolicyStatus = { state: "no_known_good", active_sha256: null, error: null, at_ms: clock() };

  const persisted = kv.get(LKG_KEY);
  if (persisted) {
    try {
      active = policySetFromSources(dir, JSON.parse(persisted) as Record<string, string>);
    } catch {
      active = null; // a snapshot from an incompatible version: ignore it
    }
  }

  function reload(): PolicyStatus {
    try {
      const next = loadPolicySet(dir);
      active = next;
      kv.put(LKG_KEY, JSON.stringify(next.sources));
      status = { state: "ok", active_sha256: next.sha256, error: null, at_ms: clock() };
    } catch (err) {
      status = {
        state: active ? "reload_rejected" : "no_known_good",
        active_sha256: active?.sha256 ?? null,
        error: describeError(err),
        at_ms: clock(),
      };
    }
    kv.put(STATUS_KEY, JSON.stringify(status));
    return status;
  }

  reload();
  return { current: () => active, status: () => status, reload };
}

/** The last recorded status, for read-only views (`tau health`) that do not load policies themselves. */
export function readPolicyStatus(kv: PolicyStateStore): PolicyStatus | null {
  const raw = kv.get(STATUS_KEY);
  return raw ? (JSON.parse(raw) as PolicyStatus) : null;
}
