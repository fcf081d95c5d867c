/**
 * @module Decisions: every pipeline stage records what it decided and why, as a value (STYLE.md §6.3).
 */

/** What a stage concluded. `deny`/`skip` stop the pipeline; `allow`/`info` let it continue. */
export type DecisionOutcome = "allow" | "deny" | "skip" | "info";

/** One decision on the event's trace. `reason` is a stable reason code; `matched_by` names the rule that decided. */
export interface Decision {
  stage: string;
  outcome: DecisionOutcome;
  reason: string;
  matched_by?: string;
  detail?: Record<string, string | number | boolean | null>;
}

/** Roles, lowest first. */
export const ROLES = ["viewer", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** True when `have` is at least `need` in the viewer < operator < admin order. */
export function roleAtLeast(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}
