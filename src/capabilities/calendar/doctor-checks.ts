/**
 * @module The calendar lines of `tau doctor`: the contract (optional — absent is fine), the password secret, and —
 * online — a real probe (discovery, authentication, the default calendar). Same shape as the communications checks.
 */
import type { Services } from "../services.ts";
import { describeError } from "../../contracts/errors.ts";
import { accountKey, calendarCommsDir, DEFAULT_CALENDAR_RUNTIME, type CalendarRuntime } from "./calendar-context.ts";
import { CalendarError } from "./calendar-error.ts";
import { loadCalendarContract, type CalendarContract } from "./contract.ts";

export interface CalendarCheck {
  check: string;
  status: "pass" | "warn" | "fail";
  reason_code: string;
  detail: string;
  fix: string | null;
}

async function probe(s: Services, c: CalendarContract, password: string, rt: CalendarRuntime): Promise<CalendarCheck> {
  const t0 = performance.now();
  try {
    const client = await rt.connect({ url: c.caldav.url, user: c.caldav.user, password, timeoutMs: c.caldav.timeout_ms });
    await client.discover("caldav");
    const cals = await client.calendars();
    const ms = Math.round(performance.now() - t0);
    const seg = (u: string) => decodeURIComponent(new URL(u).pathname.replace(/\/+$/, "").split("/").pop() ?? "");
    const found = cals.some((x) => x.displayName === c.caldav.calendar || seg(x.url) === c.caldav.calendar);
    s.store.calendar.recordServerFact({ account: accountKey(c), ok: 1, reason: "calendar_server_ok", detail: "doctor", at_ms: s.clock() });
    return found
      ? {
          check: "probe.caldav",
          status: "pass",
          reason_code: "probe_ok",
          detail: `${c.caldav.url}: ${cals.length} calendar(s), ${ms} ms`,
          fix: null,
        }
      : {
          check: "probe.caldav",
          status: "fail",
          reason_code: "calendar_not_found",
          detail: `${c.caldav.url}: no calendar "${c.caldav.calendar}" (found: ${cals.map((x) => x.displayName).join(", ") || "none"})`,
          fix: "create the calendar or fix caldav.calendar",
        };
  } catch (err) {
    if (!(err instanceof CalendarError)) throw err;
    s.store.calendar.recordServerFact({ account: accountKey(c), ok: 0, reason: err.reason, detail: err.message, at_ms: s.clock() });
    return {
      check: "probe.caldav",
      status: "fail",
      reason_code: `probe_online_caldav_${err.reason.replace(/^calendar_/, "")}`,
      detail: `${c.caldav.url}: ${err.message}`,
      fix:
        err.reason === "calendar_auth_failed"
          ? `check caldav.user and the ${c.caldav.password_secret} secret`
          : `check ${c.caldav.url} and the network`,
    };
  }
}

/** The calendar checks; `online` also probes the server. */
export async function calendarDoctorChecks(
  s: Services,
  online: boolean,
  rt: CalendarRuntime = DEFAULT_CALENDAR_RUNTIME,
): Promise<CalendarCheck[]> {
  let c: CalendarContract | null;
  try {
    c = loadCalendarContract(calendarCommsDir(s));
  } catch (err) {
    return [
      {
        check: "calendar.contract",
        status: "fail",
        reason_code: "calendar_contract_invalid",
        detail: describeError(err),
        fix: "fix the file at the line shown",
      },
    ];
  }
  if (!c)
    return [
      {
        check: "calendar.contract",
        status: "pass",
        reason_code: "calendar_not_configured",
        detail: "no calendar.yaml: calendars are off (optional)",
        fix: null,
      },
    ];
  const checks: CalendarCheck[] = [
    {
      check: "calendar.contract",
      status: "pass",
      reason_code: "calendar_contract_valid",
      detail: `${c.file}: ${c.caldav.url} as ${c.caldav.user}, calendar ${c.caldav.calendar}`,
      fix: null,
    },
  ];
  const password = s.secret(c.caldav.password_secret);
  if (!password) {
    checks.push({
      check: `credentials.${c.caldav.password_secret}`,
      status: "fail",
      reason_code: "calendar_credentials_missing",
      detail: `${c.caldav.password_secret} is missing: calendar capabilities will fail`,
      fix: `\`echo … | tau secrets set ${c.caldav.password_secret}\``,
    });
    return checks;
  }
  checks.push({
    check: `credentials.${c.caldav.password_secret}`,
    status: "pass",
    reason_code: "credential_present",
    detail: `${c.caldav.password_secret} present`,
    fix: null,
  });
  if (online) checks.push(await probe(s, c, password, rt));
  return checks;
}
