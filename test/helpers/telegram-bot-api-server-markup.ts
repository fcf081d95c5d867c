/** parse_mode handling (HTML, MarkdownV2, legacy Markdown) for the local Telegram Bot API server, per PROVIDERS.md §1.5–1.7. */
// Output entities use UTF-16 offsets (§1.5); error positions are UTF-8 byte offsets like TDLib's
// ("can't parse entities: … at byte offset N", §1.6/§1.7). Leading/trailing whitespace is trimmed the way
// TDLib does before the length / emptiness checks (so "   " is "message text is empty").
// Error wordings for HTML start tags and MarkdownV2 reserved characters are quoted in PROVIDERS.md §1.6;
// the unclosed-entity wordings follow TDLib's MessageEntity.cpp from memory [UNV].

export interface TelegramEntity {
  type: string;
  offset: number;
  length: number;
  url?: string;
  language?: string;
  custom_emoji_id?: string;
}

export type ParsedText = { ok: true; text: string; entities: TelegramEntity[] } | { ok: false; error: string };

const byteOffset = (src: string, i: number): number => Buffer.byteLength(src.slice(0, i), "utf8");

function finish(text: string, entities: TelegramEntity[]): ParsedText {
  // TDLib strips leading and trailing whitespace and re-bases entities.
  const lead = text.length - text.trimStart().length;
  const trimmed = text.trim();
  const end = lead + trimmed.length;
  const fixed: TelegramEntity[] = [];
  for (const e of entities) {
    const s = Math.max(e.offset, lead);
    const f = Math.min(e.offset + e.length, end);
    if (f > s) fixed.push({ ...e, offset: s - lead, length: f - s });
  }
  fixed.sort((a, b) => a.offset - b.offset || b.length - a.length);
  return { ok: true, text: trimmed, entities: fixed };
}

// ------------------------------------------------------------------------------------------------- HTML
const HTML_TAGS: Record<string, string> = {
  b: "bold",
  strong: "bold",
  i: "italic",
  em: "italic",
  u: "underline",
  ins: "underline",
  s: "strikethrough",
  strike: "strikethrough",
  del: "strikethrough",
  "tg-spoiler": "spoiler",
  span: "spoiler",
  a: "text_link",
  code: "code",
  pre: "pre",
  blockquote: "blockquote",
  "tg-emoji": "custom_emoji",
};

function decodeHtmlEntity(src: string, i: number): { text: string; len: number } | null {
  const m = /^&(lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});/.exec(src.slice(i, i + 12));
  if (!m || !m[1]) return null;
  const name = m[1];
  const named: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"' };
  if (named[name] !== undefined) return { text: named[name], len: m[0].length };
  const cp = name.startsWith("#x") ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
  if (!(cp > 0 && cp <= 0x10ffff)) return null;
  return { text: String.fromCodePoint(cp), len: m[0].length };
}

