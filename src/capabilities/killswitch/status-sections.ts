/**
 * @module Kill switches and logged-out transports as `tau status` sections (listed in `src/cli/observe.ts`). Health
 * reads the active switches itself (`src/health/health-facts.ts`): each is reported as `kill_switch_on:<scope>`.
 */
import type { Store } from "../../store/index.ts";
import { TRANSPORTS } from "../../contracts/envelope.ts";
import { isLoggedOut, readLifecycle } from "../../lifecycle/state.ts";
import { listKillSwitches } from "./switches.ts";

/** `tau status` section: every switch ever set, and which are on. */
export const killSwitchStatusSection = {
  name: "killswitches",
  render: (app: { store: Pick<Store, "killswitches"> }) => {
    const rows = listKillSwitches(app.store.killswitches);
    return { active: rows.filter((r) => r.is_on).map((r) => r.scope), switches: rows };
  },
  human: (app: { store: Pick<Store, "killswitches"> }) => {
    const on = listKillSwitches(app.store.killswitches).filter((r) => r.is_on);
    return on.length ? on.map((r) => `${r.scope} ON (${r.changed_by}${r.reason ? `: ${r.reason}` : ""})`).join(", ") : "none on";
  },
};

/** Per transport, the lifecycle record; a record that only says `{"state":"logged_out"}` still shows as logged out. */
function lifecycleRows(kv: Store["kv"]) {
  return TRANSPORTS.map((t) => {
    const rec = readLifecycle(kv, t);
    if (rec) return { transport: t, ...rec };
    return { transport: t, state: isLoggedOut(kv, t) ? "logged_out" : "never_changed", reason: null, at_ms: null };
  });
}

/** `tau status` section: per transport, logged in / logged out (PRODUCT.md §2.1 `tau channel`). */
export const lifecycleStatusSection = {
  name: "lifecycle",
  render: (app: { store: Pick<Store, "kv"> }) => lifecycleRows(app.store.kv),
  human: (app: { store: Pick<Store, "kv"> }) => {
    const out = lifecycleRows(app.store.kv).filter((r) => r.state === "logged_out");
    return out.length ? `logged out: ${out.map((r) => r.transport).join(", ")}` : "no transport logged out";
  },
};
