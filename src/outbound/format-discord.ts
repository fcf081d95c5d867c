/**
 * @module A neutral reply as Discord markdown. Every piece of text is escaped (emphasis, code, spoilers, strike,
 * headings, lists, quotes, masked links), so user text shows as typed; mentions are not neutralised by escaping —
 * the request carries `allowed_mentions: {parse: []}` on every create and edit (PROVIDERS.md §10.2).
 * @see https://discord.com/developers/docs/reference#message-formatting
 */
import type { Reply, ReplyButton } from "../contracts/reply.ts";

/** Escape Discord markdown in `s` (inline markers anywhere; headings, lists and quotes at a line start). */
export function escapeDiscordMarkdown(s: string): string {
  return (
    s
      .replace(/[\\*_~`|[\]]/g, "\\$&")
      .replace(/^(\s*)([>#-])(?=\s|$)/gm, "$1\\$2")
      // "1." starts a numbered list; a backslash only escapes punctuation, so it goes before the dot.
      .replace(/^(\s*\d+)\.(?=\s|$)/gm, "$1\\.")
  );
}

/** Code inside a ``` block cannot be escaped: break up any ``` so the block cannot end early. */
function fenceSafe(s: string): string {
  return s.replace(/```/g, "`\u200b``");
}

/** Discord markdown for `reply` (footer as `-#` subtext). */
export function renderDiscordMarkdown(reply: Reply): string {
  const e = escapeDiscordMarkdown;
  const parts: string[] = [];
  if (reply.title) parts.push(`**${e(reply.title)}**`);
  for (const b of reply.blocks) {
    if (b.kind === "text") parts.push(e(b.text));
    else if (b.kind === "fields") parts.push(b.fields.map((f) => `**${e(f.label)}:** ${e(f.value)}`).join("\n"));
    else if (b.kind === "list") parts.push(b.items.map((i) => `- ${e(i)}`).join("\n"));
    else parts.push("```\n" + fenceSafe(b.text) + "\n```");
  }
  if (reply.footer) parts.push(`-# ${e(reply.footer)}`);
  return parts.filter((p) => p !== "").join("\n\n");
}

/** Discord limits: ≤ 5 buttons per action row, custom_id 1–100 characters, label ≤ 80 (PROVIDERS.md §10.2). */
export function discordButtons(buttons: readonly ReplyButton[]): ReplyButton[] {
  const seen = new Set<string>();
  return buttons
    .filter(
      (b) =>
        b.label.trim() !== "" &&
        b.label.length <= 80 &&
        b.data.length >= 1 &&
        b.data.length <= 100 &&
        !seen.has(b.data) &&
        seen.add(b.data),
    )
    .slice(0, 5);
}
