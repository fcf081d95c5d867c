/**
 * @module Native command menus: the Telegram `setMyCommands` lists per scope and the Discord application commands
 * (`/tau` with subcommands) generated from the capability registry, plus the interaction data a slash command
 * invocation carries. Shared by src/commands (the plan), src/lifecycle (registration) and the connectors.
 * @see https://core.telegram.org/bots/api#setmycommands
 * @see https://discord.com/developers/docs/interactions/application-commands
 */

/** Discord application command option types (PROVIDERS.md §10.2 "Application commands"). */
export const DISCORD_OPTION = {
  SUB_COMMAND: 1,
  SUB_COMMAND_GROUP: 2,
  STRING: 3,
  INTEGER: 4,
  BOOLEAN: 5,
  NUMBER: 10,
} as const;

/** One option of a Discord application command (a subcommand, a group or a value). */
export interface DiscordCommandOption {
  type: number;
  name: string;
  description: string;
  required?: boolean;
  options?: DiscordCommandOption[];
}

/** A CHAT_INPUT application command as sent in the bulk overwrite body. */
export interface DiscordCommand {
  type: 1;
  name: string;
  description: string;
  options: DiscordCommandOption[];
}

/** The scopes tau sets command lists for. */
export type TelegramCommandScope =
  | { type: "default" }
  | { type: "all_private_chats" }
  | { type: "all_group_chats" }
  | { type: "all_chat_administrators" }
  | { type: "chat"; chat_id: number | string };

export interface TelegramCommand {
  /** 1–32 characters of a-z, 0-9 and _. */
  command: string;
  /** 1–256 characters. */
  description: string;
}

/** One `setMyCommands` call. */
export interface TelegramCommandSet {
  scope: TelegramCommandScope;
  commands: TelegramCommand[];
}

/** An option of an invoked slash command, as Discord sends it in `data.options`. */
export interface InteractionOption {
  name: string;
  type: number;
  value?: string | number | boolean;
  options?: InteractionOption[];
}

/** `data` of an APPLICATION_COMMAND interaction (the parts tau reads). */
export interface InteractionCommandData {
  name: string;
  options?: InteractionOption[];
}

/** What an invoked slash command stands for: the `/tau …` chat text, and whether its answer is for the invoker only. */
export interface InteractionCommand {
  text: string;
  ephemeral: boolean;
}

/** Turns an invoked slash command into the equivalent `/tau …` command; null when tau registered no such command. */
export type InteractionTextResolver = (data: InteractionCommandData) => InteractionCommand | null;
