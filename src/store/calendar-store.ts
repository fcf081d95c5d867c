/**
 * @module Store family: calendars over CalDAV — tau's copy of each calendar (collections with their change tags,
 * objects indexed by occurrence span), ICS sync plans, and the last answer of each server.
 */
import type { Db } from "./db.ts";

export interface CalendarCollectionRow {
  account: string;
  url: string;
  kind: "calendar" | "addressbook";
  display_name: string;
  ctag: string | null;
  sync_token: string | null;
  supports_sync: number;
  discovered_at_ms: number;
  checked_at_ms: number | null;
  synced_at_ms: number | null;
}

export interface CalendarObjectRow {
  href: string;
  etag: string | null;
  uid: string | null;
  data: string;
  span_start_ms: number;
  span_end_ms: number;
  invalid: string | null;
}

export type CalendarSyncPlanStatus = "ready" | "executing" | "executed" | "failed";

export interface CalendarSyncPlanRow {
  plan_id: string;
  account: string;
  calendar_url: string;
  source_key: string;
  source_label: string;
  source_sha256: string;
  base_sync_token: string | null;
  base_ctag: string | null;
  actions: string;
  counts: string;
  status: CalendarSyncPlanStatus;
  result: string | null;
  requested_by: string;
  created_at_ms: number;
  expires_at_ms: number;
  executed_at_ms: number | null;
}

export interface CalendarServerFactRow {
  account: string;
  ok: number;
  reason: string;
  detail: string;
  at_ms: number;
}

