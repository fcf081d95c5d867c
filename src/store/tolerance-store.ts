/**
 * @module Two small facts tolerance needs: actor id aliases (a WhatsApp user whose business-scoped id or phone
 * changed keeps their allowlist entry and pairing) and how many replies went to one recipient lately (the email
 * per-sender reply limit, the last loop breaker against auto-responders that set no header).
 */
import type { Db } from "./db.ts";

/** How far an alias chain is followed (old → older → …); ids do not change often, a loop must not hang. */
const MAX_ALIAS_DEPTH = 8;

export function createActorAliasStore(db: Db) {
  const q = {
    insert: db.prepare(
      "INSERT INTO actor_aliases (old_key, new_key, source_event_id, at_ms) VALUES (?, ?, ?, ?) ON CONFLICT(old_key, new_key) DO NOTHING",
    ),
    olderOf: db.prepare<[string], string>("SELECT old_key FROM actor_aliases WHERE new_key = ? ORDER BY at_ms").pluck(),
  };
  return {
    /** `oldKey` (e.g. `whatsapp:CO.123`) is now `newKey`; idempotent. Returns false for a self-alias. */
    record(oldKey: string, newKey: string, sourceEventId: string | null, atMs: number): boolean {
      if (oldKey === newKey) return false;
      q.insert.run(oldKey, newKey, sourceEventId, atMs);
      return true;
    },
    /** Every earlier key of `key` (transitively, nearest first, bounded), never `key` itself. */
    predecessors(key: string): string[] {
      const seen = new Set<string>([key]);
      const out: string[] = [];
      let frontier = [key];
      for (let depth = 0; depth < MAX_ALIAS_DEPTH && frontier.length > 0; depth++) {
        const next: string[] = [];
        for (const k of frontier) {
          for (const older of q.olderOf.all(k)) {
            if (seen.has(older)) continue;
            seen.add(older);
            out.push(older);
            next.push(older);
          }
        }
        frontier = next;
      }
      return out;
    },
  };
}
export type ActorAliasStore = ReturnType<typeof createActorAliasStore>;

export function createReplyCountStore(db: Db) {
  const q = {
    since: db
      .prepare<[string, string, number], number>(
        "SELECT COUNT(*) FROM outbox WHERE transport = ? AND conversation_id = ? AND created_at_ms >= ?",
      )
      .pluck(),
  };
  return {
    /** Replies queued (whatever became of them) to `conversationId` on `transport` since `sinceMs`. */
    since: (transport: string, conversationId: string, sinceMs: number): number => q.since.get(transport, conversationId, sinceMs) ?? 0,
  };
}
export type ReplyCountStore = ReturnType<typeof createReplyCountStore>;
