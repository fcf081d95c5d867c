/**
 * @module Telegram command menus for `tau channel login telegram --online`: one `setMyCommands` per scope (the
 * viewer list for every private chat, the operator list for the ops chats, a user's own list in their DM).
 * Per-scope outcomes: one refused scope does not stop the others.
 * @see https://core.telegram.org/bots/api#setmycommands
 */
import { GrammyError } from "grammy";
import { probeKindForStatus, type ProbeOutcome } from "../../src/contracts/delivery.ts";
import type { TelegramCommandSet } from "../../src/contracts/native-commands.ts";
import { describeCause, redact } from "../shared/send-tracking.ts";
import { createTelegramClient } from "./api.ts";

/** Outcome of one scope's `setMyCommands`. */
export type TelegramCommandsOutcome = ProbeOutcome & { scope: string };

const scopeName = (s: TelegramCommandSet["scope"]) => (s.type === "chat" ? `chat:${s.chat_id}` : s.type);

export async function setTelegramCommands(o: {
  apiRoot: string;
  token: string;
  sets: readonly TelegramCommandSet[];
}): Promise<TelegramCommandsOutcome[]> {
  const client = createTelegramClient(o.token, o.apiRoot);
  const out: TelegramCommandsOutcome[] = [];
  try {
    for (const set of o.sets) {
      const scope = scopeName(set.scope);
      try {
        await client.api.setMyCommands(set.commands, { scope: set.scope });
        out.push({ ok: true, scope, detail: `${set.commands.length} commands` });
      } catch (err) {
        if (err instanceof GrammyError)
          out.push({
            ok: false,
            scope,
            kind: probeKindForStatus(err.error_code),
            status: err.error_code,
            detail: redact(err.description, [o.token]),
          });
        else out.push({ ok: false, scope, kind: "transport_error", status: null, detail: redact(describeCause(err), [o.token]) });
      }
    }
  } finally {
    client.close();
  }
  return out;
}
