/**
 * @module Store family: kill switches (table `killswitches`). A switch is one row per scope; turning it off keeps
 * the row (who, when, why). Scopes are plain strings here; `src/capabilities/killswitch` validates them.
 */
import type { Db } from "./db.ts";

/** A stored switch. */
export interface KillSwitchRecord {
  scope: string;
  is_on: boolean;
  reason: string;
  changed_by: string;
  at_ms: number;
}

export function createKillSwitchStore(db: Db) {
  const q = {
    list: db.prepare<[], Omit<KillSwitchRecord, "is_on"> & { is_on: number }>(
      "SELECT scope, is_on, reason, changed_by, at_ms FROM killswitches ORDER BY scope",
    ),
    active: db.prepare<[], string>("SELECT scope FROM killswitches WHERE is_on = 1 ORDER BY scope").pluck(),
    isOn: db.prepare<[string], number>("SELECT is_on FROM killswitches WHERE scope = ?").pluck(),
    put: db.prepare(
      "INSERT INTO killswitches (scope, is_on, reason, changed_by, at_ms) VALUES (@scope, @is_on, @reason, @changed_by, @at_ms) " +
        "ON CONFLICT(scope) DO UPDATE SET is_on = excluded.is_on, reason = excluded.reason, changed_by = excluded.changed_by, at_ms = excluded.at_ms",
    ),
  };
  return {
    /** Every recorded switch (on and off), by scope. */
    list: (): KillSwitchRecord[] => q.list.all().map((r) => ({ ...r, is_on: r.is_on === 1 })),
    /** Scopes currently on, by scope. */
    activeScopes: (): string[] => q.active.all(),
    /** Whether `scope` is on; undefined when it was never set. */
    isOn: (scope: string): boolean | undefined => {
      const v = q.isOn.get(scope);
      return v === undefined ? undefined : v === 1;
    },
    /** Record a switch's state, who changed it, when and why. */
    put: (r: KillSwitchRecord) =>
      void q.put.run({ scope: r.scope, is_on: r.is_on ? 1 : 0, reason: r.reason, changed_by: r.changed_by, at_ms: r.at_ms }),
  };
}

export type KillSwitchStore = ReturnType<typeof createKillSwitchStore>;
