/**
 * One neutral reply, three platform markups: Telegram HTML accepted by the local Bot API server's parser (and the
 * plain-text fallback when Telegram cannot parse it), Discord markdown escaped, WhatsApp markup, button limits.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createTelegramSender } from "../../connectors/telegram/sender.ts";
import type { ChunkJob } from "../../src/contracts/outbound.ts";
import type { Reply } from "../../src/contracts/reply.ts";
import { escapeDiscordMarkdown, renderDiscordMarkdown } from "../../src/outbound/format-discord.ts";
import { renderPlain } from "../../src/outbound/format-plain.ts";
import { renderTelegramHtml, telegramButtons } from "../../src/outbound/format-telegram.ts";
import { renderWhatsAppMarkup, whatsAppButtons } from "../../src/outbound/format-whatsapp.ts";
import { renderChunk } from "../../src/outbound/format.ts";
import { parseHtml } from "../helpers/telegram-bot-api-server-markup.ts";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";

/** User text that would break naive markup on every platform. */
const HOSTILE = `<b>not bold</b> & "q" 1<2 **x** _y_ \`z\` ~~s~~ ||sp||`;

const REPLY: Reply = {
  title: "Status <ops>",
  blocks: [
    { kind: "text", text: HOSTILE },
    { kind: "fields", fields: [{ label: "Queue", value: "3 & rising" }] },
    { kind: "list", items: ["a<b", "# not a heading"] },
    { kind: "code", text: "if (a < b && c) {}\n```" },
  ],
  footer: "/tau status · done",
};

describe("Telegram HTML", () => {
  it("escapes user text, uses only supported tags, and parses to exactly the plain words", () => {
    const html = renderTelegramHtml(REPLY);
    expect(html).toBe(
      [
        "<b>Status &lt;ops&gt;</b>",
        "&lt;b&gt;not bold&lt;/b&gt; &amp; &quot;q&quot; 1&lt;2 **x** _y_ `z` ~~s~~ ||sp||",
        "<b>Queue:</b> 3 &amp; rising",
        "• a&lt;b\n• # not a heading",
        "<pre>if (a &lt; b &amp;&amp; c) {}\n```</pre>",
        "<i>/tau status · done</i>",
      ].join("\n\n"),
    );
    const parsed = parseHtml(html);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.text).toBe(
      ["Status <ops>", HOSTILE, "Queue: 3 & rising", "• a<b\n• # not a heading", "if (a < b && c) {}\n```", "/tau status · done"].join(
        "\n\n",
      ),
    );
    expect(parsed.entities.map((e) => e.type)).toEqual(["bold", "bold", "pre", "italic"]);
  });

  it("keeps only buttons whose callback_data fits 64 bytes", () => {
    const ok = { label: "Approve", data: "tau:abcdefghijklmnop", style: "success" as const };
    expect(
      telegramButtons([ok, { label: "Big", data: "é".repeat(33), style: "primary" }, { label: " ", data: "tau:x", style: "danger" }]),
    ).toEqual([ok]);
  });
});

describe("Discord markdown", () => {
  it("escapes emphasis, code, spoilers, strike, masked links, headings, lists and quotes", () => {
    expect(escapeDiscordMarkdown("**b** _i_ `c` ~~s~~ ||sp|| [l](u) \\")).toBe(
      "\\*\\*b\\*\\* \\_i\\_ \\`c\\` \\~\\~s\\~\\~ \\|\\|sp\\|\\| \\[l\\](u) \\\\",
    );
    expect(escapeDiscordMarkdown("# h\n- item\n> quote\n1. one\nplain - dash")).toBe("\\# h\n\\- item\n\\> quote\n1\\. one\nplain - dash");
  });

  it("renders title, fields, list, a code block that cannot be closed early, and a subtext footer", () => {
    expect(renderDiscordMarkdown(REPLY)).toBe(
      [
        "**Status <ops>**",
        '<b>not bold</b> & "q" 1<2 \\*\\*x\\*\\* \\_y\\_ \\`z\\` \\~\\~s\\~\\~ \\|\\|sp\\|\\|',
        "**Queue:** 3 & rising",
        "- a<b\n- \\# not a heading",
        "```\nif (a < b && c) {}\n`\u200b``\n```",
        "-# /tau status · done",
      ].join("\n\n"),
    );
  });
});

