/**
 * @module The calendar's part of health, from persisted facts only: nothing when no contract is configured (calendars
 * are optional), the contract's error when it does not load, and the server's last answer when it was a failure
 * (recorded by every calendar capability and by `tau doctor --online`). Reads only.
 */
import path from "node:path";
import { describeError } from "../../contracts/errors.ts";
import type { CalendarStore } from "../../store/index.ts";
import { accountKey } from "./calendar-context.ts";
import { loadCalendarContract } from "./contract.ts";

export interface CalendarHealthFact {
  /** Why `calendar.yaml` does not load, or null. */
  contractError: string | null;
  /** The reason code of the server's last failed answer (`calendar_server_unavailable`, `calendar_auth_failed`, …), or null. */
  serverDown: string | null;
  /** When the server last answered (either way), or null when it was never asked. */
  lastAnswerAtMs: number | null;
}

/** The fact for the contract in `<policiesDir>/communications`, or null when no calendar is configured. */
export function calendarHealthFact(policiesDir: string, store: Pick<CalendarStore, "serverFact">): CalendarHealthFact | null {
  let contract;
  try {
    contract = loadCalendarContract(path.join(policiesDir, "communications"));
  } catch (err) {
    return { contractError: describeError(err), serverDown: null, lastAnswerAtMs: null };
  }
  if (!contract) return null;
  const fact = store.serverFact(accountKey(contract));
  return { contractError: null, serverDown: fact && fact.ok === 0 ? fact.reason : null, lastAnswerAtMs: fact?.at_ms ?? null };
}
