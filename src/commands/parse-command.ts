/** @module Parse `/tau …` chat text into words and flags: prefix and `@bot` check plus a small shell-like tokenizer (PRODUCT.md §2.2). */
import { expandNativeCommand } from "./native-commands.ts";

/** What a chat message is, as far as commands go. */
export type ParsedCommand =
  | { kind: "none" }
  | { kind: "other_bot"; target: string }
  | { kind: "command"; words: string[]; flags: Record<string, CommandFlag>; raw: string }
  | { kind: "error"; code: "command_parse_error"; detail: string };

/** One flag's value: `--name value`, a bare `--name` (true), or, when repeated, every value in order. */
export type CommandFlag = string | true | (string | true)[];

/** `prefix` is the configured command (`/tau`); `botUsername` is ours on Telegram (without `@`), null when unknown. */
export interface ParseCommandOptions {
  prefix: string;
  botUsername: string | null;
}

interface Token {
  value: string;
  /** Offset in `value` where the first quoted or escaped character begins (Infinity when none). */
  literalUntil: number;
}

const FLAG_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;
const USERNAME = /^@([A-Za-z0-9_]*)/;

function parseError(detail: string): ParsedCommand {
  return { kind: "error", code: "command_parse_error", detail };
}

/** Split on unquoted whitespace. `"…"` and `'…'` group; a backslash escapes the next character everywhere. */
function tokenize(s: string): Token[] | string {
  const tokens: Token[] = [];
  let cur: Token | null = null;
  let quote: '"' | "'" | null = null;
  const start = (): Token => (cur ??= { value: "", literalUntil: Infinity });
  const markQuoted = (t: Token): void => {
    if (t.literalUntil === Infinity) t.literalUntil = t.value.length;
  };
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    if (ch === "\\") {
      const t = start();
      if (i + 1 >= s.length) return "dangling backslash at end of input";
      markQuoted(t);
      t.value += s[++i];
    } else if (quote !== null) {
      if (ch === quote) quote = null;
      else start().value += ch;
    } else if (ch === '"' || ch === "'") {
      markQuoted(start());
      quote = ch;
    } else if (/\s/.test(ch)) {
      if (cur) tokens.push(cur);
      cur = null;
    } else {
      start().value += ch;
    }
  }
  if (quote !== null) return `unterminated ${quote === '"' ? "double" : "single"} quote`;
  if (cur) tokens.push(cur);
  return tokens;
}

/** A token is a flag only when its `--name` part was typed unquoted; `"--x"` is a word. */
function isFlag(t: Token): boolean {
  if (!t.value.startsWith("--") || t.value === "--") return false;
  const eq = t.value.indexOf("=");
  return (eq < 0 ? t.value.length : eq) <= t.literalUntil;
}

const isEndOfFlags = (t: Token): boolean => t.value === "--" && t.literalUntil === Infinity;

/**
 * Parse `text` as a command. `none` unless it starts with `prefix` (case-insensitive) followed by the end, whitespace
 * or `@username`; `/taunt` is not `/tau`. `@username` that is not ours (case-insensitive), or any `@username` when ours
 * is unknown, is `other_bot`. Flags: `--name value`, `--name=value`, boolean `--name` (last, or before another flag);
 * `--` ends flags; a repeated flag collects its values in order (`--var a=1 --var b=2` → `["a=1", "b=2"]`; the
 * capability's argument schema decides whether it takes a list). `raw` is the trimmed text after the prefix and `@username`.
 */
export function parseTauCommand(text: string, opts: ParseCommandOptions): ParsedCommand {
  // A tapped Telegram menu entry (`/tau_pairing_list`) is the same command as `/tau pairing list`.
  const trimmed = expandNativeCommand(text, opts.prefix).trim();
  const prefix = opts.prefix;
  if (trimmed.slice(0, prefix.length).toLowerCase() !== prefix.toLowerCase()) return { kind: "none" };
  let rest = trimmed.slice(prefix.length);
  if (rest.length > 0 && rest[0] !== "@" && !/^\s/.test(rest)) return { kind: "none" };

  const at = rest.match(USERNAME);
  if (at) {
    const target = at[1] ?? "";
    if (target.length === 0) return parseError("expected a bot username after @");
    rest = rest.slice(at[0].length);
    if (rest.length > 0 && !/^\s/.test(rest)) return parseError(`unexpected "${rest[0]}" after @${target}`);
    const ours = opts.botUsername?.replace(/^@/, "").toLowerCase();
    if (ours === undefined || ours.length === 0 || target.toLowerCase() !== ours) return { kind: "other_bot", target };
  }

  const raw = rest.trim();
  const tokens = tokenize(raw);
  if (typeof tokens === "string") return parseError(tokens);

  const words: string[] = [];
  const flags = new Map<string, CommandFlag>();
  const put = (name: string, v: string | true): void => {
    const prev = flags.get(name);
    flags.set(name, prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v]);
  };
  let flagsEnded = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (flagsEnded || !isFlag(t)) {
      if (!flagsEnded && isEndOfFlags(t)) flagsEnded = true;
      else words.push(t.value);
      continue;
    }
    const eq = t.value.indexOf("=");
    const name = t.value.slice(2, eq < 0 ? undefined : eq);
    if (!FLAG_NAME.test(name)) return parseError(`invalid flag name "--${name}"`);
    if (eq >= 0) {
      put(name, t.value.slice(eq + 1));
      continue;
    }
    const next = tokens[i + 1];
    if (next !== undefined && !isFlag(next) && !isEndOfFlags(next)) {
      put(name, next.value);
      i++;
    } else {
      put(name, true);
    }
  }
  return { kind: "command", words, flags: Object.fromEntries(flags), raw };
}
