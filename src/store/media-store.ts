/**
 * @module Store family: media understanding records (one per attachment of an event) and results by stable file
 * identity (duplicates reuse them).
 */
import type { Db } from "./db.ts";

export interface MediaRecordRow {
  event_id: string;
  idx: number;
  kind: string;
  status: "processed" | "skipped" | "failed";
  reason: string;
  summary: string | null;
  file_identity: string | null;
  detected_mime: string | null;
  bytes: number | null;
  at_ms: number;
}

export interface MediaCacheRow {
  file_identity: string;
  kind: string;
  reason: string;
  summary: string;
  detected_mime: string | null;
  at_ms: number;
}

export function createMediaStore(db: Db) {
  const q = {
    put: db.prepare(
      "INSERT INTO media_records (event_id, idx, kind, status, reason, summary, file_identity, detected_mime, bytes, at_ms) " +
        "VALUES (@event_id, @idx, @kind, @status, @reason, @summary, @file_identity, @detected_mime, @bytes, @at_ms) " +
        "ON CONFLICT(event_id, idx) DO UPDATE SET kind = excluded.kind, status = excluded.status, reason = excluded.reason, " +
        "summary = excluded.summary, file_identity = excluded.file_identity, detected_mime = excluded.detected_mime, bytes = excluded.bytes, at_ms = excluded.at_ms",
    ),
    of: db.prepare<[string], MediaRecordRow>("SELECT * FROM media_records WHERE event_id = ? ORDER BY idx"),
    counts: db.prepare<[number], { reason: string; n: number }>(
      "SELECT reason, COUNT(*) AS n FROM media_records WHERE at_ms >= ? GROUP BY reason ORDER BY reason",
    ),
    cached: db.prepare<[string], MediaCacheRow>("SELECT * FROM media_cache WHERE file_identity = ?"),
    cache: db.prepare(
      "INSERT INTO media_cache (file_identity, kind, reason, summary, detected_mime, at_ms) VALUES (@file_identity, @kind, @reason, @summary, @detected_mime, @at_ms) " +
        "ON CONFLICT(file_identity) DO NOTHING",
    ),
    prune: db.prepare("DELETE FROM media_records WHERE at_ms < ?"),
    pruneCache: db.prepare("DELETE FROM media_cache WHERE at_ms < ?"),
  };
  return {
    /** Record (or, on a repeated job, replace) what happened to one attachment. */
    putRecord: (r: MediaRecordRow) => void q.put.run(r),
    recordsOf: (eventId: string): MediaRecordRow[] => q.of.all(eventId),
    /** Attachments by reason code since a time (`tau status`, `/metrics`). */
    countsSince: (sinceMs: number): Record<string, number> => Object.fromEntries(q.counts.all(sinceMs).map((r) => [r.reason, r.n])),
    cached: (identity: string): MediaCacheRow | undefined => q.cached.get(identity),
    /** Keep a successful result for duplicates (first one wins). */
    cache: (r: MediaCacheRow) => void q.cache.run(r),
    prune(beforeMs: number): void {
      q.prune.run(beforeMs);
      q.pruneCache.run(beforeMs);
    },
  };
}

export type MediaStore = ReturnType<typeof createMediaStore>;
