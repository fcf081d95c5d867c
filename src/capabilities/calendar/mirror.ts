/**
 * @module Tau's copy of a calendar, so listing a week of a 10k-event calendar reads a few rows instead of asking the
 * server to scan them all. Each object is stored with the span its occurrences can lie in. Freshness is a decision
 * with its reason: `fresh` (asked within `max_staleness_seconds`), `unchanged` (the ctag did not move), `incremental`
 * (RFC 6578 sync-collection from the stored token, then a multiget of what changed) or `full` (first copy, no token,
 * or the server forgot it).
 */
import type { CalendarObjectRow } from "../../store/index.ts";
import type { DavObject } from "./dav-port.ts";
import type { CalendarSession, ResolvedCalendar } from "./calendar-context.ts";
import { CalendarError } from "./calendar-error.ts";
import { objectSpan, SPAN_UNBOUNDED_END, SPAN_UNBOUNDED_START } from "./expand-occurrences.ts";
import type { Codec } from "./codec.ts";

export type MirrorHow = "fresh" | "unchanged" | "incremental" | "full";

/** How the copy was brought up to date, and what changed. */
export interface MirrorDecision {
  how: MirrorHow;
  reason: string;
  changed: number;
  removed: number;
  objects: number;
  /** When the server was last asked (the copy is current as of then). */
  checked_at_ms: number;
}

/** A stored row for a server object: its UID, the span of its occurrences, or why it cannot be read. */
export function toObjectRow(o: DavObject, displayZone: string, codec: Pick<Codec, "parseIcs">): CalendarObjectRow {
  const base = { href: o.href, etag: o.etag, data: o.data };
  try {
    const cal = codec.parseIcs(o.data);
    const uid = cal.events[0]?.uid ?? cal.refused[0]?.uid ?? null;
    if (cal.events.length === 0) {
      const why = cal.refused[0]?.detail ?? "no VEVENT";
      return { ...base, uid, span_start_ms: SPAN_UNBOUNDED_START, span_end_ms: SPAN_UNBOUNDED_END, invalid: why };
    }
    const span = objectSpan(cal, displayZone);
    return { ...base, uid, span_start_ms: span.startMs, span_end_ms: span.endMs, invalid: null };
  } catch (err) {
    const uid = o.data.match(/^UID[;:](?:[^:\r\n]*:)?([^\r\n]+)/m)?.[1] ?? null;
    return { ...base, uid, span_start_ms: SPAN_UNBOUNDED_START, span_end_ms: SPAN_UNBOUNDED_END, invalid: (err as Error).message };
  }
}

/** Store (or replace) one object in the copy right after tau wrote it to the server. */
export function rememberObject(s: CalendarSession, cal: ResolvedCalendar, o: DavObject): void {
  s.store.putObject(s.account, cal.url, toObjectRow(o, s.contract.caldav.time_zone, s.codec));
}

async function fullCopy(s: CalendarSession, cal: ResolvedCalendar, reason: string): Promise<MirrorDecision> {
  // Tags first: a change between the two requests is picked up by the next refresh, never lost.
  const tags = await s.client.tags(cal.url);
  const objects = await s.client.allObjects(cal.url);
  const zone = s.contract.caldav.time_zone;
  const rows = objects.map((o) => toObjectRow(o, zone, s.codec));
  const now = s.ctx.now;
  s.services.store.atomically(() => {
    s.store.dropObjects(s.account, cal.url);
    for (const r of rows) s.store.putObject(s.account, cal.url, r);
    s.store.markSynced(s.account, cal.url, { ctag: tags.ctag, sync_token: tags.syncToken }, now);
  });
  return { how: "full", reason, changed: rows.length, removed: 0, objects: rows.length, checked_at_ms: now };
}

/**
 * Bring tau's copy of `cal` up to date (or decide it is fresh enough). `maxAgeMs` 0 always asks the server; writes
 * and sync plans use that, listings use the contract's `max_staleness_seconds`.
 */
export async function refreshMirror(s: CalendarSession, cal: ResolvedCalendar, maxAgeMs: number): Promise<MirrorDecision> {
  const row = s.store.collection(s.account, cal.url) ?? cal;
  const now = s.ctx.now;
  const count = () => s.store.objectCount(s.account, cal.url).n;
  if (row.synced_at_ms === null) return fullCopy(s, cal, "first copy of this calendar");
  if (row.checked_at_ms !== null && now >= row.checked_at_ms && now - row.checked_at_ms < maxAgeMs)
    return {
      how: "fresh",
      reason: `checked ${Math.round((now - row.checked_at_ms) / 1000)} s ago`,
      changed: 0,
      removed: 0,
      objects: count(),
      checked_at_ms: row.checked_at_ms,
    };
  const ctag = await s.client.changeTag(cal.url);
  if (ctag !== null && ctag === row.ctag) {
    s.store.markChecked(s.account, cal.url, now, ctag);
    return { how: "unchanged", reason: "ctag unchanged", changed: 0, removed: 0, objects: count(), checked_at_ms: now };
  }
  if (!row.sync_token || !row.supports_sync)
    return fullCopy(s, cal, row.sync_token ? "the server has no sync-collection" : "no sync-token");
  const changes = await s.client.changesSince(cal.url, row.sync_token);
  if (!changes.tokenValid) return fullCopy(s, cal, "the server no longer knows the sync-token");
  const fetched = changes.changed.length ? await s.client.objects(cal.url, changes.changed) : [];
  const zone = s.contract.caldav.time_zone;
  const rows = fetched.map((o) => toObjectRow(o, zone, s.codec));
  // A changed href the multiget no longer returns was deleted in between.
  const gone = [...changes.removed, ...changes.changed.filter((h) => !fetched.some((o) => o.href === h))];
  s.services.store.atomically(() => {
    for (const r of rows) s.store.putObject(s.account, cal.url, r);
    for (const h of gone) s.store.dropObject(s.account, cal.url, h);
    s.store.markSynced(s.account, cal.url, { ctag, sync_token: changes.token ?? row.sync_token }, now);
  });
  return { how: "incremental", reason: "ctag moved", changed: rows.length, removed: gone.length, objects: count(), checked_at_ms: now };
}

/** Refresh, rediscovering once when the remembered calendar is gone (renamed or recreated on the server). */
export async function refreshResolved(
  s: CalendarSession,
  cal: ResolvedCalendar,
  maxAgeMs: number,
  rediscover: () => Promise<ResolvedCalendar>,
): Promise<{ cal: ResolvedCalendar; mirror: MirrorDecision }> {
  try {
    return { cal, mirror: await refreshMirror(s, cal, maxAgeMs) };
  } catch (err) {
    if (!(err instanceof CalendarError) || err.reason !== "calendar_not_found") throw err;
    const again = await rediscover();
    return { cal: again, mirror: await refreshMirror(s, again, maxAgeMs) };
  }
}
