/**
 * @module Native command menus from the capability registry (issue 12 §2): the Telegram `setMyCommands` list per
 * scope (what a DM user may run, what an operator chat may run) and the Discord application commands — `/tau` with
 * subcommands and groups, one top-level command per capability area — with their options from the zod schemas.
 * Also the way back: an invoked slash command becomes the equivalent `/tau <words> --arg value` text, so the one
 * command path (RBAC, approvals, audit) runs; a tapped Telegram menu entry `/tau_pairing_list` reads as
 * `/tau pairing list`. Pure: no I/O.
 * @see https://core.telegram.org/bots/api#setmycommands
 * @see https://discord.com/developers/docs/interactions/application-commands#application-command-object
 */
import { z } from "zod";
import { ROLES, roleAtLeast, type Role } from "../contracts/decision.ts";
import {
  DISCORD_OPTION,
  type DiscordCommand,
  type DiscordCommandOption,
  type InteractionCommand,
  type InteractionCommandData,
  type InteractionOption,
  type TelegramCommand,
  type TelegramCommandSet,
} from "../contracts/native-commands.ts";
import type { AnyCapability } from "../capabilities/registry.ts";

/** Discord: ≤ 25 options per level, names 1–32 lowercase, descriptions 1–100; Telegram: ≤ 100 commands, 1–32 [a-z0-9_], 1–256. */
const DISCORD_MAX_OPTIONS = 25;
const DISCORD_MAX_NAME = 32;
const DISCORD_MAX_DESCRIPTION = 100;
const TELEGRAM_MAX_COMMANDS = 100;
const TELEGRAM_MAX_NAME = 32;
const TELEGRAM_MAX_DESCRIPTION = 256;

export interface NativeCommandInput {
  capabilities: readonly AnyCapability[];
  /** The configured command prefix (`/tau`). */
  prefix: string;
  /** `rbac.capabilities` overrides (capability id → required role). */
  roleOverrides: Readonly<Record<string, Role>>;
  /** Telegram ops chats (alert targets): they get the operator list. */
  telegramOpsChats: readonly string[];
  /** Telegram user ids listed in rbac (`telegram:<id>`): their private chat gets the list of their role. */
  telegramRoles: readonly { userId: string; role: Role }[];
}

/** How one value option maps back to a capability argument. */
interface OptionRoute {
  arg: string;
  kind: "string" | "integer" | "number" | "boolean" | "boolish";
}

/** What an invoked `/<command> [group] <sub>` runs. */
interface CommandRoute {
  capabilityId: string;
  /** Reads without approval answer the invoker only (ephemeral); anything else is visible in the channel. */
  ephemeral: boolean;
  alias: readonly string[];
  options: ReadonlyMap<string, OptionRoute>;
}

/** A capability left out of a menu, with the reason (one bad item never costs the others). */
export interface SkippedCommand {
  platform: "telegram" | "discord";
  capability: string;
  reason: string;
}

export interface NativeCommandPlan {
  telegram: TelegramCommandSet[];
  discord: DiscordCommand[];
  skipped: SkippedCommand[];
  /** `"<command> <group> <sub>"` or `"<command> <sub>"` → what it runs. */
  routes: ReadonlyMap<string, CommandRoute>;
  prefix: string;
}

/** `/tau` → `tau`: the prefix without its slash, the base of every native command name. */
export function commandBase(prefix: string): string {
  return prefix.replace(/^\//, "").toLowerCase();
}

/** The role a capability needs: the rbac override, else what it declares. */
const needOf = (c: AnyCapability, overrides: Readonly<Record<string, Role>>): Role =>
  (Object.hasOwn(overrides, c.id) ? overrides[c.id] : undefined) ?? c.role;

/** A valid Discord name: lowercase, characters outside [-_ letters digits] → `-`, at most 32. */
function discordName(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^-_\p{L}\p{N}]/gu, "-")
    .slice(0, DISCORD_MAX_NAME);
}

function clip(s: string, max: number): string {
  const t = s.trim();
  return t.length <= max ? t : `${t.slice(0, max - 1)}…`;
}