describe("WhatsApp markup", () => {
  it("uses WhatsApp's own markers", () => {
    expect(
      renderWhatsAppMarkup({
        title: "Approval",
        blocks: [
          { kind: "fields", fields: [{ label: "By", value: "ann" }] },
          { kind: "code", text: "x" },
        ],
        footer: "f",
      }),
    ).toBe("*Approval*\n\n*By:* ann\n\n```x```\n\n_f_");
  });

  it("allows 1–3 buttons with unique ids and titles of at most 20 characters, else none", () => {
    const b = (label: string, data: string) => ({ label, data, style: "primary" as const });
    expect(whatsAppButtons([b("Approve", "tau:1"), b("Deny", "tau:2")])).toHaveLength(2);
    expect(whatsAppButtons([b("a", "1"), b("b", "2"), b("c", "3"), b("d", "4")])).toEqual([]);
    expect(whatsAppButtons([b("x".repeat(21), "1")])).toEqual([]);
    expect(whatsAppButtons([b("a", "1"), b("b", "1")])).toEqual([]);
  });
});

describe("chunks", () => {
  const stored = { reply: { ...REPLY, buttons: [{ label: "Approve", data: "tau:abcdefghijkl", style: "success" as const }] } };
  it("renders a one-chunk reply in markup with its buttons; a multi-chunk one goes out plain with buttons on the last chunk", () => {
    const one = renderChunk("telegram", stored, 0, 1, renderPlain(stored.reply));
    expect(one.rich).toMatchObject({ parse_mode: "HTML", buttons: [{ data: "tau:abcdefghijkl" }] });
    const first = renderChunk("discord", stored, 0, 2, "part one");
    const last = renderChunk("discord", stored, 1, 2, "part two");
    expect(first.rich).toEqual({ parse_mode: null, text: "part one", buttons: [] });
    expect(last.rich).toEqual({
      parse_mode: null,
      text: "part two",
      buttons: [{ label: "Approve", data: "tau:abcdefghijkl", style: "success" }],
    });
    expect(renderChunk("whatsapp", { ...stored, group: true }, 0, 1, "x").rich?.buttons).toEqual([]);
    expect(renderChunk("telegram", null, 0, 1, "x")).toEqual({});
  });
});

describe("Telegram plain-text fallback", () => {
  let tg: TelegramBotApiServer | null = null;
  afterEach(async () => {
    await tg?.close();
    tg = null;
  });
  it("resends the chunk without parse_mode when the server says it can't parse entities", async () => {
    tg = await startTelegramBotApiServer();
    const server = tg;
    const sender = createTelegramSender({ apiRoot: server.url, token: () => server.token });
    const job: ChunkJob = {
      outbox_id: "ob_x",
      idx: 0,
      chunk_count: 1,
      text: "a <br> b",
      target: { transport: "telegram", account_id: "1", conversation_id: "4242", thread_id: null, reply_to: null },
      rich: { parse_mode: "HTML", text: "a <br> b", buttons: [] },
    };
    const out = await sender.send(job);
    expect(out.ok).toBe(true);
    const calls = server.callsTo("sendMessage");
    expect(calls).toHaveLength(2);
    expect(calls[0]!.status).toBe(400);
    expect(JSON.stringify(calls[0]!.response)).toContain('can\'t parse entities: Unsupported start tag \\"br\\"');
    expect(server.sentMessages.at(-1)!.text).toBe("a <br> b");
    expect(server.sentMessages.at(-1)!.params["parse_mode"]).toBeUndefined();
  });
});