export function parseHtml(src: string): ParsedText {
  let out = "";
  const entities: TelegramEntity[] = [];
  const stack: { tag: string; start: number; attrs: Record<string, string> }[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === "&") {
      const d = decodeHtmlEntity(src, i);
      if (d) {
        out += d.text;
        i += d.len;
      } else {
        out += c;
        i++;
      }
      continue;
    }
    if (c !== "<") {
      out += c;
      i++;
      continue;
    }
    const close = src.indexOf(">", i);
    if (src[i + 1] === "/") {
      if (close < 0) return { ok: false, error: `Unclosed end tag at byte offset ${byteOffset(src, i)}` };
      const name = src
        .slice(i + 2, close)
        .trim()
        .toLowerCase();
      const top = stack.pop();
      if (!top) return { ok: false, error: `Unexpected end tag at byte offset ${byteOffset(src, i)}` };
      if (name !== "" && name !== top.tag) {
        return { ok: false, error: `Unmatched end tag at byte offset ${byteOffset(src, i)}, expected "</${top.tag}>", found "</${name}>"` };
      }
      if (out.length > top.start) {
        const e: TelegramEntity = { type: HTML_TAGS[top.tag]!, offset: top.start, length: out.length - top.start };
        if (top.tag === "a") e.url = top.attrs["href"] ?? "";
        if (top.tag === "blockquote" && "expandable" in top.attrs) e.type = "expandable_blockquote";
        if (top.tag === "tg-emoji") e.custom_emoji_id = top.attrs["emoji-id"] ?? "";
        if (top.tag === "code" && stack.at(-1)?.tag === "pre" && top.attrs["class"]?.startsWith("language-")) {
          e.type = "pre";
          e.language = top.attrs["class"].slice("language-".length);
        }
        entities.push(e);
      }
      i = close + 1;
      continue;
    }
    if (close < 0) return { ok: false, error: `Unclosed start tag at byte offset ${byteOffset(src, i)}` };
    const inner = src.slice(i + 1, close);
    const nameMatch = /^[a-zA-Z][a-zA-Z0-9-]*/.exec(inner);
    const name = (nameMatch?.[0] ?? "").toLowerCase();
    if (!name || HTML_TAGS[name] === undefined) {
      return { ok: false, error: `Unsupported start tag "${name}" at byte offset ${byteOffset(src, i)}` };
    }
    const attrs: Record<string, string> = {};
    const attrRe = /([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g;
    for (const m of inner.slice(name.length).matchAll(attrRe)) attrs[m[1]!.toLowerCase()] = m[2] ?? m[3] ?? m[4] ?? "";
    if (name === "span" && attrs["class"] !== "tg-spoiler") {
      return { ok: false, error: `Tag "span" must have class "tg-spoiler" at byte offset ${byteOffset(src, i)}` };
    }
    stack.push({ tag: name, start: out.length, attrs });
    i = close + 1;
  }
  const open = stack.pop();
  if (open) return { ok: false, error: `Can't find end tag corresponding to start tag "${open.tag}"` };
  // A <pre><code class="language-x"> pair yields one pre entity with a language; drop the duplicate plain pre.
  const withLang = entities.filter((e) => e.type === "pre" && e.language !== undefined);
  const deduped = entities.filter(
    (e) => !(e.type === "pre" && e.language === undefined && withLang.some((w) => w.offset === e.offset && w.length === e.length)),
  );
  return finish(out, deduped);
}

// ------------------------------------------------------------------------------------------------- MarkdownV2
const MDV2_RESERVED = "_*[]()~`>#+-=|{}.!";
const MDV2_NAMES: Record<string, string> = {
  bold: "Bold",
  italic: "Italic",
  underline: "Underline",
  strikethrough: "Strikethrough",
  spoiler: "Spoiler",
  code: "Code",
  pre: "Pre",
  text_link: "TextUrl",
  custom_emoji: "CustomEmoji",
};

export function parseMarkdownV2(src: string): ParsedText {
  let out = "";
  const entities: TelegramEntity[] = [];
  const stack: { type: string; start: number; srcPos: number; language?: string }[] = [];
  let quoteStart: number | null = null;
  const reserved = (i: number): ParsedText => ({
    ok: false,
    error: `Character '${src[i]}' is reserved and must be escaped with the preceding '\\'`,
  });
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    const top = stack.at(-1);
    if (c === "\\" && i + 1 < src.length && src.charCodeAt(i + 1) > 0 && src.charCodeAt(i + 1) <= 126) {
      out += src[i + 1];
      i += 2;
      continue;
    }
    if (top && (top.type === "code" || top.type === "pre")) {
      const endsPre = top.type === "pre" && src.startsWith("```", i);
      if ((top.type === "code" && c === "`") || endsPre) {
        stack.pop();
        if (out.length > top.start) {
          const e: TelegramEntity = { type: top.type, offset: top.start, length: out.length - top.start };
          if (top.language) e.language = top.language;
          entities.push(e);
        }
        i += endsPre ? 3 : 1;
      } else {
        out += c;
        i++;
      }
      continue;
    }
    if (c === "\n" && quoteStart !== null && src[i + 1] !== ">") {
      entities.push({ type: "blockquote", offset: quoteStart, length: out.length - quoteStart });
      quoteStart = null;
    }
    if (!MDV2_RESERVED.includes(c)) {
      out += c;
      i++;
      continue;
    }
    if (c === ">" && (i === 0 || src[i - 1] === "\n")) {
      if (quoteStart === null) quoteStart = out.length;
      i++;
      continue;
    }
    const isEnd =
      top !== undefined &&
      ((top.type === "bold" && c === "*") ||
        (top.type === "italic" && c === "_" && src[i + 1] !== "_") ||
        (top.type === "underline" && c === "_" && src[i + 1] === "_") ||
        (top.type === "strikethrough" && c === "~") ||
        (top.type === "spoiler" && c === "|" && src[i + 1] === "|") ||
        ((top.type === "text_link" || top.type === "custom_emoji") && c === "]"));
    if (isEnd && top) {
      stack.pop();
      i += top.type === "underline" || top.type === "spoiler" ? 2 : 1;
      let url: string | undefined;
      if (top.type === "text_link" || top.type === "custom_emoji") {
        if (src[i] === "(") {
          let j = i + 1;
          let u = "";
          while (j < src.length && src[j] !== ")") {
            if (src[j] === "\\" && j + 1 < src.length) {
              u += src[j + 1];
              j += 2;
            } else {
              u += src[j];
              j++;
            }
          }
          if (j >= src.length) return { ok: false, error: `Can't find end of a url at byte offset ${byteOffset(src, i)}` };
          url = u;
          i = j + 1;
        }
        if (url === undefined) continue; // "[text]" without a url: the text stays, no entity
      }
      if (out.length > top.start) {
        const e: TelegramEntity = { type: top.type, offset: top.start, length: out.length - top.start };
        if (top.type === "text_link") e.url = url;
        if (top.type === "custom_emoji") e.custom_emoji_id = (url ?? "").replace(/^tg:\/\/emoji\?id=/, "");
        entities.push(e);
      }
      continue;
    }
    // Beginning of an entity, or a reserved character that was not escaped.
    const start = { start: out.length, srcPos: i };
    if (c === "_" && src[i + 1] === "_") {
      stack.push({ type: "underline", ...start });
      i += 2;
    } else if (c === "_") {
      stack.push({ type: "italic", ...start });
      i++;
    } else if (c === "*") {
      stack.push({ type: "bold", ...start });
      i++;
    } else if (c === "~") {
      stack.push({ type: "strikethrough", ...start });
      i++;
    } else if (c === "|" && src[i + 1] === "|") {
      stack.push({ type: "spoiler", ...start });
      i += 2;
    } else if (c === "[") {
      stack.push({ type: "text_link", ...start });
      i++;
    } else if (c === "!" && src[i + 1] === "[") {
      stack.push({ type: "custom_emoji", ...start });
      i += 2;
    } else if (c === "`" && src.startsWith("```", i)) {
      const nl = src.indexOf("\n", i + 3);
      const lang = nl >= 0 ? src.slice(i + 3, nl) : "";
      const ok = nl >= 0 && /^[^\s`]*$/.test(lang);
      stack.push({ type: "pre", ...start, ...(ok && lang ? { language: lang } : {}) });
      i = ok ? nl + 1 : i + 3;
    } else if (c === "`") {
      stack.push({ type: "code", ...start });
      i++;
    } else return reserved(i);
  }
  if (quoteStart !== null) entities.push({ type: "blockquote", offset: quoteStart, length: out.length - quoteStart });
  const open = stack[0];
  if (open) {
    return {
      ok: false,
      error: `Can't find end of ${MDV2_NAMES[open.type] ?? open.type} entity at byte offset ${byteOffset(src, open.srcPos)}`,
    };
  }
  return finish(out, entities);
}

// ------------------------------------------------------------------------------------------------- legacy Markdown
export function parseLegacyMarkdown(src: string): ParsedText {
  let out = "";
  const entities: TelegramEntity[] = [];
  let i = 0;
  const unclosed = (pos: number): ParsedText => ({
    ok: false,
    error: `Can't find end of the entity starting at byte offset ${byteOffset(src, pos)}`,
  });
  while (i < src.length) {
    const c = src[i]!;
    if (c === "\\" && "_*`[".includes(src[i + 1] ?? "")) {
      out += src[i + 1];
      i += 2;
      continue;
    }
    if (c === "*" || c === "_" || c === "`") {
      const isPre = c === "`" && src.startsWith("```", i);
      const marker = isPre ? "```" : c;
      const end = src.indexOf(marker, i + marker.length);
      if (end < 0) return unclosed(i);
      const inner = src.slice(i + marker.length, end);
      const type = isPre ? "pre" : c === "*" ? "bold" : c === "_" ? "italic" : "code";
      if (inner.length) entities.push({ type, offset: out.length, length: inner.length });
      out += inner;
      i = end + marker.length;
      continue;
    }
    if (c === "[") {
      const close = src.indexOf("]", i + 1);
      if (close < 0) return unclosed(i);
      const inner = src.slice(i + 1, close);
      let url = "";
      let next = close + 1;
      if (src[next] === "(") {
        const endUrl = src.indexOf(")", next);
        if (endUrl < 0) return unclosed(i);
        url = src.slice(next + 1, endUrl);
        next = endUrl + 1;
      }
      if (inner.length && url) entities.push({ type: "text_link", offset: out.length, length: inner.length, url });
      out += inner;
      i = next;
      continue;
    }
    out += c;
    i++;
  }
  return finish(out, entities);
}

export const SUPPORTED_PARSE_MODES = ["", "html", "markdownv2", "markdown"];

/** Applies `parse_mode` (or explicit `entities`) the way the Bot API does before counting the length. */
export function parseTelegramText(text: string, parseMode: string | undefined, entities: unknown): ParsedText {
  const mode = (parseMode ?? "").toLowerCase();
  if (mode === "html") return parseHtml(text);
  if (mode === "markdownv2") return parseMarkdownV2(text);
  if (mode === "markdown") return parseLegacyMarkdown(text);
  // Unknown modes are rejected by the server before this is called ("Bad Request: unsupported parse_mode").
  return finish(text, Array.isArray(entities) ? (entities as TelegramEntity[]) : []);
}

// ------------------------------------------------------------------------------------------------- inline keyboards
/**
 * reply_markup.inline_keyboard checks of the Bot API (PROVIDERS.md §10.1): a button needs non-empty text and exactly
 * one action field; callback_data is 1–64 UTF-8 bytes (else the server's raw "BUTTON_DATA_INVALID"). Returns the
 * error description (without "Bad Request: "), or null when the markup is acceptable.
 */
export function checkInlineKeyboard(markup: unknown): string | null {
  if (!markup || typeof markup !== "object" || !("inline_keyboard" in markup)) return null;
  const rows = (markup as { inline_keyboard: unknown }).inline_keyboard;
  if (!Array.isArray(rows)) return 'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays';
  const ACTIONS = [
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
  ];
  for (const row of rows) {
    if (!Array.isArray(row)) return 'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays';
    for (const b of row as Record<string, unknown>[]) {
      if (typeof b?.["text"] !== "string" || b["text"].trim() === "") return "Inline keyboard button text must be non-empty";
      const actions = ACTIONS.filter((k) => b[k] !== undefined);
      if (actions.length !== 1) return "Inline keyboard button must have exactly one action";
      const data = b["callback_data"];
      if (data !== undefined && (typeof data !== "string" || data === "" || Buffer.byteLength(data, "utf8") > 64))
        return "BUTTON_DATA_INVALID";
      const style = b["style"];
      if (style !== undefined && !["danger", "success", "primary"].includes(String(style))) return "BUTTON_STYLE_INVALID";
    }
  }
  return null;
}
