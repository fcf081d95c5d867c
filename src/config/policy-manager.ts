/**
 * @module Last-known-good configuration: the active policy set, reloads that keep the last good set on error
 * (recording `policy_reload_rejected`), and fail-closed when nothing good was ever loaded. A required policy file
 * that disappears after a good load is a rejected reload too (a deleted rbac.yaml must not silently drop the admins).
 * The known-good policy sources are persisted, so a restart with a broken file still runs on the last good policy;
 * the communications contracts and tau.yaml join them in a known-good snapshot of every configuration file
 * (`config_lkg`), taken whenever each part validates, which `tau policy rollback` can restore.
 *
 * Several nodes sharing one store (`shared`): a reload that validates publishes the set as a new generation of the
 * shared control document `policies`; every node polls the generation (`sync`, `watchPolicyGeneration`) and applies a
 * newer set, and a node starting up takes the stored set rather than its own folder. Alone (the SQLite default) the
 * folder is the source, as it always was.
 */
import { createHash } from "node:crypto";
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
  /** Re-read the folder; on error keep the last known good (shared: publish a new set to every node). Returns the new status. */
  reload(trigger?: string): PolicyStatus;
  /** Shared: apply a set another node published since this one last looked; null when nothing is new (or not shared). */
  sync(): SyncOutcome | null;
}

/** A published set this node picked up (`sync`): the generation, who published it, and the status after applying it. */
export interface SyncOutcome {
  generation: number;
  set_by: string;
  trigger: string;
  status: PolicyStatus;
}

/** A document in the shared control store (store `control` family), as the manager reads and publishes it. */
export interface SharedDocument {
  generation: number;
  sha256: string;
  documents: Record<string, string>;
  set_by: string;
  trigger: string;
  set_at_ms: number;
}

/** The shared control store (`store.control`): documents by name, each with a generation that grows on publish. */
export interface SharedControl {
  generation(name: string): number;
  get(name: string): SharedDocument | null;
  publish(name: string, doc: Omit<SharedDocument, "generation">): number;
}

/** What else the manager validates on each reload, for the known-good snapshot (tau.yaml, communications contracts). */
export interface PolicyManagerOptions {
  features?: PolicyFeatures;
  /** The files of the configuration snapshot and their validators; without it only policies are managed. */
  snapshot?: SnapshotOptions;
  /** Several nodes share the store: policies live in its control documents, published by `node` on reload. */
  shared?: { control: SharedControl; node: string };
}