interface JsonSchemaProp {
  type?: string | string[];
  description?: string;
}

/** Value options from the capability's zod schema: string/integer/number/boolean, required first. */
function valueOptions(c: AnyCapability): { options: DiscordCommandOption[]; routes: Map<string, OptionRoute> } | string {
  let schema: { properties?: Record<string, JsonSchemaProp>; required?: string[] };
  try {
    schema = z.toJSONSchema(c.args as z.ZodType, { io: "input", unrepresentable: "any" }) as typeof schema;
  } catch (err) {
    return `arguments not representable: ${(err as Error).message}`;
  }
  const required = new Set(schema.required ?? []);
  const routes = new Map<string, OptionRoute>();
  const options: DiscordCommandOption[] = [];
  for (const [arg, prop] of Object.entries(schema.properties ?? {})) {
    const types = Array.isArray(prop.type) ? prop.type : prop.type ? [prop.type] : [];
    let kind: OptionRoute["kind"] = "string";
    let type: number = DISCORD_OPTION.STRING;
    if (types.length === 1 && types[0] === "integer") [kind, type] = ["integer", DISCORD_OPTION.INTEGER];
    else if (types.length === 1 && types[0] === "number") [kind, type] = ["number", DISCORD_OPTION.NUMBER];
    else if (types.length === 1 && types[0] === "boolean") [kind, type] = ["boolean", DISCORD_OPTION.BOOLEAN];
    else if (types.includes("boolean") && types.every((t) => t === "boolean" || t === "string"))
      [kind, type] = ["boolish", DISCORD_OPTION.BOOLEAN];
    const name = discordName(arg);
    if (routes.has(name)) return `two arguments map to the option name "${name}"`;
    routes.set(name, { arg, kind });
    const positional = c.positional?.includes(arg) ? " (positional in chat)" : "";
    options.push({
      type,
      name,
      description: clip(prop.description ?? `${arg.replace(/_/g, " ")}${positional}`, DISCORD_MAX_DESCRIPTION),
      ...(required.has(arg) ? { required: true } : {}),
    });
  }
  if (options.length > DISCORD_MAX_OPTIONS) return `${options.length} arguments (Discord allows ${DISCORD_MAX_OPTIONS} options)`;
  // Discord refuses a required option after an optional one.
  options.sort((a, b) => Number(b.required === true) - Number(a.required === true));
  return { options, routes };
}

/** Where a capability sits in the Discord tree: top-level command, optional group, subcommand. */
function discordPlace(c: AnyCapability, base: string): { command: string; group: string | null; sub: string } {
  const area = c.id.split(".")[0] ?? "tau";
  const command = area === base ? base : discordName(`${base}-${area}`);
  let words = c.alias.map((w) => w.toLowerCase());
  // `calendar create` in the calendar area reads `/tau-calendar create`; the bare `calendar` takes its id's last word.
  if (words[0] === area && words.length > 1) words = words.slice(1);
  else if (words.length === 1 && words[0] === area) words = [c.id.split(".").at(-1) ?? area];
  if (words.length === 1) return { command, group: null, sub: discordName(words[0]!) };
  return { command, group: discordName(words[0]!), sub: discordName(words.slice(1).join("-")) };
}

