/**
 * @module Kill switches (table `killswitches`): scopes `outbound` (hold every reply), `responders` (silence
 * responders; commands still answer) and `transport:<name>` (record that transport's events without answering
 * and hold its replies). A switch is a row; turning it off keeps the row (who, when, why) and every change
 * appends an audit record in the same transaction.
 */
import { TRANSPORTS } from "../../contracts/envelope.ts";
import { ValidationError } from "../../contracts/errors.ts";
import type { AuditEntry } from "../../audit/audit-log.ts";
import type { Store } from "../../store/index.ts";

export type KillSwitchScope = "outbound" | "responders" | `transport:${(typeof TRANSPORTS)[number]}`;

/** Scopes as a pattern, for argument schemas. */
export const KILLSWITCH_SCOPE_PATTERN = new RegExp(`^(outbound|responders|transport:(${TRANSPORTS.join("|")}))$`);

/** Every valid scope, in display order. */
export const KILLSWITCH_SCOPES: readonly KillSwitchScope[] = [
  "outbound",
  "responders",
  ...TRANSPORTS.map((t) => `transport:${t}` as const),
];

export interface KillSwitchRow {
  scope: KillSwitchScope;
  is_on: boolean;
  reason: string;
  changed_by: string;
  at_ms: number;
}

/** Validate a scope from the CLI or chat; throws a usage error naming the valid scopes. */
export function parseScope(raw: string): KillSwitchScope {
  const s = raw.trim().toLowerCase();
  if (!KILLSWITCH_SCOPE_PATTERN.test(s)) {
    throw new ValidationError("USAGE_KILLSWITCH_SCOPE", `unknown kill switch scope "${raw}"`, {
      hint: `use one of ${KILLSWITCH_SCOPES.join(", ")}`,
    });
  }
  return s as KillSwitchScope;
}

/** Every recorded switch (on and off), by scope. */
export function listKillSwitches(switches: Store["killswitches"]): KillSwitchRow[] {
  return switches.list() as KillSwitchRow[];
}

/** Scopes currently on. */
export function activeScopes(switches: Store["killswitches"]): KillSwitchScope[] {
  return switches.activeScopes() as KillSwitchScope[];
}

export interface KillSwitchChange {
  scope: KillSwitchScope;
  on: boolean;
  reason: string;
  /** Principal: `cli:<user>` or `<transport>:<actor id>`. */
  actor: string;
  surface: AuditEntry["surface"];
}

/** Turn a switch on or off and append the audit record, in one unit of work. `changed` is false when it already was. */
export function setKillSwitch(
  store: Pick<Store, "killswitches" | "atomically">,
  change: KillSwitchChange,
  now: number,
  audit: (e: AuditEntry) => void,
): { changed: boolean; row: KillSwitchRow } {
  return store.atomically(() => {
    const prev = store.killswitches.isOn(change.scope);
    const changed = (prev === true) !== change.on;
    if (changed || prev === undefined)
      store.killswitches.put({ scope: change.scope, is_on: change.on, reason: change.reason, changed_by: change.actor, at_ms: now });
    const row = listKillSwitches(store.killswitches).find((r) => r.scope === change.scope)!;
    audit({
      actor: change.actor,
      surface: change.surface,
      action: change.on ? "killswitch.on" : "killswitch.off",
      target: change.scope,
      args: { reason: change.reason },
      outcome: changed ? (change.on ? "on" : "off") : "unchanged",
      reason_code: change.on ? "killswitch_on" : "killswitch_off",
    });
    return { changed, row };
  });
}