export function createCalendarStore(db: Db) {
  const q = {
    collections: db.prepare<[string, string], CalendarCollectionRow>(
      "SELECT * FROM calendar_collections WHERE account = ? AND kind = ? ORDER BY display_name, url",
    ),
    collection: db.prepare<[string, string], CalendarCollectionRow>("SELECT * FROM calendar_collections WHERE account = ? AND url = ?"),
    putCollection: db.prepare(
      "INSERT INTO calendar_collections (account, url, kind, display_name, ctag, sync_token, supports_sync, discovered_at_ms, checked_at_ms, synced_at_ms) " +
        "VALUES (@account, @url, @kind, @display_name, NULL, NULL, @supports_sync, @discovered_at_ms, NULL, NULL) " +
        "ON CONFLICT(account, url) DO UPDATE SET kind = excluded.kind, display_name = excluded.display_name, " +
        "supports_sync = excluded.supports_sync, discovered_at_ms = excluded.discovered_at_ms",
    ),
    dropCollection: db.prepare("DELETE FROM calendar_collections WHERE account = ? AND url = ?"),
    dropObjectsOf: db.prepare("DELETE FROM calendar_objects WHERE account = ? AND calendar_url = ?"),
    checked: db.prepare("UPDATE calendar_collections SET checked_at_ms = ?, ctag = COALESCE(?, ctag) WHERE account = ? AND url = ?"),
    synced: db.prepare(
      "UPDATE calendar_collections SET ctag = ?, sync_token = ?, checked_at_ms = ?, synced_at_ms = ? WHERE account = ? AND url = ?",
    ),
    putObject: db.prepare(
      "INSERT INTO calendar_objects (account, calendar_url, href, etag, uid, data, span_start_ms, span_end_ms, invalid) " +
        "VALUES (@account, @calendar_url, @href, @etag, @uid, @data, @span_start_ms, @span_end_ms, @invalid) " +
        "ON CONFLICT(account, calendar_url, href) DO UPDATE SET etag = excluded.etag, uid = excluded.uid, data = excluded.data, " +
        "span_start_ms = excluded.span_start_ms, span_end_ms = excluded.span_end_ms, invalid = excluded.invalid",
    ),
    dropObject: db.prepare("DELETE FROM calendar_objects WHERE account = ? AND calendar_url = ? AND href = ?"),
    inSpan: db.prepare<[string, string, number, number], CalendarObjectRow>(
      "SELECT href, etag, uid, data, span_start_ms, span_end_ms, invalid FROM calendar_objects " +
        "WHERE account = ? AND calendar_url = ? AND span_start_ms < ? AND span_end_ms > ? ORDER BY href",
    ),
    byUid: db.prepare<[string, string, string], CalendarObjectRow>(
      "SELECT href, etag, uid, data, span_start_ms, span_end_ms, invalid FROM calendar_objects WHERE account = ? AND calendar_url = ? AND uid = ? ORDER BY href",
    ),
    byHref: db.prepare<[string, string, string], CalendarObjectRow>(
      "SELECT href, etag, uid, data, span_start_ms, span_end_ms, invalid FROM calendar_objects WHERE account = ? AND calendar_url = ? AND href = ?",
    ),
    all: db.prepare<[string, string], CalendarObjectRow>(
      "SELECT href, etag, uid, data, span_start_ms, span_end_ms, invalid FROM calendar_objects WHERE account = ? AND calendar_url = ? ORDER BY href",
    ),
    count: db.prepare<[string, string], { n: number; invalid: number }>(
      "SELECT COUNT(*) AS n, COUNT(invalid) AS invalid FROM calendar_objects WHERE account = ? AND calendar_url = ?",
    ),
    insertPlan: db.prepare(
      "INSERT INTO calendar_sync_plans (plan_id, account, calendar_url, source_key, source_label, source_sha256, base_sync_token, base_ctag, " +
        "actions, counts, status, result, requested_by, created_at_ms, expires_at_ms, executed_at_ms) VALUES (@plan_id, @account, @calendar_url, " +
        "@source_key, @source_label, @source_sha256, @base_sync_token, @base_ctag, @actions, @counts, 'ready', NULL, @requested_by, @created_at_ms, @expires_at_ms, NULL)",
    ),
    plan: db.prepare<[string], CalendarSyncPlanRow>("SELECT * FROM calendar_sync_plans WHERE plan_id = ?"),
    transitionPlan: db.prepare("UPDATE calendar_sync_plans SET status = ?, executed_at_ms = ? WHERE plan_id = ? AND status = ?"),
    finishPlan: db.prepare("UPDATE calendar_sync_plans SET status = ?, result = ?, executed_at_ms = ? WHERE plan_id = ?"),
    putFact: db.prepare(
      "INSERT INTO calendar_server_facts (account, ok, reason, detail, at_ms) VALUES (@account, @ok, @reason, @detail, @at_ms) " +
        "ON CONFLICT(account) DO UPDATE SET ok = excluded.ok, reason = excluded.reason, detail = excluded.detail, at_ms = excluded.at_ms",
    ),
    fact: db.prepare<[string], CalendarServerFactRow>("SELECT * FROM calendar_server_facts WHERE account = ?"),
    facts: db.prepare<[], CalendarServerFactRow>("SELECT * FROM calendar_server_facts ORDER BY account"),
  };
  return {
    /** Collections found by the last discovery of an account. */
    collections: (account: string, kind: CalendarCollectionRow["kind"]): CalendarCollectionRow[] => q.collections.all(account, kind),
    collection: (account: string, url: string): CalendarCollectionRow | undefined => q.collection.get(account, url),
    /**
     * Replace what discovery found for one kind: known collections keep their copy and tags, gone ones are dropped
     * with their objects.
     */
    replaceCollections(
      account: string,
      kind: CalendarCollectionRow["kind"],
      found: { url: string; display_name: string; supports_sync: boolean }[],
      now: number,
    ): void {
      const keep = new Set(found.map((f) => f.url));
      for (const old of q.collections.all(account, kind)) {
        if (keep.has(old.url)) continue;
        q.dropObjectsOf.run(account, old.url);
        q.dropCollection.run(account, old.url);
      }
      for (const f of found)
        q.putCollection.run({
          account,
          url: f.url,
          kind,
          display_name: f.display_name,
          supports_sync: f.supports_sync ? 1 : 0,
          discovered_at_ms: now,
        });
    },
    /** The server was asked for changes at `now` (and, when known, its ctag). */
    markChecked: (account: string, url: string, now: number, ctag: string | null) => void q.checked.run(now, ctag, account, url),
    /** Objects were copied: the collection is at these tags as of `now`. */
    markSynced: (account: string, url: string, tags: { ctag: string | null; sync_token: string | null }, now: number) =>
      void q.synced.run(tags.ctag, tags.sync_token, now, now, account, url),
    putObject: (account: string, calendarUrl: string, o: CalendarObjectRow) =>
      void q.putObject.run({ account, calendar_url: calendarUrl, ...o }),
    dropObject: (account: string, calendarUrl: string, href: string) => void q.dropObject.run(account, calendarUrl, href),
    /** Forget every object of a calendar (before a full copy). */
    dropObjects: (account: string, calendarUrl: string) => void q.dropObjectsOf.run(account, calendarUrl),
    /** Objects whose span overlaps `[fromMs, toMs)`. */
    objectsInSpan: (account: string, calendarUrl: string, fromMs: number, toMs: number): CalendarObjectRow[] =>
      q.inSpan.all(account, calendarUrl, toMs, fromMs),
    objectsByUid: (account: string, calendarUrl: string, uid: string): CalendarObjectRow[] => q.byUid.all(account, calendarUrl, uid),
    objectByHref: (account: string, calendarUrl: string, href: string): CalendarObjectRow | undefined =>
      q.byHref.get(account, calendarUrl, href),
    allObjects: (account: string, calendarUrl: string): CalendarObjectRow[] => q.all.all(account, calendarUrl),
    objectCount: (account: string, calendarUrl: string): { n: number; invalid: number } =>
      q.count.get(account, calendarUrl) ?? { n: 0, invalid: 0 },
    insertSyncPlan: (p: Omit<CalendarSyncPlanRow, "status" | "result" | "executed_at_ms">) => void q.insertPlan.run(p),
    syncPlan: (planId: string): CalendarSyncPlanRow | undefined => q.plan.get(planId),
    /** Compare-and-set on the plan status; false when another run got there first. */
    transitionSyncPlan: (planId: string, from: CalendarSyncPlanStatus, to: CalendarSyncPlanStatus, now: number): boolean =>
      q.transitionPlan.run(to, now, planId, from).changes === 1,
    finishSyncPlan: (planId: string, status: "executed" | "failed", result: unknown, now: number) =>
      void q.finishPlan.run(status, JSON.stringify(result), now, planId),
    /** Record how the server last answered (health reads it: a configured but unreachable server degrades). */
    recordServerFact: (f: CalendarServerFactRow) => void q.putFact.run(f),
    serverFact: (account: string): CalendarServerFactRow | undefined => q.fact.get(account),
    serverFacts: (): CalendarServerFactRow[] => q.facts.all(),
  };
}

export type CalendarStore = ReturnType<typeof createCalendarStore>;
