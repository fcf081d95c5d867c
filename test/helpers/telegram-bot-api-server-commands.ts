/**
 * Command menus of the local Telegram Bot API server (PROVIDERS.md §10.1 "setMyCommands"): `setMyCommands`,
 * `getMyCommands`, `deleteMyCommands` per scope and language, with the Bot API's validation (≤ 100 commands, command
 * 1–32 of [a-z0-9_], description 1–256, known scope types, chat scopes need chat_id, language ISO 639-1 or empty) and
 * the client-side resolution order for a private chat (chat → all_private_chats → default).
 */
import { ApiError, type Json } from "./telegram-bot-api-server-common.ts";

const SCOPE_TYPES = new Set([
  "default",
  "all_private_chats",
  "all_group_chats",
  "all_chat_administrators",
  "chat",
  "chat_administrators",
  "chat_member",
]);

export interface TelegramMenuCommand {
  command: string;
  description: string;
}

const badRequest = (what: string) => new ApiError(400, `Bad Request: ${what}`);

/** JSON-or-string parameter (urlencoded bodies carry JSON text). */
function jsonParam(v: unknown): unknown {
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    throw badRequest("can't parse JSON object");
  }
}

function scopeKey(p: Json): string {
  const scope = (jsonParam(p["scope"]) ?? { type: "default" }) as Json;
  const type = scope["type"];
  if (typeof type !== "string" || !SCOPE_TYPES.has(type)) throw badRequest("unsupported bot command scope type");
  const needsChat = type === "chat" || type === "chat_administrators" || type === "chat_member";
  if (needsChat && (scope["chat_id"] === undefined || scope["chat_id"] === "")) throw badRequest("chat_id is empty");
  if (type === "chat_member" && scope["user_id"] === undefined) throw badRequest("user_id is empty");
  const lang = p["language_code"] ?? "";
  if (typeof lang !== "string" || (lang !== "" && !/^[a-z]{2}$/.test(lang))) throw badRequest("invalid language code specified");
  return JSON.stringify([
    type,
    needsChat ? String(scope["chat_id"]) : null,
    type === "chat_member" ? String(scope["user_id"]) : null,
    lang,
  ]);
}

export class TelegramCommandMenus {
  /** scope key → the stored list. */
  readonly lists = new Map<string, TelegramMenuCommand[]>();

  /** Answer one of the three methods; the result the Bot API returns. */
  handle(method: string, p: Json): unknown {
    const key = scopeKey(p);
    switch (method.toLowerCase()) {
      case "setmycommands": {
        const commands = jsonParam(p["commands"]);
        if (!Array.isArray(commands)) throw badRequest('parameter "commands" is required');
        if (commands.length > 100) throw badRequest("BOT_COMMANDS_TOO_MUCH");
        const list: TelegramMenuCommand[] = [];
        for (const c of commands as Json[]) {
          const command = c["command"];
          const description = c["description"];
          if (typeof command !== "string" || !/^[a-z0-9_]{1,32}$/.test(command)) throw badRequest("BOT_COMMAND_INVALID");
          if (typeof description !== "string" || description.trim().length === 0 || [...description].length > 256)
            throw badRequest("BOT_COMMAND_DESCRIPTION_INVALID");
          list.push({ command, description });
        }
        if (list.length === 0) this.lists.delete(key);
        else this.lists.set(key, list);
        return true;
      }
      case "getmycommands":
        return this.lists.get(key) ?? [];
      case "deletemycommands":
        this.lists.delete(key);
        return true;
      default:
        throw new ApiError(404, "Not Found");
    }
  }

  /** The list set for exactly this scope (`{type}` or `{type:"chat", chat_id}`), language ""; null when unset. */
  listFor(type: string, chatId?: string | number): TelegramMenuCommand[] | null {
    return this.lists.get(JSON.stringify([type, chatId === undefined ? null : String(chatId), null, ""])) ?? null;
  }

  /** What a user sees in their private chat: the first list set of chat → all_private_chats → default. */
  visibleInPrivateChat(chatId: string | number): TelegramMenuCommand[] {
    return this.listFor("chat", chatId) ?? this.listFor("all_private_chats") ?? this.listFor("default") ?? [];
  }
}
