/** @module Tests for the pure Telegram normalizer over fixtures/raw/telegram and generated updates. */
import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { normalizeTelegramUpdate } from "../../../connectors/telegram/normalize.ts";
import { EnvelopeSchema } from "../../../src/contracts/envelope.ts";
import type { Envelope, NormalizeContext, NormalizeResult } from "../../../src/contracts/envelope.ts";
import { TEST_IDENTITY } from "../../helpers/identity.ts";
import { mutatedFixture } from "../../helpers/mutate-json.ts";

const RECEIVED_AT = 1763712000412;
/** fc.anything with the shapes JSON cannot produce but an `unknown` argument can: sparse arrays, null prototypes, boxed values. */
const JUNK_OPTIONS = { withSparseArray: true, withNullPrototype: true, withBoxedValues: true, withObjectString: true } as const;
const ctx: NormalizeContext = { identity: TEST_IDENTITY, receivedAtMs: RECEIVED_AT };

function load(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../../../fixtures/raw/telegram/${name}`, import.meta.url), "utf8"));
}

function ok(result: NormalizeResult): Extract<NormalizeResult, { ok: true }> {
  if (!result.ok) throw new Error(`expected ok, got ${result.code}: ${result.detail}`);
  return result;
}

/** Normalize a fixture that must yield exactly one envelope. */
function one(name: string, context: NormalizeContext = ctx): Envelope {
  const result = ok(normalizeTelegramUpdate(load(name), context));
  expect(result.envelopes).toHaveLength(1);
  expect(result.ignored).toEqual([]);
  return result.envelopes[0] as Envelope;
}

describe("normalizeTelegramUpdate: messages", () => {
  it("normalizes a private text message into the full envelope", () => {
    expect(one("private-text.json")).toEqual({
      v: 1,
      event_id: "telegram:6112:u:900001",
      transport: "telegram",
      provider: "telegram-bot-api",
      account_id: "6112",
      kind: "message",
      conversation_id: "4242",
      thread_id: null,
      chat_type: "dm",
      actor: { id: "4242", display: "ana", is_bot: false },
      mentions_bot: true,
      text: "hello tau",
      attachments: [],
      reply_to: null,
      forwarded: false,
      occurred_at_ms: 1763712000000,
      received_at_ms: 1763712000412,
      meta: { update_id: 900001, update_type: "message", message_id: 311 },
    });
  });

  it("detects an @mention of the bot case-insensitively in a group", () => {
    const env = one("group-mention.json");
    expect(env.chat_type).toBe("group");
    expect(env.conversation_id).toBe("-4012345678");
    expect(env.mentions_bot).toBe(true);
    expect(env.actor).toEqual({ id: "5150", display: "Ben", is_bot: false });
    expect(env.meta).toEqual({ update_id: 900002, update_type: "message", message_id: 87, chat_title: "Ops Team" });
  });

  it("reads entity offsets as UTF-16 code units (emoji before the mention)", () => {
    const env = one("group-mention-emoji.json");
    expect(env.mentions_bot).toBe(true);
    expect(env.text).toBe("👋🏽 hi @tau_ops_bot 👨‍👩‍👧‍👦 ok");
  });

  it("does not flag other mentions or a bare /command in a group", () => {
    expect(one("group-no-mention.json").mentions_bot).toBe(false);
  });

  it("treats /tau@tau_ops_bot as addressed to us and /tau@other_bot as not", () => {
    const ours = one("command-ours.json");
    expect(ours.mentions_bot).toBe(true);
    expect(ours.text).toBe("/tau@TAU_OPS_BOT status");
    expect(ours.meta.command_bot).toBe("tau_ops_bot");
    const other = one("command-other-bot.json");
    expect(other.mentions_bot).toBe(false);
    expect(other.meta.command_bot).toBe("other_bot");
  });

  it("maps a forum topic message: thread id, exact -100 chat id, topic root is not a reply", () => {
    const env = one("forum-topic.json");
    expect(env.conversation_id).toBe("-1001234567890");
    expect(env.thread_id).toBe("77");
    expect(env.reply_to).toBeNull();
    expect(env.mentions_bot).toBe(false);
  });

  it("keeps a real reply inside a topic and counts a reply to the bot as a mention", () => {
    const env = one("forum-topic-reply-to-bot.json");
    expect(env.thread_id).toBe("77");
    expect(env.reply_to).toBe("313");
    expect(env.mentions_bot).toBe(true);
  });

  it("keeps the largest photo size and the caption, with caption_entities for mentions", () => {
    const env = one("photo-caption.json");
    expect(env.text).toBe("disk graph @tau_ops_bot");
    expect(env.mentions_bot).toBe(true);
    expect(env.attachments).toEqual([{ kind: "image", mime: "image/jpeg", size: 48211, name: null, ref: "AgACAgQAAxkBAAIBaWd_large" }]);
    expect(env.meta.media_group_id).toBe("13612345678901234");
  });

  it("maps voice and document attachments", () => {
    expect(one("voice.json").attachments).toEqual([
      { kind: "voice", mime: "audio/ogg", size: 9120, name: null, ref: "AwACAgQAAxkBAAIBamVoice" },
    ]);
    const doc = one("document.json");
    expect(doc.text).toBe("report attached");
    expect(doc.attachments).toEqual([
      { kind: "document", mime: "application/pdf", size: 204800, name: "incident-report.pdf", ref: "BQACAgQAAxkBAAIBa2Doc" },
    ]);
  });

  it("maps an edited_message to kind edit at edit_date", () => {
    const env = one("edited-message.json");
    expect(env.kind).toBe("edit");
    expect(env.event_id).toBe("telegram:6112:u:900012");
    expect(env.text).toBe("hello tau!");
    expect(env.occurred_at_ms).toBe(1763712090000);
    expect(env.meta.message_id).toBe(311);
  });

  it("maps a channel_post: channel chat type, the channel as actor", () => {
    const env = one("channel-post.json");
    expect(env.chat_type).toBe("channel");
    expect(env.actor).toEqual({ id: "-1002233445566", display: "Ops Announcements", is_bot: false });
    expect(env.meta.update_type).toBe("channel_post");
  });

  it("attributes an anonymous admin's message to the group (sender_chat)", () => {
    const env = one("anonymous-admin.json");
    expect(env.actor).toEqual({ id: "-1009876543210", display: "Ops Chat", is_bot: false });
    expect(env.meta.anonymous_admin).toBe(true);
    expect(env.mentions_bot).toBe(true);
  });

  it("marks an automatic forward from the linked channel as forwarded, authored by the channel", () => {
    const env = one("automatic-forward.json");
    expect(env.forwarded).toBe(true);
    expect(env.actor).toEqual({ id: "-1002233445566", display: "Ops Announcements", is_bot: false });
    expect(env.meta.anonymous_admin).toBeUndefined();
  });

  it("marks forward_origin messages as forwarded", () => {
    const env = one("forwarded-from-user.json");
    expect(env.forwarded).toBe(true);
    expect(env.text).toBe("/tau killswitch on outbound");
  });

  it("maps service messages to system with descriptive meta", () => {
    const migrate = one("migrate-to-supergroup.json");
    expect(migrate.kind).toBe("system");
    expect(migrate.text).toBe("");
    expect(migrate.meta).toEqual({
      update_id: 900020,
      update_type: "message",
      message_id: 95,
      chat_title: "Ops Team",
      service: "migrate_to_chat_id",
      migrate_to_chat_id: "-1001234567890",
    });
    const joined = one("new-chat-members.json");
    expect(joined.kind).toBe("system");
    expect(joined.meta.service).toBe("new_chat_members");
    expect(joined.meta.new_chat_member_ids).toBe("5150");
  });
});

describe("normalizeTelegramUpdate: other update types", () => {
  it("maps a callback_query to kind callback with the data as text", () => {
    expect(one("callback-query.json")).toEqual({
      v: 1,
      event_id: "telegram:6112:u:900014",
      transport: "telegram",
      provider: "telegram-bot-api",
      account_id: "6112",
      kind: "callback",
      conversation_id: "4242",
      thread_id: null,
      chat_type: "dm",
      actor: { id: "4242", display: "ana", is_bot: false },
      mentions_bot: true,
      text: "approve:ap_7Q2K",
      attachments: [],
      reply_to: "320",
      forwarded: false,
      occurred_at_ms: 1763712000412,
      received_at_ms: 1763712000412,
      meta: {
        update_id: 900014,
        update_type: "callback_query",
        callback_query_id: "4382bfdwdsb323b2d9",
        // The callback envelope contract shared with Discord and WhatsApp (issue 12 buttons).
        callback_id: "4382bfdwdsb323b2d9",
        prompt_message_id: 320,
        message_id: 320,
        chat_instance: "-8845630132418402001",
      },
    });
  });

  it("uses the user's id as a DM conversation for an inline callback without a message", () => {
    const raw = {
      update_id: 5,
      callback_query: {
        id: "77",
        from: { id: 4242, is_bot: false, first_name: "Ana" },
        chat_instance: "1",
        inline_message_id: "AAE",
        data: "x",
      },
    };
    const env = ok(normalizeTelegramUpdate(raw, ctx)).envelopes[0];
    expect(env?.conversation_id).toBe("4242");
    expect(env?.chat_type).toBe("dm");
    expect(env?.reply_to).toBeNull();
    expect(env?.meta.inline_message_id).toBe("AAE");
  });

  it("maps my_chat_member kicked in a private chat to a blocked membership", () => {
    const env = one("my-chat-member-blocked.json");
    expect(env.kind).toBe("membership");
    expect(env.chat_type).toBe("dm");
    expect(env.occurred_at_ms).toBe(1763712080000);
    expect(env.meta).toEqual({
      update_id: 900015,
      update_type: "my_chat_member",
      old_status: "member",
      new_status: "kicked",
      change: "blocked",
      blocked: true,
      member_user_id: "6112",
    });
  });

  it("maps the bot being added to a supergroup", () => {
    const env = one("my-chat-member-added.json");
    expect(env.meta.change).toBe("added");
    expect(env.meta.blocked).toBe(false);
    expect(env.actor.id).toBe("5150");
  });

  it("maps message_reaction to kind reaction on the reacted message", () => {
    const env = one("message-reaction.json");
    expect(env.kind).toBe("reaction");
    expect(env.reply_to).toBe("90");
    expect(env.meta.emoji).toBe("👍");
    expect(env.mentions_bot).toBe(false);
  });

  it("ignores unsupported update types without failing", () => {
    expect(normalizeTelegramUpdate(load("chat-member-unsupported.json"), ctx)).toEqual({
      ok: true,
      envelopes: [],
      ignored: [{ code: "telegram_update_type_unsupported", detail: "update 900023: chat_member" }],
    });
  });

  it("normalizes every update of a getUpdates response", () => {
    const result = ok(normalizeTelegramUpdate(load("get-updates-response.json"), ctx));
    expect(result.envelopes.map((e) => [e.event_id, e.kind, e.reply_to, e.mentions_bot])).toEqual([
      ["telegram:6112:u:900030", "message", null, true],
      ["telegram:6112:u:900031", "edit", null, true],
      ["telegram:6112:u:900032", "message", "401", true],
    ]);
  });

  it("accepts a bare array of updates", () => {
    const result = ok(normalizeTelegramUpdate([load("private-text.json"), load("voice.json")], ctx));
    expect(result.envelopes.map((e) => e.event_id)).toEqual(["telegram:6112:u:900001", "telegram:6112:u:900010"]);
  });
});

describe("normalizeTelegramUpdate: edge cases", () => {
  it("counts a text_mention of the bot id in a group", () => {
    const raw = {
      update_id: 7,
      message: {
        message_id: 1,
        date: 1763712000,
        text: "hey tau",
        from: { id: 5150, is_bot: false, first_name: "Ben" },
        chat: { id: -42, type: "group", title: "g" },
        entities: [{ type: "text_mention", offset: 4, length: 3, user: { id: 6112, is_bot: true, first_name: "tau" } }],
      },
    };
    expect(ok(normalizeTelegramUpdate(raw, ctx)).envelopes[0]?.mentions_bot).toBe(true);
  });

  it("falls back to first and last name when there is no username", () => {
    const raw = {
      update_id: 8,
      message: {
        message_id: 1,
        date: 1,
        chat: { id: 9, type: "private" },
        from: { id: 9, is_bot: false, first_name: "Ana", last_name: "Silva" },
      },
    };
    expect(ok(normalizeTelegramUpdate(raw, ctx)).envelopes[0]?.actor).toEqual({ id: "9", display: "Ana Silva", is_bot: false });
  });

  it("includes the raw update only with keepRaw", () => {
    const raw = load("private-text.json");
    expect(one("private-text.json").raw).toBeUndefined();
    expect(ok(normalizeTelegramUpdate(raw, { ...ctx, keepRaw: true })).envelopes[0]?.raw).toEqual(raw);
  });

  it("refuses an empty bot identity", () => {
    const identity = { ...TEST_IDENTITY, telegram: { bot_id: "", username: "tau_ops_bot" } };
    expect(normalizeTelegramUpdate(load("private-text.json"), { ...ctx, identity })).toEqual({
      ok: false,
      code: "ingress_identity_missing",
      detail: "identity.telegram.bot_id: empty",
    });
  });

  it("refuses missing ids with ingress_missing_id and the path", () => {
    expect(normalizeTelegramUpdate({ message: { message_id: 1 } }, ctx)).toMatchObject({
      ok: false,
      code: "ingress_missing_id",
      detail: "update_id: missing",
    });
    const noChatId = { update_id: 3, message: { message_id: 1, date: 1, chat: { type: "private" } } };
    expect(normalizeTelegramUpdate(noChatId, ctx)).toEqual({ ok: false, code: "ingress_missing_id", detail: "message.chat.id: missing" });
    // Per-item refusal: the bad update of a batch is refused alone, the good one is still an envelope.
    const batch = { ok: true, result: [load("private-text.json"), { message: {} }] };
    const r = normalizeTelegramUpdate(batch, ctx);
    expect(r).toMatchObject({
      ok: true,
      refused: [{ code: "ingress_missing_id", detail: "result.1.update_id: missing", raw: { message: {} } }],
    });
    expect(r.ok && r.envelopes.map((e) => e.event_id)).toHaveLength(1);
  });

  it("refuses malformed payloads with ingress_payload_invalid and the path", () => {
    const badType = { update_id: 3, message: { message_id: 1, date: 1, chat: { id: 1, type: "secret" } } };
    const result = normalizeTelegramUpdate(badType, ctx);
    expect(result.ok).toBe(false);
    expect(result).toMatchObject({ code: "ingress_payload_invalid" });
    expect(!result.ok && result.detail.startsWith("message.chat.type: ")).toBe(true);
    expect(normalizeTelegramUpdate({ ok: false, error_code: 401, description: "Unauthorized" }, ctx)).toMatchObject({
      ok: false,
      code: "ingress_payload_invalid",
    });
    expect(normalizeTelegramUpdate("nope", ctx)).toMatchObject({ ok: false, code: "ingress_payload_invalid" });
  });

  it("reports an impossible envelope (bad receive time) as ingress_envelope_invalid", () => {
    expect(normalizeTelegramUpdate(load("private-text.json"), { ...ctx, receivedAtMs: -1 })).toEqual({
      ok: false,
      code: "ingress_envelope_invalid",
      detail: "telegram:6112:u:900001: received_at_ms: Too small: expected number to be >=0",
    });
  });
});

describe("normalizeTelegramUpdate: every fixture", () => {
  const dir = new URL("../../../fixtures/raw/telegram/", import.meta.url);
  const names = readdirSync(dir)
    .filter((n) => n.endsWith(".json"))
    .sort();

  it("has the fixtures this suite relies on", () => {
    expect(names.length).toBeGreaterThanOrEqual(24);
  });

  it("normalizes each fixture to schema-valid envelopes with globally unique event ids", () => {
    const ids: string[] = [];
    for (const name of names) {
      const result = normalizeTelegramUpdate(load(name), ctx);
      expect(result.ok, name).toBe(true);
      if (!result.ok) continue;
      for (const env of result.envelopes) EnvelopeSchema.parse(env);
      const own = result.envelopes.map((e) => e.event_id);
      expect(new Set(own).size, name).toBe(own.length);
      ids.push(...own);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("never throws or builds an invalid envelope when one fixture field is mutated", () => {
    fc.assert(
      fc.property(mutatedFixture(names.map(load)), (raw) => {
        const result = normalizeTelegramUpdate(raw, ctx);
        if (!result.ok) expect(result.code).not.toBe("ingress_envelope_invalid");
        else for (const env of result.envelopes) EnvelopeSchema.parse(env);
      }),
      { numRuns: 500 },
    );
  });
});

describe("normalizeTelegramUpdate: properties", () => {
  const user = fc.record({
    id: fc.integer({ min: 1, max: 2 ** 40 }),
    is_bot: fc.boolean(),
    first_name: fc.string({ minLength: 1, maxLength: 20 }),
    username: fc.option(fc.stringMatching(/^[a-z][a-z0-9_]{4,15}$/), { nil: undefined }),
  });
  const chat = fc.record({
    id: fc.integer({ min: -(2 ** 52), max: 2 ** 52 }).filter((n) => n !== 0),
    type: fc.constantFrom("private", "group", "supergroup", "channel"),
    title: fc.option(fc.string({ maxLength: 30 }), { nil: undefined }),
  });
  const message = fc.record({
    message_id: fc.nat({ max: 2 ** 31 }),
    date: fc.integer({ min: 0, max: 2 ** 33 }),
    chat,
    from: fc.option(user, { nil: undefined }),
    text: fc.option(fc.string({ unit: "grapheme", maxLength: 200 }), { nil: undefined }),
    is_topic_message: fc.option(fc.boolean(), { nil: undefined }),
    message_thread_id: fc.option(fc.nat(), { nil: undefined }),
  });
  /** Any of the handled update shapes, without update_id. */
  const body = fc.oneof(
    message.map((m) => ({ message: m })),
    message.map((m) => ({ edited_message: { ...m, edit_date: m.date + 1 } })),
    message.map((m) => ({ channel_post: m })),
    fc.record({ from: user, data: fc.string(), message: fc.option(message, { nil: undefined }) }).map((q) => ({
      callback_query: { id: "cb1", chat_instance: "ci", ...q },
    })),
    fc.record({ chat, from: user, date: fc.nat(), status: fc.constantFrom("member", "kicked", "left", "administrator") }).map((u) => ({
      my_chat_member: {
        chat: u.chat,
        from: u.from,
        date: u.date,
        old_chat_member: { status: "member", user: u.from },
        new_chat_member: { status: u.status, user: u.from },
      },
    })),
  );

  it("always yields envelopes that pass EnvelopeSchema", () => {
    fc.assert(
      fc.property(fc.nat(), body, (updateId, b) => {
        const result = ok(normalizeTelegramUpdate({ update_id: updateId, ...b }, ctx));
        expect(result.envelopes).toHaveLength(1);
        for (const env of result.envelopes) EnvelopeSchema.parse(env);
      }),
    );
  });

  it("keeps event_id stable when the same update is normalized again later", () => {
    fc.assert(
      fc.property(fc.nat(), body, fc.nat(), fc.nat(), (updateId, b, t1, t2) => {
        const raw = { update_id: updateId, ...b };
        const first = ok(normalizeTelegramUpdate(raw, { ...ctx, receivedAtMs: t1 })).envelopes[0];
        const again = ok(normalizeTelegramUpdate(raw, { ...ctx, receivedAtMs: t2 })).envelopes[0];
        expect(again?.event_id).toBe(first?.event_id);
        expect(first?.event_id).toBe(`telegram:6112:u:${updateId}`);
      }),
    );
  });

  it("gives distinct update_ids distinct event_ids", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(), { minLength: 2, maxLength: 20 }), body, (ids, b) => {
        const result = ok(
          normalizeTelegramUpdate(
            ids.map((id) => ({ update_id: id, ...b })),
            ctx,
          ),
        );
        expect(new Set(result.envelopes.map((e) => e.event_id)).size).toBe(ids.length);
      }),
    );
  });

  it("never throws on junk: returns ok true or false", () => {
    const junk = fc.oneof(
      fc.anything(JUNK_OPTIONS),
      fc.record({ update_id: fc.anything(), message: fc.anything() }),
      fc.record({ update_id: fc.nat(), message: fc.object() }),
      fc.record({ ok: fc.anything(), result: fc.array(fc.anything()) }),
    );
    fc.assert(
      fc.property(junk, (raw) => {
        const result = normalizeTelegramUpdate(raw, ctx);
        expect(typeof result.ok).toBe("boolean");
      }),
    );
  });
});
