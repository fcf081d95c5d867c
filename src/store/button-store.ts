/**
 * @module Store family: button tokens (table `button_tokens`, migration 009). A token is looked up when its button
 * is pressed; `retire` marks every token of a decided target used, so a second press answers "already decided".
 */
import type { Db } from "./db.ts";

/** What a button does. */
export type ButtonAction = "approve" | "deny" | "pair_approve" | "pair_deny";

export interface ButtonTokenRow {
  token: string;
  action: ButtonAction;
  target_id: string;
  target_hash: string | null;
  transport: string;
  conversation_id: string;
  created_at_ms: number;
  expires_at_ms: number;
  used_at_ms: number | null;
  used_by: string | null;
}

export function createButtonStore(db: Db) {
  const q = {
    insert: db.prepare(
      "INSERT INTO button_tokens (token, action, target_id, target_hash, transport, conversation_id, created_at_ms, expires_at_ms) " +
        "VALUES (@token, @action, @target_id, @target_hash, @transport, @conversation_id, @created_at_ms, @expires_at_ms)",
    ),
    get: db.prepare<[string], ButtonTokenRow>("SELECT * FROM button_tokens WHERE token = ?"),
    retire: db.prepare<[number, string, string]>(
      "UPDATE button_tokens SET used_at_ms = ?, used_by = ? WHERE target_id = ? AND used_at_ms IS NULL",
    ),
    prune: db.prepare<[number]>("DELETE FROM button_tokens WHERE expires_at_ms < ?"),
    forTarget: db.prepare<[string], ButtonTokenRow>("SELECT * FROM button_tokens WHERE target_id = ? ORDER BY created_at_ms, action"),
  };
  return {
    insert: (r: Omit<ButtonTokenRow, "used_at_ms" | "used_by">) => void q.insert.run(r),
    get: (token: string): ButtonTokenRow | undefined => q.get.get(token),
    /** Mark every unused token of a decided target used by `by`; returns how many. */
    retire: (targetId: string, by: string, now: number): number => q.retire.run(now, by, targetId).changes,
    /** The tokens of one target (an approval id, a pairing code), e.g. for `tau replay` scenarios. */
    forTarget: (targetId: string): ButtonTokenRow[] => q.forTarget.all(targetId),
    /** Forget tokens that expired before `before` (a press then reads as unknown). */
    prune: (before: number): number => q.prune.run(before).changes,
  };
}

export type ButtonStore = ReturnType<typeof createButtonStore>;
