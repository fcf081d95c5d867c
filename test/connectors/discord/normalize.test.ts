/** @module Tests for the pure Discord normalizer over fixtures/raw/discord and generated messages. */
import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { normalizeDiscordPayload } from "../../../connectors/discord/normalize.ts";
import { EnvelopeSchema } from "../../../src/contracts/envelope.ts";
import type { Envelope, NormalizeContext, NormalizeResult } from "../../../src/contracts/envelope.ts";
import { TEST_IDENTITY } from "../../helpers/identity.ts";
import { mutatedFixture } from "../../helpers/mutate-json.ts";

const RECEIVED_AT = 1763712000412;
/** fc.anything with the shapes JSON cannot produce but an `unknown` argument can: sparse arrays, null prototypes, boxed values. */
const JUNK_OPTIONS = { withSparseArray: true, withNullPrototype: true, withBoxedValues: true, withObjectString: true } as const;
const ctx: NormalizeContext = { identity: TEST_IDENTITY, receivedAtMs: RECEIVED_AT };
const BOT = "1100000000000000001";

function load(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../../../fixtures/raw/discord/${name}`, import.meta.url), "utf8"));
}

function ok(result: NormalizeResult): Extract<NormalizeResult, { ok: true }> {
  if (!result.ok) throw new Error(`expected ok, got ${result.code}: ${result.detail}`);
  return result;
}

function one(raw: unknown, context: NormalizeContext = ctx): Envelope {
  const result = ok(normalizeDiscordPayload(raw, context));
  expect(result.envelopes).toHaveLength(1);
  expect(result.ignored).toEqual([]);
  return result.envelopes[0] as Envelope;
}

describe("normalizeDiscordPayload: MESSAGE_CREATE", () => {
  it("normalizes a DM into the full envelope", () => {
    expect(one(load("dm.json"))).toEqual({
      v: 1,
      event_id: "discord:1500000000000000001",
      transport: "discord",
      provider: "discord",
      account_id: "1100000000000000001",
      kind: "message",
      conversation_id: "1250000000000000001",
      thread_id: null,
      chat_type: "dm",
      actor: { id: "1300000000000000042", display: "Ana", is_bot: false },
      mentions_bot: true,
      text: "hello tau",
      attachments: [],
      reply_to: null,
      forwarded: false,
      occurred_at_ms: 1763712000000,
      received_at_ms: 1763712000412,
      meta: { message_id: "1500000000000000001", channel_type: 1, message_type: 0 },
    });
  });

  it("detects a mention via mentions[], <@id> and <@!id>, and not otherwise", () => {
    const viaList = one(load("guild-mention.json"));
    expect(viaList.chat_type).toBe("group");
    expect(viaList.mentions_bot).toBe(true);
    expect(viaList.meta.guild_id).toBe("1200000000000000001");
    // The nickname form appears only in content here: mentions[] is empty in the fixture.
    expect(one(load("guild-nick-mention.json")).mentions_bot).toBe(true);
    expect(one(load("guild-no-mention.json")).mentions_bot).toBe(false);
  });

  it("falls back to username when global_name is null", () => {
    expect(one(load("guild-no-mention.json")).actor).toEqual({ id: "1300000000000000043", display: "ben", is_bot: false });
  });

  it("maps a thread message: conversation and thread are the thread channel", () => {
    const env = one(load("thread.json"));
    expect(env.conversation_id).toBe("1200000000000000300");
    expect(env.thread_id).toBe("1200000000000000300");
    expect(env.chat_type).toBe("group");
  });

  it("maps an announcement channel to chat_type channel", () => {
    const env = one(load("announcement.json"));
    expect(env.chat_type).toBe("channel");
    expect(env.thread_id).toBeNull();
    expect(env.occurred_at_ms).toBe(1763712180123);
  });

  it("maps a reply to the bot: reply_to and mentions_bot from referenced_message", () => {
    const env = one(load("reply.json"));
    expect(env.reply_to).toBe("1500000000000000010");
    expect(env.mentions_bot).toBe(true);
    expect(env.meta.message_type).toBe(19);
  });

  it("keeps reply_to when the referenced message was deleted", () => {
    const env = one(load("reply-deleted.json"));
    expect(env.reply_to).toBe("1500000000000000009");
    expect(env.mentions_bot).toBe(false);
    expect(env.meta.reply_deleted).toBe(true);
  });

  it("takes a forward's text from the snapshot and marks it forwarded, without reply_to", () => {
    const env = one(load("forward.json"));
    expect(env.forwarded).toBe(true);
    expect(env.text).toBe("/tau killswitch on outbound");
    expect(env.reply_to).toBeNull();
    expect(env.mentions_bot).toBe(false);
  });

  it("maps attachments by content type with the attachment id as ref, never the signed URL", () => {
    const env = one(load("attachment.json"));
    expect(env.attachments).toEqual([
      { kind: "image", mime: "image/png", size: 48211, name: "screenshot.png", ref: "1510000000000000001" },
      { kind: "document", mime: "text/plain; charset=utf-8", size: 1024, name: "api.log", ref: "1510000000000000002" },
      { kind: "voice", mime: "audio/ogg", size: 6210, name: "voice-message.ogg", ref: "1510000000000000003" },
      { kind: "document", mime: null, size: 10, name: "blob.bin", ref: "1510000000000000004" },
    ]);
    expect(JSON.stringify(env)).not.toContain("discordapp");
  });

  it("reports the bot's own message as a bot actor with our id", () => {
    const env = one(load("own-bot-message.json"));
    expect(env.actor).toEqual({ id: "1100000000000000001", display: "tau", is_bot: true });
    expect(env.mentions_bot).toBe(false);
  });

  it("marks other bots and webhook authors as bots", () => {
    expect(one(load("other-bot.json")).actor).toEqual({ id: "1400000000000000007", display: "deploybot", is_bot: true });
    const webhook = load("webhook-author.json");
    const author = { ...(webhook.author as Record<string, unknown>) };
    delete author.bot;
    const env = one({ ...webhook, author });
    expect(env.actor).toEqual({ id: "1600000000000000001", display: "Alertmanager", is_bot: true });
    expect(env.meta.webhook_id).toBe("1600000000000000001");
  });

  it("maps system message types (pin) to kind system", () => {
    const env = one(load("system-pin.json"));
    expect(env.kind).toBe("system");
    expect(env.meta.message_type).toBe(6);
  });

  it("keeps slash-command and thread-starter types as messages", () => {
    for (const type of [20, 21, 23]) expect(one({ ...load("guild-no-mention.json"), type }).kind).toBe("message");
  });
});

describe("normalizeDiscordPayload: gateway frames", () => {
  it("normalizes a MESSAGE_CREATE dispatch and records the sequence number", () => {
    const env = one(load("gateway-frame.json"));
    expect(env.event_id).toBe("discord:1500000000000000018");
    expect(env.mentions_bot).toBe(true);
    expect(env.meta).toEqual({
      message_id: "1500000000000000018",
      guild_id: "1200000000000000001",
      channel_type: 0,
      message_type: 0,
      gateway_seq: 42,
      gateway_event: "MESSAGE_CREATE",
    });
  });

  it("maps MESSAGE_UPDATE with edited_timestamp to an edit keyed by that timestamp", () => {
    const env = one(load("message-update.json"));
    expect(env.kind).toBe("edit");
    expect(env.event_id).toBe("discord:1500000000000000002:e:2025-11-21T08:01:20.456000+00:00");
    expect(env.occurred_at_ms).toBe(1763712080456);
    expect(env.text).toBe(`<@${BOT}> /tau status --json`);
  });

  it("ignores a MESSAGE_UPDATE without edited_timestamp (embed unfurl)", () => {
    expect(normalizeDiscordPayload(load("message-update-unfurl.json"), ctx)).toEqual({
      ok: true,
      envelopes: [],
      ignored: [{ code: "discord_update_without_edit", detail: "message 1500000000000000014: no edited_timestamp" }],
    });
  });

  it("maps MESSAGE_DELETE to a system event", () => {
    expect(one(load("message-delete.json"))).toEqual({
      v: 1,
      event_id: "discord:1500000000000000004:d",
      transport: "discord",
      provider: "discord",
      account_id: "1100000000000000001",
      kind: "system",
      conversation_id: "1200000000000000100",
      thread_id: null,
      chat_type: "group",
      actor: { id: null, display: null, is_bot: false },
      mentions_bot: false,
      text: "",
      attachments: [],
      reply_to: null,
      forwarded: false,
      occurred_at_ms: 1763712000412,
      received_at_ms: 1763712000412,
      meta: {
        action: "message_delete",
        message_id: "1500000000000000004",
        guild_id: "1200000000000000001",
        gateway_seq: 45,
        gateway_event: "MESSAGE_DELETE",
      },
    });
  });

  it("maps MESSAGE_DELETE_BULK to one delete per id, with the ids single deletes get", () => {
    const frame = {
      op: 0,
      t: "MESSAGE_DELETE_BULK",
      s: 46,
      d: { ids: ["1500000000000000004", "1500000000000000005"], channel_id: "1200000000000000100", guild_id: "1200000000000000001" },
    };
    const out = ok(normalizeDiscordPayload(frame, ctx)).envelopes;
    expect(out.map((e) => [e.event_id, e.kind, e.conversation_id, e.meta.action, e.meta.message_id])).toEqual([
      ["discord:1500000000000000004:d", "system", "1200000000000000100", "message_delete_bulk", "1500000000000000004"],
      ["discord:1500000000000000005:d", "system", "1200000000000000100", "message_delete_bulk", "1500000000000000005"],
    ]);
    for (const e of out) expect(EnvelopeSchema.safeParse(e).success).toBe(true);
    expect(normalizeDiscordPayload({ ...frame, d: { ids: [], channel_id: "1200000000000000100" } }, ctx).ok).toBe(false);
  });

  it("ignores other dispatch types and non-dispatch opcodes", () => {
    expect(normalizeDiscordPayload(load("guild-member-add-frame.json"), ctx)).toEqual({
      ok: true,
      envelopes: [],
      ignored: [{ code: "discord_event_type_unsupported", detail: "dispatch GUILD_MEMBER_ADD s=46" }],
    });
    expect(normalizeDiscordPayload({ op: 11, d: null }, ctx)).toEqual({
      ok: true,
      envelopes: [],
      ignored: [{ code: "discord_event_type_unsupported", detail: "gateway op 11" }],
    });
  });

  it("accepts an array (a REST page) of messages and frames", () => {
    const result = ok(normalizeDiscordPayload([load("dm.json"), load("message-delete.json")], ctx));
    expect(result.envelopes.map((e) => e.event_id)).toEqual(["discord:1500000000000000001", "discord:1500000000000000004:d"]);
  });

  it("includes the raw frame only with keepRaw", () => {
    const frame = load("gateway-frame.json");
    expect(one(frame).raw).toBeUndefined();
    expect(one(frame, { ...ctx, keepRaw: true }).raw).toEqual(frame);
  });
});

describe("normalizeDiscordPayload: refusals", () => {
  it("refuses an empty bot user id", () => {
    const identity = { ...TEST_IDENTITY, discord: { user_id: "", application_id: "" } };
    expect(normalizeDiscordPayload(load("dm.json"), { ...ctx, identity })).toEqual({
      ok: false,
      code: "ingress_identity_missing",
      detail: "identity.discord.user_id: empty",
    });
  });

  it("refuses missing ids with their path", () => {
    const { id: _id, ...noId } = load("dm.json");
    expect(normalizeDiscordPayload(noId, ctx)).toEqual({ ok: false, code: "ingress_missing_id", detail: "id: missing" });
    const frame = load("message-delete.json");
    const noChannel = { ...frame, d: { id: "1500000000000000004" } };
    expect(normalizeDiscordPayload(noChannel, ctx)).toEqual({ ok: false, code: "ingress_missing_id", detail: "d.channel_id: missing" });
  });

  it("refuses malformed payloads with their path", () => {
    expect(normalizeDiscordPayload({ ...load("dm.json"), timestamp: "yesterday" }, ctx)).toEqual({
      ok: false,
      code: "ingress_payload_invalid",
      detail: "timestamp: expected an ISO 8601 timestamp",
    });
    expect(normalizeDiscordPayload({ ...load("dm.json"), id: 15 }, ctx)).toMatchObject({
      ok: false,
      code: "ingress_payload_invalid",
    });
    expect(normalizeDiscordPayload(null, ctx)).toMatchObject({ ok: false, code: "ingress_payload_invalid" });
  });
});

describe("normalizeDiscordPayload: every fixture", () => {
  const dir = new URL("../../../fixtures/raw/discord/", import.meta.url);
  const names = readdirSync(dir)
    .filter((n) => n.endsWith(".json"))
    .sort();

  it("has the fixtures this suite relies on", () => {
    expect(names.length).toBeGreaterThanOrEqual(19);
  });

  it("normalizes each fixture to schema-valid envelopes with globally unique event ids", () => {
    const ids: string[] = [];
    for (const name of names) {
      const result = normalizeDiscordPayload(load(name), ctx);
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
        const result = normalizeDiscordPayload(raw, ctx);
        if (!result.ok) expect(result.code).not.toBe("ingress_envelope_invalid");
        else for (const env of result.envelopes) EnvelopeSchema.parse(env);
      }),
      { numRuns: 500 },
    );
  });
});

describe("normalizeDiscordPayload: properties", () => {
  const snowflake = fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }).map(String);
  const message = fc.record({
    id: snowflake,
    channel_id: snowflake,
    guild_id: fc.option(snowflake, { nil: undefined }),
    channel_type: fc.option(fc.constantFrom(0, 1, 5, 10, 11, 12), { nil: undefined }),
    author: fc.record({
      id: snowflake,
      username: fc.string({ minLength: 1, maxLength: 32 }),
      global_name: fc.option(fc.string({ maxLength: 32 }), { nil: null }),
      bot: fc.option(fc.boolean(), { nil: undefined }),
    }),
    content: fc.string({ unit: "grapheme", maxLength: 300 }),
    timestamp: fc.date({ min: new Date("2015-01-01"), max: new Date("2100-01-01"), noInvalidDate: true }).map((d) => d.toISOString()),
    type: fc.constantFrom(0, 6, 7, 19, 20, 21, 23),
    mentions: fc.array(fc.record({ id: snowflake }), { maxLength: 3 }),
  });
  const payload = fc.oneof(
    message,
    fc.tuple(message, fc.nat()).map(([d, s]) => ({ op: 0, t: "MESSAGE_CREATE", s, d })),
    fc.tuple(message, fc.nat()).map(([d, s]) => ({ op: 0, t: "MESSAGE_UPDATE", s, d: { ...d, edited_timestamp: d.timestamp } })),
    fc.tuple(message, fc.nat()).map(([d, s]) => ({ op: 0, t: "MESSAGE_DELETE", s, d: { id: d.id, channel_id: d.channel_id } })),
  );

  it("always yields envelopes that pass EnvelopeSchema", () => {
    fc.assert(
      fc.property(payload, (raw) => {
        const result = ok(normalizeDiscordPayload(raw, ctx));
        expect(result.envelopes).toHaveLength(1);
        for (const env of result.envelopes) EnvelopeSchema.parse(env);
      }),
    );
  });

  it("keeps event_id stable across redelivery at another time", () => {
    fc.assert(
      fc.property(payload, fc.nat(), fc.nat(), (raw, t1, t2) => {
        const a = ok(normalizeDiscordPayload(raw, { ...ctx, receivedAtMs: t1 })).envelopes[0];
        const b = ok(normalizeDiscordPayload(raw, { ...ctx, receivedAtMs: t2 })).envelopes[0];
        expect(b?.event_id).toBe(a?.event_id);
      }),
    );
  });

  it("gives distinct message ids distinct event_ids", () => {
    fc.assert(
      fc.property(fc.uniqueArray(snowflake, { minLength: 2, maxLength: 20 }), message, (ids, m) => {
        const result = ok(
          normalizeDiscordPayload(
            ids.map((id) => ({ ...m, id })),
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
      fc.record({ op: fc.anything(), t: fc.anything(), s: fc.anything(), d: fc.anything() }),
      fc.record({ op: fc.constant(0), t: fc.constantFrom("MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE"), d: fc.object() }),
    );
    fc.assert(
      fc.property(junk, (raw) => {
        expect(typeof normalizeDiscordPayload(raw, ctx).ok).toBe("boolean");
      }),
    );
  });
});