function planDiscord(input: NativeCommandInput, skipped: SkippedCommand[], routes: Map<string, CommandRoute>): DiscordCommand[] {
  const base = commandBase(input.prefix);
  const commands = new Map<string, DiscordCommand>();
  const skip = (c: AnyCapability, reason: string) => skipped.push({ platform: "discord", capability: c.id, reason });
  const placed = input.capabilities.map((c) => ({ c, at: discordPlace(c, base) }));
  const groupNames = new Set(placed.filter((p) => p.at.group !== null).map((p) => `${p.at.command} ${p.at.group}`));
  for (const { c, at } of [...placed].sort((a, b) => a.c.alias.join(" ").localeCompare(b.c.alias.join(" ")))) {
    // A subcommand whose name is also a group (`/tau-calendar list` vs a `list` group) moves into that group.
    if (at.group === null && groupNames.has(`${at.command} ${at.sub}`)) {
      at.group = at.sub;
      at.sub = discordName(c.id.split(".").at(-1) ?? "run");
    }
    const values = valueOptions(c);
    if (typeof values === "string") {
      skip(c, values);
      continue;
    }
    const key = [at.command, at.group, at.sub].filter((x) => x !== null).join(" ");
    if (routes.has(key)) {
      skip(c, `the name "${key}" is taken by ${routes.get(key)!.capabilityId}`);
      continue;
    }
    const area = c.id.split(".")[0] ?? base;
    const top =
      commands.get(at.command) ??
      ({
        type: 1,
        name: at.command,
        description: clip(area === base ? `${base} chat-ops commands` : `${base} ${area} commands`, DISCORD_MAX_DESCRIPTION),
        options: [],
      } satisfies DiscordCommand);
    let level = top.options;
    if (at.group !== null) {
      let group = level.find((o) => o.type === DISCORD_OPTION.SUB_COMMAND_GROUP && o.name === at.group);
      if (!group) {
        if (level.length >= DISCORD_MAX_OPTIONS) {
          skip(c, `/${at.command} already has ${DISCORD_MAX_OPTIONS} subcommands and groups`);
          continue;
        }
        group = { type: DISCORD_OPTION.SUB_COMMAND_GROUP, name: at.group, description: clip(`${at.group} commands`, 100), options: [] };
        level.push(group);
      }
      level = group.options!;
    }
    if (level.length >= DISCORD_MAX_OPTIONS) {
      skip(c, `/${key.split(" ").slice(0, -1).join(" ")} already has ${DISCORD_MAX_OPTIONS} subcommands`);
      continue;
    }
    level.push({
      type: DISCORD_OPTION.SUB_COMMAND,
      name: at.sub,
      description: clip(c.summary || c.id, DISCORD_MAX_DESCRIPTION),
      options: values.options,
    });
    commands.set(at.command, top);
    routes.set(key, {
      capabilityId: c.id,
      ephemeral: c.sideEffect === "read" && c.approval === "none",
      alias: c.alias,
      options: values.routes,
    });
  }
  // `/tau` first, then the areas by name: the same registry always gives the same body.
  return [...commands.values()].sort((a, b) => (a.name === base ? -1 : b.name === base ? 1 : a.name.localeCompare(b.name)));
}

/** `tau_pairing_approve` for alias `pairing approve`; null when it cannot be a Telegram command name. */
function telegramName(base: string, alias: readonly string[]): string | null {
  const name = [base, ...alias].join("_").toLowerCase();
  return /^[a-z0-9_]+$/.test(name) && name.length <= TELEGRAM_MAX_NAME ? name : null;
}

function planTelegram(input: NativeCommandInput, skipped: SkippedCommand[]): TelegramCommandSet[] {
  const base = commandBase(input.prefix);
  const entries: { command: TelegramCommand; need: Role }[] = [];
  for (const c of [...input.capabilities].sort((a, b) => a.alias.join(" ").localeCompare(b.alias.join(" ")))) {
    const name = telegramName(base, c.alias);
    if (!name) {
      skipped.push({ platform: "telegram", capability: c.id, reason: `"${[base, ...c.alias].join("_")}" is not a valid command name` });
      continue;
    }
    const args = c.positional?.length ? ` — ${c.positional.map((p) => `<${p}>`).join(" ")}` : "";
    entries.push({
      command: { command: name, description: clip(`${c.summary || c.id}${args}`, TELEGRAM_MAX_DESCRIPTION) },
      need: needOf(c, input.roleOverrides),
    });
  }
  const listFor = (role: Role): TelegramCommand[] => {
    const all = entries.filter((e) => roleAtLeast(role, e.need)).map((e) => e.command);
    for (const dropped of all.slice(TELEGRAM_MAX_COMMANDS))
      skipped.push({
        platform: "telegram",
        capability: dropped.command,
        reason: `more than ${TELEGRAM_MAX_COMMANDS} commands for role ${role}`,
      });
    return all.slice(0, TELEGRAM_MAX_COMMANDS);
  };
  const lists = Object.fromEntries(ROLES.map((r) => [r, listFor(r)])) as Record<Role, TelegramCommand[]>;
  const sets: TelegramCommandSet[] = [
    // Everyone starts as a viewer: the fallback list and the one every private chat sees.
    { scope: { type: "default" }, commands: lists.viewer },
    { scope: { type: "all_private_chats" }, commands: lists.viewer },
  ];
  for (const chatId of [...new Set(input.telegramOpsChats)])
    sets.push({ scope: { type: "chat", chat_id: chatId }, commands: lists.operator });
  // A private chat's id is the user's id: an rbac operator or admin sees their own list in their DM.
  for (const { userId, role } of input.telegramRoles)
    if (!input.telegramOpsChats.includes(userId)) sets.push({ scope: { type: "chat", chat_id: userId }, commands: lists[role] });
  return sets;
}

