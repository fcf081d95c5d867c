/** @module A neutral reply as plain text: what email, SMS, logs, chunking and the plain-text fallbacks use. */
import type { Reply } from "../contracts/reply.ts";

/** Plain text: the title, then each block separated by a blank line, then the footer. Code keeps ``` fences. */
export function renderPlain(reply: Reply): string {
  const parts: string[] = [];
  if (reply.title) parts.push(reply.title);
  for (const b of reply.blocks) {
    if (b.kind === "text") parts.push(b.text);
    else if (b.kind === "fields") parts.push(b.fields.map((f) => `${f.label}: ${f.value}`).join("\n"));
    else if (b.kind === "list") parts.push(b.items.map((i) => `• ${i}`).join("\n"));
    else parts.push("```\n" + b.text + "\n```");
  }
  if (reply.footer) parts.push(reply.footer);
  return parts.filter((p) => p !== "").join("\n\n");
}
