/**
 * @module Last-known-good configuration: the active policy set, reloads that keep the last good set on error
 * (recording `policy_reload_rejected`), and fail-closed when nothing good was ever loaded. A required policy file
 * that disappears after a good load is a rejected reload too (a deleted rbac.yaml must not silently drop the admins).
 * The known-good policy sources are persisted, so a restart with a broken file still runs on the last good policy;
 * the communications contracts and tau.yaml join them in a known-good snapshot of every configuration file
 * (`config_lkg`), taken whenever each part validates, which `tau policy rollback` can restore.
 */
import { describeError } from "../contracts/errors.ts";
import { loadPolicySet, policySetFromSources, type PolicyFeatures, type PolicySet } from "./policy-set.ts";
import { readConfigSnapshot, type ConfigSnapshot, type SnapshotOptions } from "./config-snapshot.ts";

/** Persistence for the known-good snapshot and the reload status (the kv table). */
interface PolicyStateStore {
  get(key: string): string | undefined;
  put(key: string, value: string): void;
}

export interface PolicyStatus {
  state: "ok" | "reload_rejected" | "no_known_good";
  active_sha256: string | null;
  error: string | null;
  at_ms: number;
  /** Required policy files missing at the last reload (their secure default is active). */
  missing: string[];
}

export interface PolicyManager {
  /** The active set, or null when tau must fail closed. */
  current(): PolicySet | null;
  status(): PolicyStatus;
  /** Re-read the folder; on error keep the last known good. Returns the new status. */
  reload(): PolicyStatus;
}

/** What else the manager validates on each reload, for the known-good snapshot (tau.yaml, communications contracts). */
export interface PolicyManagerOptions {
  features?: PolicyFeatures;
  /** The files of the configuration snapshot and their validators; without it only policies are managed. */
  snapshot?: SnapshotOptions;
}

const LKG_KEY = "policy_lkg";
const STATUS_KEY = "policy_status";
/** Every configuration file (policies, communications contracts, tau.yaml) as last validated, by relative path. */
const CONFIG_LKG_KEY = "config_lkg";
/** The service's tau.yaml reload outcome (SIGHUP). */
const CONFIG_STATUS_KEY = "config_status";

export function createPolicyManager(
  dir: string,
  kv: PolicyStateStore,
  clock: () => number,
  opts: PolicyManagerOptions = {},
): PolicyManager {
  let active: PolicySet | null = null;
  let status: PolicyStatus = { state: "no_known_good", active_sha256: null, error: null, at_ms: clock(), missing: [] };

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
      const next = loadPolicySet(dir, opts.features);
      // A required file that the known-good set had, gone now: keep the known good (one typo must not drop admins).
      const lost = next.missing.filter((f) => (active?.sources[f] ?? "").trim() !== "");
      if (lost.length)
        throw new Error(`${lost.map((f) => `${dir}/${f}`).join(", ")}: required policy file missing (the last known good has it)`);
      active = next;
      kv.put(LKG_KEY, JSON.stringify(next.sources));
      status = { state: "ok", active_sha256: next.sha256, error: null, at_ms: clock(), missing: next.missing };
    } catch (err) {
      status = {
        state: active ? "reload_rejected" : "no_known_good",
        active_sha256: active?.sha256 ?? null,
        error: describeError(err),
        at_ms: clock(),
        missing: [],
      };
    }
    kv.put(STATUS_KEY, JSON.stringify(status));
    if (opts.snapshot) keepKnownGood(kv, readConfigSnapshot(opts.snapshot));
    return status;
  }

  reload();
  return { current: () => active, status: () => status, reload };
}

/** Merge the parts of a snapshot that validate into the persisted known-good snapshot. */
function keepKnownGood(kv: PolicyStateStore, snap: ConfigSnapshot): void {
  const prev = readConfigLkg(kv) ?? {};
  const next = { ...prev };
  for (const part of snap.parts) if (part.error === null) for (const [rel, text] of Object.entries(part.files)) next[rel] = text;
  if (JSON.stringify(next) !== JSON.stringify(prev)) kv.put(CONFIG_LKG_KEY, JSON.stringify(next));
}

/** The known-good snapshot of every configuration file (relative path → text; "" = absent), or null. */
export function readConfigLkg(kv: Pick<PolicyStateStore, "get">): Record<string, string> | null {
  const raw = kv.get(CONFIG_LKG_KEY);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as Record<string, string>;
  } catch {
    return null;
  }
}

/** The last recorded status, for read-only views (`tau health`) that do not load policies themselves. */
export function readPolicyStatus(kv: Pick<PolicyStateStore, "get">): PolicyStatus | null {
  const raw = kv.get(STATUS_KEY);
  if (!raw) return null;
  const s = JSON.parse(raw) as Partial<PolicyStatus>;
  return {
    state: s.state ?? "no_known_good",
    active_sha256: s.active_sha256 ?? null,
    error: s.error ?? null,
    at_ms: s.at_ms ?? 0,
    missing: s.missing ?? [],
  };
}

/** The service's last tau.yaml reload: `ok`, or `reload_rejected` (it runs on the configuration it started with). */
export interface ConfigStatus {
  state: "ok" | "reload_rejected" | "restart_required";
  error: string | null;
  at_ms: number;
}

export function recordConfigStatus(kv: PolicyStateStore, s: ConfigStatus): void {
  kv.put(CONFIG_STATUS_KEY, JSON.stringify(s));
}

export function readConfigStatus(kv: Pick<PolicyStateStore, "get">): ConfigStatus | null {
  const raw = kv.get(CONFIG_STATUS_KEY);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as ConfigStatus;
  } catch {
    return null;
  }
}
