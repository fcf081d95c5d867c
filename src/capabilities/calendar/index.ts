/**
 * @module Calendar and contacts over CalDAV/CardDAV (issue 16): status, listing with recurrence expansion, who is on
 * call, create/update/delete under `If-Match`, ICS sync plan → execute, contacts search. CalDAV/CardDAV go through
 * `dav-client.ts` (tsdav, loaded on first use), iCalendar/vCard through `ical-codec.ts` (ical.js). Optional: without
 * `policies/communications/calendar.yaml` every capability answers `calendar_not_configured`.
 */
import type { AnyCapability } from "../registry.ts";
import { createCalDavStatusCapability } from "./caldav-status.ts";
import { DEFAULT_CALENDAR_RUNTIME, type CalendarRuntime } from "./calendar-context.ts";
import { createCreateEventCapability } from "./create-event.ts";
import { createDeleteEventCapability } from "./delete-event.ts";
import { createListEventsCapability } from "./list-events.ts";
import { createOnCallCapability } from "./oncall.ts";
import { createSearchContactsCapability } from "./search-contacts.ts";
import { createSyncExecuteCapability } from "./sync-execute.ts";
import { createSyncPlanCapability } from "./sync-plan.ts";
import { createUpdateEventCapability } from "./update-event.ts";

/** The calendar and contacts capabilities over the given adapters. */
export function createCalendarCapabilities(runtime: Partial<CalendarRuntime> = {}): AnyCapability[] {
  const rt: CalendarRuntime = { ...DEFAULT_CALENDAR_RUNTIME, ...runtime };
  return [
    createCalDavStatusCapability(rt),
    createListEventsCapability(rt),
    createOnCallCapability(rt),
    createCreateEventCapability(rt),
    createUpdateEventCapability(rt),
    createDeleteEventCapability(rt),
    createSyncPlanCapability(rt),
    createSyncExecuteCapability(rt),
    createSearchContactsCapability(rt),
  ];
}

/** The capabilities over tsdav and ical.js: register these in `createRegistry()`. */
export const CALENDAR_CAPABILITIES: AnyCapability[] = createCalendarCapabilities();

// Commonly used by composition: the contract, doctor lines and health facts.
export { loadCalendarContract, calendarContractPath, CalendarContractSchema, type CalendarContract } from "./contract.ts";
export { calendarDoctorChecks, type CalendarCheck } from "./doctor-checks.ts";
export { accountKey, DEFAULT_CALENDAR_RUNTIME, type CalendarRuntime } from "./calendar-context.ts";
export { CALENDAR_FAILURE_CODES, CalendarError, SERVER_DOWN_CODES, type CalendarFailureCode } from "./calendar-error.ts";
// Advanced: the pure parts (benches, tests).
export type { IcsCalendar, IcsEvent } from "./ical-codec.ts";
export { loadCodec, type Codec } from "./codec.ts";
export { expandEvents, objectSpan, type Occurrence } from "./expand-occurrences.ts";
export { connectDav, type DavClient, type DavConfig } from "./dav-port.ts";
export { calendarHealthFact, type CalendarHealthFact } from "./health-fact.ts";
