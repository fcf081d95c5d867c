/**
 * @module Allowlist and pairing state: who is admitted, which codes are pending, attempt counts. `admission`
 * answers the hot-path question (allowlisted? paired?) from memory until the allowlist or pairings change:
 * writes through this store clear the memory, writes by any other connection are noticed through
 * `PRAGMA data_version` — on every call, or once per unit of work between `holdAdmissions` and
 * `releaseAdmissions` (the runner's batch: nobody else commits while it writes).
 */
import type { Db } from "./db.ts";

export interface AllowlistRow {
  actor_key: string;
  transport: string;
  actor_id: string;
  note: string;
  added_by: string;
  added_at_ms: number;
}

export interface PairingRow {
  code: string;
  actor_key: string;
  channel_key: string;
  display: string | null;
  status: string;
  created_at_ms: number;
  expires_at_ms: number;
  decided_by: string | null;
  decided_at_ms: number | null;
}

/** Whether an actor is on the allowlist and whether it has an approved pairing. */
export interface Admission {
  allowlisted: boolean;
  paired: boolean;
}

/** Actors remembered before the memory starts over (bounds it on a large allowlist). */
const ADMISSION_MEMORY = 100_000;

export function createAccessStore(db: Db) {
  const q = {
    dataVersion: db.prepare<[], number>("PRAGMA data_version").pluck(),
    admission: db.prepare<[string, string], { a: number; p: number }>(
      "SELECT EXISTS (SELECT 1 FROM allowlist WHERE actor_key = ?) AS a, EXISTS (SELECT 1 FROM pairings WHERE actor_key = ? AND status = 'approved') AS p",
    ),
    isAllowlisted: db.prepare<[string], number>("SELECT 1 FROM allowlist WHERE actor_key = ?").pluck(),
    listAllow: db.prepare<[], AllowlistRow>("SELECT * FROM allowlist ORDER BY actor_key"),
    addAllow: db.prepare(
      "INSERT INTO allowlist (actor_key, transport, actor_id, note, added_by, added_at_ms) VALUES (@actor_key, @transport, @actor_id, @note, @added_by, @added_at_ms) ON CONFLICT(actor_key) DO NOTHING",
    ),
    removeAllow: db.prepare("DELETE FROM allowlist WHERE actor_key = ?"),
    isPaired: db.prepare<[string], number>("SELECT 1 FROM pairings WHERE actor_key = ? AND status = 'approved' LIMIT 1").pluck(),
    pairingByCode: db.prepare<[string], PairingRow>("SELECT * FROM pairings WHERE code = ?"),
    pendingForActor: db.prepare<[string, number], PairingRow>(
      "SELECT * FROM pairings WHERE actor_key = ? AND status = 'pending' AND expires_at_ms > ? ORDER BY created_at_ms DESC LIMIT 1",
    ),
    // From the partial index `pairings_pending` (016): only unexpired pending codes are read, not every code ever issued.
    pendingForTransport: db
      .prepare<[number, string], number>(
        "SELECT COUNT(*) FROM pairings WHERE status = 'pending' AND expires_at_ms > ? AND substr(channel_key, 1, instr(channel_key, ':') - 1) = ?",
      )
      .pluck(),
    insertPairing: db.prepare(
      "INSERT INTO pairings (code, actor_key, channel_key, display, status, created_at_ms, expires_at_ms) VALUES (@code, @actor_key, @channel_key, @display, 'pending', @now, @expires_at_ms)",
    ),
    decidePairing: db.prepare("UPDATE pairings SET status = @status, decided_by = @by, decided_at_ms = @now WHERE code = @code"),
    revoke: db.prepare(
      "UPDATE pairings SET status = 'revoked', decided_by = @by, decided_at_ms = @now WHERE actor_key = @actor_key AND status = 'approved'",
    ),
    listPairings: db.prepare<[], PairingRow>("SELECT * FROM pairings ORDER BY created_at_ms DESC LIMIT 500"),
    attempt: db.prepare("INSERT INTO pairing_attempts (actor_key, at_ms) VALUES (?, ?)"),
    attempts: db.prepare<[string, number], number>("SELECT COUNT(*) FROM pairing_attempts WHERE actor_key = ? AND at_ms > ?").pluck(),
    pruneAttempts: db.prepare<[number]>("DELETE FROM pairing_attempts WHERE at_ms <= ?"),
    // Approved pairings stay (they are the pairing); denied and revoked ones after their decision, and codes that
    // expired undecided after their expiry. The audit log keeps every decision.
    prunePairings: db.prepare<[number, number]>(
      "DELETE FROM pairings WHERE (status IN ('denied', 'revoked') AND decided_at_ms < ?) OR (status = 'pending' AND expires_at_ms < ?)",
    ),
  };
  const admitted = new Map<string, Admission>();
  let seenVersion: unknown = -1;
  let held = false;
  /** Forget remembered admissions if another connection committed since the last look. */
  const revalidate = (v: unknown = q.dataVersion.get()): void => {
    if (v !== seenVersion || admitted.size >= ADMISSION_MEMORY) {
      admitted.clear();
      seenVersion = v;
    }
  };
  /** Forget remembered admissions (after a write that may change one). */
  const changed = <T>(result: T): T => {
    admitted.clear();
    return result;
  };
  return {
    /** Allowlisted / paired for `actorKey`, from memory while nothing changed the allowlist or pairings. */
    admission: (actorKey: string): Admission => {
      if (!held) revalidate();
      let a = admitted.get(actorKey);
      if (!a) {
        const r = q.admission.get(actorKey, actorKey)!;
        a = { allowlisted: r.a === 1, paired: r.p === 1 };
        admitted.set(actorKey, a);
      }
      return a;
    },
    /** Inside a unit of work that writes (the runner's batch): look for other connections' commits once, now. */
    holdAdmissions: (): void => {
      revalidate();
      held = true;
    },
    /**
     * `holdAdmissions` with what one read found (batch-lookups.ts): the data version it saw and the admissions it read
     * as of that version, remembered for the unit of work under way.
     */
    holdAdmissionsAs: (version: unknown, found: readonly (readonly [string, Admission])[]): void => {
      revalidate(version);
      held = true;
      if (admitted.size + found.length > ADMISSION_MEMORY) admitted.clear();
      for (const [k, a] of found) admitted.set(k, a);
    },
    /** The unit of work is over: `admission` looks on every call again. */
    releaseAdmissions: (): void => {
      held = false;
    },
    isAllowlisted: (actorKey: string): boolean => q.isAllowlisted.get(actorKey) !== undefined,
    listAllowlist: (): AllowlistRow[] => q.listAllow.all(),
    addAllowlist: (row: AllowlistRow): boolean => changed(q.addAllow.run(row).changes > 0),
    removeAllowlist: (actorKey: string): boolean => changed(q.removeAllow.run(actorKey).changes > 0),
    isPaired: (actorKey: string): boolean => q.isPaired.get(actorKey) !== undefined,
    pairingByCode: (code: string): PairingRow | undefined => q.pairingByCode.get(code),
    pendingForActor: (actorKey: string, now: number): PairingRow | undefined => q.pendingForActor.get(actorKey, now),
    /** Unexpired pending codes on a transport: "at most N pending per channel" counts per platform (a DM channel is per actor). */
    pendingForTransport: (transport: string, now: number): number => q.pendingForTransport.get(now, transport) ?? 0,
    insertPairing: (
      p: { code: string; actor_key: string; channel_key: string; display: string | null; expires_at_ms: number },
      now: number,
    ) => void q.insertPairing.run({ ...p, now }),
    decidePairing: (code: string, status: "approved" | "denied", by: string, now: number) =>
      void changed(q.decidePairing.run({ code, status, by, now })),
    revokePairing: (actorKey: string, by: string, now: number): boolean =>
      changed(q.revoke.run({ actor_key: actorKey, by, now }).changes > 0),
    listPairings: (): PairingRow[] => q.listPairings.all(),
    recordAttempt: (actorKey: string, now: number) => void q.attempt.run(actorKey, now),
    attemptsSince: (actorKey: string, since: number): number => q.attempts.get(actorKey, since) ?? 0,
    /** Forget pairing attempts at or before `beforeMs` (those no rate limit counts any more); returns how many. */
    pruneAttempts: (beforeMs: number): number => q.pruneAttempts.run(beforeMs).changes,
    /** Forget pairings no answer depends on any more: decided (denied, revoked) or expired before `beforeMs`; returns how many. */
    prunePairings: (beforeMs: number): number => q.prunePairings.run(beforeMs, beforeMs).changes,
  };
}

export type AccessStore = ReturnType<typeof createAccessStore>;
