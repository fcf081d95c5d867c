/**
 * @module Per-transport lifecycle state in kv `lifecycle:<transport>` =
 * `{"state":"logged_in"|"logged_out","reason":…,"at_ms":…}`. The connector runtime stops a logged-out
 * connector; the transport gate and the delivery hook hold its events and replies. No record = never logged
 * out (a fresh install works without `tau channel login`).
 */
import { TRANSPORTS, type Transport } from "../contracts/envelope.ts";

type LifecycleStateName = "logged_in" | "logged_out";

interface LifecycleRecord {
  state: LifecycleStateName;
  /** `ready` after a login, `logout_requested` after a logout. */
  reason: string;
  at_ms: number;
}

/** Read/write access to key-value state (the Store's `kv` family). */
export interface KvPort {
  get(key: string): string | undefined;
  put(key: string, value: string): void;
}

export const lifecycleKey = (transport: string): string => `lifecycle:${transport}`;

/** Parse a stored record; anything unreadable counts as no record. */
export function parseLifecycle(raw: string | undefined): LifecycleRecord | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as Partial<LifecycleRecord>;
    if ((v.state === "logged_in" || v.state === "logged_out") && typeof v.reason === "string" && typeof v.at_ms === "number") {
      return { state: v.state, reason: v.reason, at_ms: v.at_ms };
    }
  } catch {
    // fall through: a damaged record is treated as absent
  }
  return null;
}

/**
 * Is the transport logged out? Only `state` counts (a hand-written `{"state":"logged_out"}` stops it too): the
 * connector runtime, the transport gate and health all ask this one question.
 */
export function isLoggedOut(kv: Pick<KvPort, "get">, transport: string): boolean {
  return isLoggedOutRecord(kv.get(lifecycleKey(transport)));
}

/** The same question over a stored record's text (for callers that list every record at once). */
export function isLoggedOutRecord(raw: string | undefined): boolean {
  if (!raw) return false;
  try {
    return (JSON.parse(raw) as { state?: unknown }).state === "logged_out";
  } catch {
    return false;
  }
}

export function readLifecycle(kv: KvPort, transport: string): LifecycleRecord | null {
  return parseLifecycle(kv.get(lifecycleKey(transport)));
}

export function writeLifecycle(kv: KvPort, transport: string, record: LifecycleRecord): void {
  kv.put(lifecycleKey(transport), JSON.stringify(record));
}
