/**
 * @module Calendar and contacts reason codes and their one error class, apart from the tsdav and ical.js adapters so
 * callers need not load them. Every failure a calendar capability reports is one of these codes.
 */
import { TauError } from "../../contracts/errors.ts";

/** Reason codes of failed calendar and contacts operations (add codes, never rename them). */
export const CALENDAR_FAILURE_CODES = [
  /** No `policies/communications/calendar.yaml`: calendars are not set up (tau works without them). */
  "calendar_not_configured",
  /** `calendar.yaml` does not validate (the answer names file, line and field). */
  "calendar_contract_invalid",
  /** The contract's `password_secret` is neither in the environment nor in the integration store. */
  "calendar_credentials_missing",
  /** The server refused the user name or password (HTTP 401). */
  "calendar_auth_failed",
  /** Authenticated, but the account may not use that collection (HTTP 403). */
  "calendar_forbidden",
  /** No calendar (or address book) matches the configured name, or the server has no calendar home. */
  "calendar_not_found",
  /** No event with that UID in the calendar. */
  "calendar_event_not_found",
  /** The event changed on the server since the ETag given (HTTP 412): nothing was overwritten. */
  "calendar_conflict",
  /** Connection refused or reset, DNS failure, or HTTP 502/503/504. */
  "calendar_server_unavailable",
  /** No answer within the contract's `timeout_ms`. */
  "calendar_timeout",
  /** The server answered with another error (HTTP 5xx, or a 4xx the request should not have caused). */
  "calendar_server_error",
  /** Unreadable iCalendar/vCard: syntax, an invalid RRULE, an unknown time zone, a missing required property. */
  "calendar_ics_invalid",
  /** Bad `from`/`to`/`start`/`end`/`duration` arguments. */
  "calendar_args_invalid",
  /** The ICS source of a sync cannot be read (missing file, outside the allowed folder, HTTP error, too large). */
  "calendar_source_unreadable",
  /** `sync execute`: no plan with that id. */
  "calendar_sync_plan_unknown",
  /** `sync execute`: the plan expired; plan again. */
  "calendar_sync_plan_expired",
  /** `sync execute`: the calendar changed since the plan (its sync-token moved); plan again. */
  "calendar_sync_plan_stale",
  /** `sync execute`: this plan was already executed (each plan runs at most once). */
  "calendar_sync_plan_already_executed",
  /** No CardDAV address book is configured or found. */
  "contacts_not_configured",
] as const;
export type CalendarFailureCode = (typeof CALENDAR_FAILURE_CODES)[number];

/** A failed calendar operation with its reason code and, when the server answered, its HTTP status. */
export class CalendarError extends TauError {
  override readonly reason: CalendarFailureCode;
  readonly httpStatus: number | null;
  constructor(
    reason: CalendarFailureCode,
    message: string,
    options: { cause?: unknown; httpStatus?: number | null; details?: Record<string, unknown>; hint?: string } = {},
  ) {
    super(reason.toUpperCase(), message, {
      reason,
      cause: options.cause,
      hint: options.hint,
      details: { http_status: options.httpStatus ?? null, ...options.details },
    });
    this.name = `CalendarError[${reason}]`;
    this.reason = reason;
    this.httpStatus = options.httpStatus ?? null;
  }
}

/** Failures that say the server could not be used at all (what health and the server fact record). */
export const SERVER_DOWN_CODES: ReadonlySet<string> = new Set([
  "calendar_server_unavailable",
  "calendar_timeout",
  "calendar_auth_failed",
  "calendar_server_error",
]);
