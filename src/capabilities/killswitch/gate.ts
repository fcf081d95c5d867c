/**
 * @module The operational gate a running service consults on its hot path: kill switches plus per-transport
 * lifecycle (logged out). The tables are read at most once per `ttlMs` (default 500 ms), so a `tau killswitch
 * on …` or `tau channel logout …` from another process takes effect within about a second without a query per
 * event. Answers are reason codes, never booleans, so traces say why.
 */
import type { Store } from "../../store/index.ts";
import { isLoggedOutRecord, lifecycleKey } from "../../lifecycle/state.ts";
import { activeScopes } from "./switches.ts";

export interface OperationalSnapshot {
  /** Kill switch scopes that are on. */
  killed: ReadonlySet<string>;
  /** Transports whose lifecycle record says logged_out. */
  loggedOut: ReadonlySet<string>;
  read_at_ms: number;
}

export interface OperationalGate {
  /** For `createDelivery({ blocked })`: why replies on `transport` are held, or null. */
  deliveryBlock(transport: string): "delivery_kill_switch" | "logout_requested" | null;
  /** For the transport gate stage: why events of `transport` are recorded without an answer, or null. */
  transportBlock(transport: string): "transport_kill_switch" | "logout_requested" | null;
  /** True while the `responders` switch is on (commands still answer). */
  respondersSilenced(): boolean;
  /** The current (cached) snapshot. */
  snapshot(): OperationalSnapshot;
  /** Forget the cache (the next question reads the tables). */
  invalidate(): void;
}

/** What the gate reads: the kill switches and the key-value lifecycle records. */
export type OperationalState = Pick<Store, "killswitches" | "kv">;

/** Read kill switches and lifecycle records now. */
export function readOperationalSnapshot(store: OperationalState, now: number): OperationalSnapshot {
  const loggedOut = new Set<string>();
  const prefix = lifecycleKey("");
  for (const r of store.kv.withPrefix(prefix)) if (isLoggedOutRecord(r.value)) loggedOut.add(r.key.slice(prefix.length));
  return { killed: new Set(activeScopes(store.killswitches)), loggedOut, read_at_ms: now };
}

/** Create the cached gate over `store`; `clock` decides when the cache expires. */
export function createOperationalGate(store: OperationalState, clock: () => number, ttlMs = 500): OperationalGate {
  let snap: OperationalSnapshot | null = null;
  const current = (): OperationalSnapshot => {
    const now = clock();
    if (!snap || now - snap.read_at_ms >= ttlMs || now < snap.read_at_ms) snap = readOperationalSnapshot(store, now);
    return snap;
  };
  return {
    deliveryBlock(transport) {
      const s = current();
      if (s.killed.has("outbound") || s.killed.has(`transport:${transport}`)) return "delivery_kill_switch";
      return s.loggedOut.has(transport) ? "logout_requested" : null;
    },
    transportBlock(transport) {
      const s = current();
      if (s.killed.has(`transport:${transport}`)) return "transport_kill_switch";
      return s.loggedOut.has(transport) ? "logout_requested" : null;
    },
    respondersSilenced: () => current().killed.has("responders"),
    snapshot: current,
    invalidate() {
      snap = null;
    },
  };
}