/** The shared control documents: the policy set every node runs, and the known-good snapshot of every file. */
export const SHARED_POLICIES = "policies";
export const SHARED_CONFIG_LKG = "config_lkg";

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
  const shared = opts.shared ?? null;
  /** The shared generation this node runs (0: none yet). */
  let applied = 0;

  const persisted = kv.get(LKG_KEY);
  if (persisted) {
    try {
      active = policySetFromSources(dir, JSON.parse(persisted) as Record<string, string>);
    } catch {
      active = null; // a snapshot from an incompatible version: ignore it
    }
  }

  function record(next: PolicyStatus): PolicyStatus {
    status = next;
    kv.put(STATUS_KEY, JSON.stringify(status));
    return status;
  }

  function rejected(err: unknown): PolicyStatus {
    return {
      state: active ? "reload_rejected" : "no_known_good",
      active_sha256: active?.sha256 ?? null,
      error: describeError(err),
      at_ms: clock(),
      missing: [],
    };
  }

  function reload(trigger = "reload"): PolicyStatus {
    let next: PolicySet;
    try {
      next = loadPolicySet(dir, opts.features);
      // A required file that the known-good set had, gone now: keep the known good (one typo must not drop admins).
      const lost = next.missing.filter((f) => (active?.sources[f] ?? "").trim() !== "");
      if (lost.length)
        throw new Error(`${lost.map((f) => `${dir}/${f}`).join(", ")}: required policy file missing (the last known good has it)`);
    } catch (err) {
      record(rejected(err));
      if (opts.snapshot) keepKnownGood(readConfigSnapshot(opts.snapshot), trigger);
      return status;
    }
    if (shared) {
      try {
        publish(next, trigger);
      } catch (err) {
        // Not published, so not run here either: every node keeps running the same set.
        record(rejected(new Error(`policies not published to the shared store: ${describeError(err)}`)));
        return status;
      }
    }
    active = next;
    kv.put(LKG_KEY, JSON.stringify(next.sources));
    record({ state: "ok", active_sha256: next.sha256, error: null, at_ms: clock(), missing: next.missing });
    if (opts.snapshot) keepKnownGood(readConfigSnapshot(opts.snapshot), trigger);
    return status;
  }

  /** Shared: make `set` the one every node runs (a new generation unless it is already the stored one). */
  function publish(set: PolicySet, trigger: string): void {
    const stored = shared!.control.get(SHARED_POLICIES);
    if (stored?.sha256 === set.sha256) {
      applied = Math.max(applied, stored.generation);
      return;
    }
    applied = shared!.control.publish(SHARED_POLICIES, {
      sha256: set.sha256,
      documents: set.sources,
      set_by: shared!.node,
      trigger,
      set_at_ms: clock(),
    });
  }

  /** Shared: run the stored set (at start, or a newer generation another node published). */
  function applyStored(doc: SharedDocument): PolicyStatus {
    applied = doc.generation;
    try {
      const set = policySetFromSources(dir, doc.documents);
      active = set;
      kv.put(LKG_KEY, JSON.stringify(set.sources));
      return record({ state: "ok", active_sha256: set.sha256, error: null, at_ms: clock(), missing: [] });
    } catch (err) {
      // A set this build cannot read (another version published it): keep running the known good, and say why.
      return record(rejected(new Error(`shared policies generation ${doc.generation} from ${doc.set_by}: ${describeError(err)}`)));
    }
  }

  function sync(): SyncOutcome | null {
    if (!shared || shared.control.generation(SHARED_POLICIES) <= applied) return null;
    const doc = shared.control.get(SHARED_POLICIES);
    if (!doc || doc.generation <= applied) return null;
    return { generation: doc.generation, set_by: doc.set_by, trigger: doc.trigger, status: applyStored(doc) };
  }

  /** Merge the parts of a snapshot that validate into the persisted known-good snapshot (shared: published too). */
  function keepKnownGood(snap: ConfigSnapshot, trigger: string): void {
    const changed = mergeKnownGood(kv, snap);
    if (!changed || !shared) return;
    try {
      shared.control.publish(SHARED_CONFIG_LKG, {
        sha256: createHash("sha256")
          .update(JSON.stringify(Object.entries(changed).sort()))
          .digest("hex"),
        documents: changed,
        set_by: shared.node,
        trigger,
        set_at_ms: clock(),
      });
    } catch (err) {
      // A record, not what any node runs: the kv copy holds it, and the next reload that changes it publishes again.
      status = { ...status, error: status.error ?? `known-good snapshot not published: ${describeError(err)}` };
    }
  }

  // Shared and already published by some node: run that, not this node's folder (a reload publishes the folder).
  const stored = shared?.control.get(SHARED_POLICIES) ?? null;
  if (stored) applyStored(stored);
  else reload("startup");
  return { current: () => active, status: () => status, reload, sync };
}

/**
 * Poll the shared policy generation every `intervalMs` (default 250: a reload on one node reaches the others within a
 * second, on either engine) and apply a newer set; `onSync` hears each one. Returns a function that stops it.
 */
export function watchPolicyGeneration(
  manager: Pick<PolicyManager, "sync">,
  onSync: (outcome: SyncOutcome) => void,
  opts: { intervalMs?: number; onError?: (err: unknown) => void } = {},
): () => void {
  const timer = setInterval(() => {
    try {
      const outcome = manager.sync();
      if (outcome) onSync(outcome);
    } catch (err) {
      opts.onError?.(err); // the store is unreachable this time: the next tick tries again
    }
  }, opts.intervalMs ?? 250);
  timer.unref();
  return () => clearInterval(timer);
}

/** Merge the parts of a snapshot that validate into the persisted known-good snapshot; returns it when it changed. */
function mergeKnownGood(kv: PolicyStateStore, snap: ConfigSnapshot): Record<string, string> | null {
  const prev = readConfigLkg(kv) ?? {};
  const next = { ...prev };
  for (const part of snap.parts) if (part.error === null) for (const [rel, text] of Object.entries(part.files)) next[rel] = text;
  if (JSON.stringify(next) === JSON.stringify(prev)) return null;
  kv.put(CONFIG_LKG_KEY, JSON.stringify(next));
  return next;
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
