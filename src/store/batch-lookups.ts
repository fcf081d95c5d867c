/**
 * @module A runner batch's lookups in one statement on PostgreSQL, where each statement is a round trip: which of the
 * batch's events are recorded already (dedupe), the store's data version with the admissions of the batch's actors
 * (allowlist, approved pairing) as of that version, whether any actor alias exists and the direct predecessors of the
 * batch's actor keys. Sent with the unit of work's BEGIN, it is the batch's only read (then its writes and COMMIT): two
 * round trips a batch instead of six. SQLite answers each lookup from its page cache: nothing is read ahead there.
 */
import type { AccessStore, Admission } from "./access-store.ts";
import { dialectOf, type Db } from "./db.ts";
import type { ActorAliasStore } from "./tolerance-store.ts";

const KEYS = "SELECT DISTINCT jsonb_array_elements_text(CAST(? AS jsonb)) AS key";
/** One row per fact, told apart by `kind`: s = data version, e = event seen, x = an alias exists, l = alias, a = admission. */
const LOOKUPS =
  `SELECT 's' COLLATE "C" AS kind, pg_current_snapshot()::text COLLATE "C" AS k, NULL AS v, 0 AS n, 0::bigint AS at ` +
  `UNION ALL SELECT 'e', event_id, NULL, 0, 0 FROM events WHERE event_id IN (SELECT jsonb_array_elements_text(CAST(? AS jsonb))) ` +
  `UNION ALL SELECT 'x', NULL, NULL, 0, 0 WHERE EXISTS (SELECT 1 FROM actor_aliases) ` +
  `UNION ALL SELECT 'l', new_key, old_key, 0, at_ms FROM actor_aliases WHERE new_key IN (${KEYS}) ` +
  `UNION ALL SELECT 'a', q.key, NULL, ` +
  `(CASE WHEN EXISTS (SELECT 1 FROM allowlist WHERE actor_key = q.key) THEN 1 ELSE 0 END) + ` +
  `(CASE WHEN EXISTS (SELECT 1 FROM pairings WHERE actor_key = q.key AND status = 'approved') THEN 2 ELSE 0 END), 0 ` +
  `FROM (${KEYS}) AS q ` +
  `ORDER BY 1, 5`;

interface LookupRow {
  kind: "s" | "e" | "x" | "l" | "a";
  k: string | null;
  v: string | null;
  n: number;
  at: number;
}

export function createBatchLookups(db: Db, access: AccessStore, aliases: ActorAliasStore) {
  const q = dialectOf(db) === "postgres" ? db.prepare<[string, string, string], LookupRow>(LOOKUPS) : null;
  return {
    /** Whether `read` pays (PostgreSQL); on SQLite the runner holds admissions and aliases and looks up each event. */
    available: q !== null,
    /**
     * Inside the batch's unit of work, before its events run: read every lookup at once, hold the admissions and the
     * aliases for the unit of work (as `access.holdAdmissions` and `actorAliases.hold` do; release and forget them after
     * it) and return the ids among `eventIds` already recorded.
     */
    read(eventIds: readonly string[], actorKeys: readonly string[]): Set<string> {
      if (!q) throw new Error("batch lookups are read ahead on PostgreSQL only");
      const keys = [...new Set(actorKeys)];
      const keysJson = JSON.stringify(keys);
      const seen = new Set<string>();
      const admissions: [string, Admission][] = [];
      const predecessors = new Map<string, string[]>(keys.map((k) => [k, []]));
      let version: string | null = null;
      let anyAlias = false;
      for (const r of q.all(JSON.stringify(eventIds), keysJson, keysJson)) {
        if (r.kind === "s") version = r.k;
        else if (r.kind === "e") seen.add(r.k!);
        else if (r.kind === "x") anyAlias = true;
        else if (r.kind === "l") predecessors.get(r.k!)?.push(r.v!);
        else admissions.push([r.k!, { allowlisted: (r.n & 1) === 1, paired: (r.n & 2) === 2 }]);
      }
      access.holdAdmissionsAs(version, admissions);
      aliases.holdAs(anyAlias, predecessors);
      return seen;
    },
  };
}
