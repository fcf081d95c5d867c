/**
 * @module A neutral reply as Telegram HTML: only the tags the Bot API supports (`b i code pre`), every piece of
 * text escaped (`&`, `<`, `>`; `"` too, harmless outside attributes). When Telegram still answers "can't parse
 * entities", the sender resends the plain chunk without parse_mode.
 * @see https://core.telegram.org/bots/api#html-style
 */
import type { Reply, ReplyButton } from "../contracts/reply.ts";

/** Escape text for Telegram HTML: the three characters HTML reserves, and `"` (attributes). */
export function escapeTelegramHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Telegram HTML for `reply` (footer in italics). */
export function renderTelegramHtml(reply: Reply): string {
  const e = escapeTelegramHtml;
  const parts: string[] = [];
  if (reply.title) parts.push(`<b>${e(reply.title)}</b>`);
  for (const b of reply.blocks) {
    if (b.kind === "text") parts.push(e(b.text));
    else if (b.kind === "fields") parts.push(b.fields.map((f) => `<b>${e(f.label)}:</b> ${e(f.value)}`).join("\n"));
    else if (b.kind === "list") parts.push(b.items.map((i) => `• ${e(i)}`).join("\n"));
    else parts.push(`<pre>${e(b.text)}</pre>`);
  }
  if (reply.footer) parts.push(`<i>${e(reply.footer)}</i>`);
  return parts.filter((p) => p !== "").join("\n\n");
}

/** Longest callback_data Telegram accepts, in UTF-8 bytes (else 400 BUTTON_DATA_INVALID, PROVIDERS.md §10.1). */
export const TELEGRAM_CALLBACK_DATA_MAX_BYTES = 64;

/** Buttons Telegram accepts: a non-empty label and callback_data of 1–64 bytes. */
export function telegramButtons(buttons: readonly ReplyButton[]): ReplyButton[] {
  return buttons.filter(
    (b) => b.label.trim() !== "" && b.data !== "" && Buffer.byteLength(b.data, "utf8") <= TELEGRAM_CALLBACK_DATA_MAX_BYTES,
  );
}
