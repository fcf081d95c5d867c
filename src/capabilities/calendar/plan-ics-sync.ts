/**
 * @module ICS sync planning: what bringing a source into a calendar would create, update and delete, by UID. Events a
 * sync writes carry `X-TAU-SYNC-SOURCE` (the source key) and `X-TAU-SYNC-HASH` (a hash of the source's content for
 * that UID, DTSTAMP left out since feeds restamp every fetch). So a second run of an unchanged source plans nothing,
 * deletes touch only events that came from the same source, and an event with the same UID that tau did not bring
 * from this source is left alone (`calendar_conflict`). Source events that cannot be read are skipped, and their
 * calendar copies are kept.
 */
import { createHash } from "node:crypto";
import type { Codec } from "./codec.ts";
import type { IcsCalendar, IcsEvent } from "./ical-codec.ts";
import { fileNameFor } from "./dav-port.ts";

export const SYNC_SOURCE_PROP = "X-TAU-SYNC-SOURCE";
export const SYNC_HASH_PROP = "X-TAU-SYNC-HASH";

/** One UID of the source, ready to write. */
export interface SourceObject {
  uid: string;
  summary: string;
  hash: string;
  data: string;
}

/** One object already in the calendar (from tau's copy). */
export interface CalendarItem {
  uid: string | null;
  href: string;
  etag: string | null;
  sourceKey: string | null;
  hash: string | null;
}

export type SyncAction =
  | { op: "create"; uid: string; summary: string; filename: string; data: string; hash: string }
  | { op: "update"; uid: string; summary: string; href: string; etag: string | null; data: string; hash: string }
  | { op: "delete"; uid: string; summary: string; href: string; etag: string | null };

export interface SyncSkip {
  uid: string | null;
  reason_code: "calendar_ics_invalid" | "calendar_conflict";
  detail: string;
}

export interface SyncPlanBody {
  actions: SyncAction[];
  unchanged: string[];
  skipped: SyncSkip[];
}

const uidOrder = (a: { uid: string }, b: { uid: string }) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0);

/** Lines that change without the event changing (DTSTAMP) or that tau adds itself. */
const volatileLine = (l: string) => /^(DTSTAMP|X-TAU-)[;:]/i.test(l);

function zonesUsed(events: IcsEvent[]): Set<string> {
  const out = new Set<string>();
  for (const e of events)
    for (const t of [e.start, e.end, e.recurrenceId, ...e.rdates, ...e.exdates]) if (t?.tzid && t.tzid !== "UTC") out.add(t.tzid);
  return out;
}

/** The source's events grouped by UID (master first, then overrides), each as a calendar object with tau's markers. */
export function sourceObjects(
  cal: IcsCalendar,
  sourceKey: string,
  codec: Pick<Codec, "serializeSyncedObject">,
): { objects: SourceObject[]; skipped: SyncSkip[] } {
  const byUid = new Map<string, IcsEvent[]>();
  for (const e of cal.events) byUid.set(e.uid, [...(byUid.get(e.uid) ?? []), e]);
  const skipped: SyncSkip[] = cal.refused.map((r) => ({
    uid: r.uid,
    reason_code: "calendar_ics_invalid" as const,
    detail: `line ${r.line}: ${r.detail}`,
  }));
  const refusedUids = new Set(cal.refused.map((r) => r.uid));
  const objects: SourceObject[] = [];
  for (const [uid, events] of byUid) {
    if (refusedUids.has(uid)) {
      skipped.push({ uid, reason_code: "calendar_ics_invalid", detail: "another component with this UID cannot be read" });
      continue;
    }
    const masters = events.filter((e) => !e.recurrenceId);
    if (masters.length > 1) {
      skipped.push({
        uid,
        reason_code: "calendar_ics_invalid",
        detail: `${masters.length} VEVENTs with this UID and no RECURRENCE-ID (lines ${masters.map((m) => m.line).join(", ")})`,
      });
      continue;
    }
    const ordered = [...masters, ...events.filter((e) => e.recurrenceId).sort((a, b) => (a.raw < b.raw ? -1 : 1))];
    const raws = ordered.map((e) => e.raw);
    const zoneRaws = [...zonesUsed(ordered)].sort().flatMap((z) => (cal.zoneBlocks.has(z) ? [cal.zoneBlocks.get(z)!] : []));
    const normalized = [...zoneRaws, ...raws]
      .map((r) =>
        r
          .split("\r\n")
          .filter((l) => !volatileLine(l))
          .join("\n"),
      )
      .join("\n--\n");
    const hash = createHash("sha256").update(normalized).digest("hex").slice(0, 32);
    const data = codec.serializeSyncedObject(raws, zoneRaws, { [SYNC_SOURCE_PROP]: sourceKey, [SYNC_HASH_PROP]: hash });
    objects.push({ uid, summary: masters[0]?.summary ?? ordered[0]!.summary, hash, data });
  }
  objects.sort(uidOrder);
  return { objects, skipped };
}

/** tau's markers read from stored text without a full parse (they are short, so never folded). */
export function markersOf(data: string): { sourceKey: string | null; hash: string | null } {
  return {
    sourceKey: data.match(/^X-TAU-SYNC-SOURCE[;:](?:[^:\r\n]*:)?([^\r\n]+)/im)?.[1]?.trim() ?? null,
    hash: data.match(/^X-TAU-SYNC-HASH[;:](?:[^:\r\n]*:)?([^\r\n]+)/im)?.[1]?.trim() ?? null,
  };
}

/** Creates, updates and deletes that make the calendar hold exactly what the source says (for this source's events). */
export function planIcsSync(
  sourceKey: string,
  source: { objects: SourceObject[]; skipped: SyncSkip[] },
  existing: CalendarItem[],
): SyncPlanBody {
  const byUid = new Map<string, CalendarItem>();
  for (const e of existing) if (e.uid && !byUid.has(e.uid)) byUid.set(e.uid, e);
  const actions: SyncAction[] = [];
  const unchanged: string[] = [];
  const skipped = [...source.skipped];
  const inSource = new Set([...source.objects.map((o) => o.uid), ...source.skipped.flatMap((s) => (s.uid ? [s.uid] : []))]);
  for (const o of source.objects) {
    const have = byUid.get(o.uid);
    if (!have) actions.push({ op: "create", uid: o.uid, summary: o.summary, filename: fileNameFor(o.uid), data: o.data, hash: o.hash });
    else if (have.sourceKey !== sourceKey)
      skipped.push({
        uid: o.uid,
        reason_code: "calendar_conflict",
        detail: `an event with this UID is already in the calendar and did not come from this source (${have.href}); left alone`,
      });
    else if (have.hash === o.hash) unchanged.push(o.uid);
    else actions.push({ op: "update", uid: o.uid, summary: o.summary, href: have.href, etag: have.etag, data: o.data, hash: o.hash });
  }
  for (const e of existing) {
    if (e.sourceKey !== sourceKey || !e.uid || inSource.has(e.uid)) continue;
    actions.push({ op: "delete", uid: e.uid, summary: "", href: e.href, etag: e.etag });
  }
  return { actions, unchanged, skipped };
}
