/**
 * @module Kill switches and logged-out transports in `tau health` and `tau status`: a health contributor (each
 * switch that is on is listed as `kill_switch_on:<scope>`; it does not degrade health by itself) and status
 * sections; `src/observability/health-of.ts` and `tau status` compose them.
 */
import type { Db } from "../../store/index.ts";
import { TRANSPORTS } from "../../contracts/envelope.ts";
import { parseLifecycle } from "../../lifecycle/state.ts";
import { listKillSwitches } from "./switches.ts";

/** `tau status` section: every switch ever set, and which are on. */
export const killSwitchStatusSection = {
  name: "killswitches",
  render: (app: { db: Db }) => {
    const rows = listKillSwitches(app.db);
    return { active: rows.filter((r) => r.is_on).map((r) => r.scope), switches: rows };
  },
  human: (app: { db: Db }) => {
    const on = listKillSwitches(app.db).filter((r) => r.is_on);
    return on.length ? on.map((r) => `${r.scope} ON (${r.changed_by}${r.reason ? `: ${r.reason}` : ""})`).join(", ") : "none on";
  },
};

function lifecycleRows(db: Db) {
  const get = db.prepare("SELECT value FROM kv WHERE key = ?").pluck();
  return TRANSPORTS.map((t) => ({ transport: t, ...(parseLifecycle(get.get(`lifecycle:${t}`) as string | undefined) ?? { state: "never_changed", reason: null, at_ms: null }) }));
}

/** `tau status` section: per transport, logged in / logged out (PRODUCT.md §2.1 `tau channel`). */
export const lifecycleStatusSection = {
  name: "lifecycle",
  render: (app: { db: Db }) => lifecycleRows(app.db),
  human: (app: { db: Db }) => {
    const out = lifecycleRows(app.db).filter((r) => r.state === "logged_out");
    return out.length ? `logged out: ${out.map((r) => r.transport).join(", ")}` : "no transport logged out";
  },
};
