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
    any: db.prepare<[], number>("SELECT 1 FROM actor_aliases LIMIT 1").pluck(),
  };
  /** Direct predecessors read ahead for the unit of work under way (`holdAs` … `forget`); a key absent: ask. */
  const ahead = new Map<string, string[]>();
  /** Inside a held unit of work (`hold` … `forget`): true when no alias exists at all, so no key needs a lookup. */
  let none = false;
  const olderOf = (key: string): string[] => (none ? [] : (ahead.get(key) ?? q.olderOf.all(key)));
  return {
    /**
     * Inside a unit of work that writes (the runner's batch: nobody else commits meanwhile): look once whether any alias
     * exists; while none does (the usual case: ids rarely change), lookups are answered without a statement.
     */
    hold(): void {
      none = q.any.get() === undefined;
    },
    /**
     * `hold` with what one read found (batch-lookups.ts): whether any alias exists, and the direct predecessors of the
     * batch's keys (every key asked has an entry), kept exact by `record` until `forget`.
     */
    holdAs(anyAlias: boolean, predecessors: ReadonlyMap<string, string[]>): void {
      none = !anyAlias;
      for (const [k, olds] of predecessors) ahead.set(k, olds);
    },
    /** The unit of work is over (committed or not): ask the store again. */
    forget(): void {
      ahead.clear();
      none = false;
    },
    /** `oldKey` (e.g. `whatsapp:CO.123`) is now `newKey`; idempotent. Returns false for a self-alias. */
    record(oldKey: string, newKey: string, sourceEventId: string | null, atMs: number): boolean {
      if (oldKey === newKey) return false;
      q.insert.run(oldKey, newKey, sourceEventId, atMs);
      ahead.delete(newKey);
      none = false;
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
          for (const older of olderOf(k)) {
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