/** Build every native command menu from the registry; pure. */
export function planNativeCommands(input: NativeCommandInput): NativeCommandPlan {
  const skipped: SkippedCommand[] = [];
  const routes = new Map<string, CommandRoute>();
  const discord = planDiscord(input, skipped, routes);
  const telegram = planTelegram(input, skipped);
  return { telegram, discord, skipped, routes, prefix: input.prefix };
}

/** A chat word as the command tokenizer reads it back: quoted (and escaped) unless it is plain. */
function quoteWord(v: string): string {
  return /^[^\s"'\\]+$/.test(v) && !v.startsWith("--") ? v : `"${v.replace(/["\\]/g, "\\$&")}"`;
}

/**
 * The `/tau …` text an invoked slash command stands for: the capability's alias, then `--arg value` per option.
 * Null when the command, group or subcommand is not one tau registered (a stale registration).
 */
export function interactionCommandText(plan: NativeCommandPlan, data: InteractionCommandData): InteractionCommand | null {
  const path = [data.name];
  let options: readonly InteractionOption[] = data.options ?? [];
  for (let depth = 0; depth < 2; depth++) {
    const nested = options.find((o) => o.type === DISCORD_OPTION.SUB_COMMAND_GROUP || o.type === DISCORD_OPTION.SUB_COMMAND);
    if (!nested) break;
    path.push(nested.name);
    options = nested.options ?? [];
  }
  const route = plan.routes.get(path.join(" "));
  if (!route) return null;
  const parts = [plan.prefix, ...route.alias];
  for (const o of options) {
    const r = route.options.get(o.name);
    if (!r || o.value === undefined) return null;
    const flag = `--${r.arg}`;
    if (r.kind === "boolean" || r.kind === "boolish") {
      if (o.value === true) parts.push(flag);
      else if (r.kind === "boolish") parts.push(`${flag}=false`);
    } else parts.push(flag, quoteWord(String(o.value)));
  }
  return { text: parts.join(" "), ephemeral: route.ephemeral };
}

/**
 * A tapped Telegram menu entry back in chat form: `/tau_pairing_approve@bot X` → `/tau@bot pairing approve X`.
 * Anything else is returned unchanged.
 */
export function expandNativeCommand(text: string, prefix: string): string {
  const head = text.trimStart();
  if (head.slice(0, prefix.length + 1).toLowerCase() !== `${prefix.toLowerCase()}_`) return text;
  const token = head.slice(prefix.length + 1).match(/^\S+/)?.[0] ?? "";
  const at = token.indexOf("@");
  const words = (at < 0 ? token : token.slice(0, at)).split("_").filter((w) => w.length > 0);
  if (words.length === 0 || !words.every((w) => /^[a-z0-9]+$/i.test(w))) return text;
  const rest = head.slice(prefix.length + 1 + token.length);
  return `${head.slice(0, prefix.length)}${at < 0 ? "" : token.slice(at)} ${words.join(" ")}${rest}`;
}
