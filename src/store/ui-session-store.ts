/**
 * @module Store family: the web control page's one-time sign-in links and browser sessions (tables `ui_login_tokens`,
 * `ui_sessions`, keyed by the sha256 of the token — never the token) and the read of the runtime event stream the
 * page's live view polls.
 */
import type { Db } from "./db.ts";

export interface UiSessionRow {
  session_hash: string;
  principal: string;
  created_at_ms: number;
  expires_at_ms: number;
  revoked_at_ms: number | null;
}

export interface RuntimeEventRow {
  id: number;
  at_ms: number;
  event: string;
  health: string;
  reason_codes: string;
}

export function createUiSessionStore(db: Db) {
  const q = {
    insertLogin: db.prepare(
      "INSERT INTO ui_login_tokens (token_hash, principal, created_at_ms, expires_at_ms) VALUES (@token_hash, @principal, @now, @expires_at_ms)",
    ),
    useLogin: db.prepare<[number, string, number], { principal: string }>(
      "UPDATE ui_login_tokens SET used_at_ms = ? WHERE token_hash = ? AND used_at_ms IS NULL AND expires_at_ms > ? RETURNING principal",
    ),
    insertSession: db.prepare(
      "INSERT INTO ui_sessions (session_hash, principal, created_at_ms, expires_at_ms) VALUES (@session_hash, @principal, @now, @expires_at_ms)",
    ),
    session: db.prepare<[string, number], UiSessionRow>(
      "SELECT * FROM ui_sessions WHERE session_hash = ? AND revoked_at_ms IS NULL AND expires_at_ms > ?",
    ),
    revoke: db.prepare("UPDATE ui_sessions SET revoked_at_ms = ? WHERE session_hash = ? AND revoked_at_ms IS NULL"),
    prune: db.prepare("DELETE FROM ui_login_tokens WHERE expires_at_ms < ?"),
    eventsAfter: db.prepare<[number, number], RuntimeEventRow>(
      "SELECT id, at_ms, event, health, reason_codes FROM runtime_events WHERE id > ? ORDER BY id LIMIT ?",
    ),
    lastEvents: db.prepare<[number], RuntimeEventRow>(
      "SELECT id, at_ms, event, health, reason_codes FROM runtime_events ORDER BY id DESC LIMIT ?",
    ),
  };
  return {
    /** Record a one-time sign-in link by its hash; expired links are pruned on the way. */
    addLoginToken: (r: { token_hash: string; principal: string; now: number; expires_at_ms: number }): void => {
      q.prune.run(r.now - 24 * 3600_000);
      q.insertLogin.run(r);
    },
    /** Spend a sign-in link: the principal for the one caller that uses an unexpired, unused link; otherwise undefined. */
    useLoginToken: (tokenHash: string, now: number): string | undefined => q.useLogin.get(now, tokenHash, now)?.principal,
    addSession: (r: { session_hash: string; principal: string; now: number; expires_at_ms: number }): void => void q.insertSession.run(r),
    /** A live (unrevoked, unexpired) session. */
    session: (sessionHash: string, now: number): UiSessionRow | undefined => q.session.get(sessionHash, now),
    revokeSession: (sessionHash: string, now: number): void => void q.revoke.run(now, sessionHash),
    /** Runtime events after `afterId`, oldest first, at most `limit`. */
    runtimeEventsAfter: (afterId: number, limit: number): RuntimeEventRow[] => q.eventsAfter.all(afterId, limit),
    /** The newest `limit` runtime events, oldest first. */
    recentRuntimeEvents: (limit: number): RuntimeEventRow[] => q.lastEvents.all(limit).reverse(),
  };
}

export type UiSessionStore = ReturnType<typeof createUiSessionStore>;
