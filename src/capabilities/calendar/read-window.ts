/**
 * @module The occurrences of a calendar in a window, from tau's copy: the objects whose span overlaps it, each read
 * and expanded on its own, so one unreadable object is listed as refused while the rest are shown.
 */
import type { CalendarSession, ResolvedCalendar } from "./calendar-context.ts";
import { expandEvents, type Occurrence } from "./expand-occurrences.ts";

export type StoredOccurrence = Occurrence & { href: string; etag: string | null };

/** An object (or one event in it) that could not be read, with the reason code it stands for. */
export interface Refused {
  href: string;
  uid: string | null;
  reason_code: "calendar_ics_invalid";
  detail: string;
}

export interface WindowRead {
  occurrences: StoredOccurrence[];
  refused: Refused[];
  /** UIDs whose expansion stopped at the step bound. */
  truncated: string[];
  /** Objects read (those whose span overlaps the window). */
  scanned: number;
}

export function readWindow(s: CalendarSession, cal: ResolvedCalendar, fromMs: number, toMs: number): WindowRead {
  const rows = s.store.objectsInSpan(s.account, cal.url, fromMs, toMs);
  const out: WindowRead = { occurrences: [], refused: [], truncated: [], scanned: rows.length };
  const w = { fromMs, toMs, displayZone: s.contract.caldav.time_zone };
  for (const row of rows) {
    if (row.invalid) {
      out.refused.push({ href: row.href, uid: row.uid, reason_code: "calendar_ics_invalid", detail: row.invalid });
      continue;
    }
    try {
      const cal = s.codec.parseIcs(row.data);
      const r = expandEvents(cal, w);
      for (const o of r.occurrences) out.occurrences.push({ ...o, href: row.href, etag: row.etag });
      for (const x of [...cal.refused, ...r.refused])
        out.refused.push({ href: row.href, uid: x.uid, reason_code: "calendar_ics_invalid", detail: `line ${x.line}: ${x.detail}` });
      out.truncated.push(...r.truncated);
    } catch (err) {
      out.refused.push({ href: row.href, uid: row.uid, reason_code: "calendar_ics_invalid", detail: (err as Error).message });
    }
  }
  out.occurrences.sort((a, b) => a.startMs - b.startMs || a.summary.localeCompare(b.summary));
  return out;
}
