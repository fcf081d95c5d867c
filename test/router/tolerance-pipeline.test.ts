/**
 * Tolerance through the real decision pipeline (real SQLite, real policies): WhatsApp group policy and mention rules,
 * access following a WhatsApp id change (user_changed_user_id / user_changed_number), and the email per-sender reply
 * limit. WhatsApp envelopes come from the real normalizer over webhook bodies shaped as Meta sends them.
 */
import { afterEach, describe, expect, it } from "vitest";
import { normalizeWhatsAppWebhook } from "../../connectors/whatsapp/normalize.ts";
import type { Envelope } from "../../src/contracts/envelope.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { TEST_IDENTITY } from "../helpers/identity.ts";
import { makeHarness, type Harness } from "../helpers/pipeline-harness.ts";

const PNID = "106540352242922";
const GROUP_ID = "HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA";

let h: Harness | null = null;
afterEach(() => {
  h?.close();
  h = null;
});

/** Envelopes of one `messages` change (Meta's envelope, metadata of the test number). */
function whatsapp(messages: Record<string, unknown>[]): Envelope[] {
  const body = {
    object: "whatsapp_business_account",
    entry: [
      {
        id: "102290129340398",
        changes: [
          {
            field: "messages",
            value: { messaging_product: "whatsapp", metadata: { display_phone_number: "15550783881", phone_number_id: PNID }, messages },
          },
        ],
      },
    ],
  };
  const r = normalizeWhatsAppWebhook(body, { identity: TEST_IDENTITY, receivedAtMs: 1_763_712_000_000 });
  if (!r.ok || r.refused?.length) throw new Error(`normalize failed: ${JSON.stringify(r)}`);
  return r.envelopes;
}

const text = (id: string, body: string, sender: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  ...sender,
  id,
  timestamp: "1744344496",
  type: "text",
  text: { body },
  ...extra,
});

function allow(harness: Harness, actorKey: string): void {
  const [transport, ...rest] = actorKey.split(":");
  harness.app.store.access.addAllowlist({
    actor_key: actorKey,
    transport: transport!,
    actor_id: rest.join(":"),
    note: "",
    added_by: "test",
    added_at_ms: 0,
  });
}

describe("WhatsApp groups", () => {
  it("applies group policy and requireMention to group messages; the reply goes to the group", async () => {
    h = makeHarness({
      "channel-policy.yaml": `schema_version: 1
defaultPolicy: { dmPolicy: allow, allowFrom: allowlist_or_pairing, groupPolicy: deny, requireMention: true }
channels:
  "whatsapp:${GROUP_ID}": { groupPolicy: allow }
`,
    });
    allow(h, "whatsapp:16505551234");
    const member = { from: "16505551234", group_id: GROUP_ID };
    const other = { from: "16505551234", group_id: "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD" };
    const out = await h.run(
      whatsapp([
        text("wamid.G1", "What does everyone think about this?", member),
        text("wamid.G2", "@15550783881 what is the status?", member),
        text("wamid.G3", "@15550783881 hello", other),
      ]),
    );
    expect(out.map((o) => [o.event_id, o.reason])).toEqual([
      ["whatsapp:wamid.G1", "deny_channel_policy_mention_required"],
      ["whatsapp:wamid.G2", "responder_replied"],
      ["whatsapp:wamid.G3", "deny_channel_policy_group"],
    ]);
    expect(h.app.store.inspect.repliesAfter(0).map((r) => r.event_id)).toEqual(["whatsapp:wamid.G2"]);
    // The outbox row is addressed to the group, not to the member who wrote.
    expect(h.app.store.replyCounts.since("whatsapp", GROUP_ID, 0)).toBe(1);
    expect(h.app.store.replyCounts.since("whatsapp", "16505551234", 0)).toBe(0);
  });
});

describe("access follows a WhatsApp id change", () => {
  const DM_ALLOWLIST = `schema_version: 1
defaultPolicy: { dmPolicy: allow, allowFrom: allowlist_only }
`;

  it("user_changed_user_id: the allowlist entry of the old BSUID admits the new one", async () => {
    h = makeHarness({ "channel-policy.yaml": DM_ALLOWLIST });
    allow(h, "whatsapp:CO.1234567890");
    const before = await h.run(whatsapp([text("wamid.B1", "hi", { from_user_id: "MX.0987654321" })]));
    expect(before.map((o) => o.reason)).toEqual(["deny_actor_not_allowlisted"]);
    // pywa tests/data/updates/system.json "user_id_change" (no from, no contacts).
    const change = await h.run(
      whatsapp([
        {
          id: "wamid.SYS1",
          timestamp: "1753851315",
          system: {
            body: "User changed from CO.1234567890 to MX.0987654321",
            user_id: "MX.0987654321",
            previous_user_id: "CO.1234567890",
            type: "user_changed_user_id",
          },
          type: "system",
        },
      ]),
    );
    expect(change[0]).toMatchObject({ reason: "recorded_system" });
    expect(change[0]!.decisions).toContain("actor_alias:actor_alias_recorded");
    const after = await h.run(whatsapp([text("wamid.B2", "hi again", { from_user_id: "MX.0987654321" })]));
    expect(after.map((o) => o.reason)).toEqual(["responder_replied"]);
  });

  it("user_changed_number: the old phone's allowlist entry admits the new phone; a BSUID beside the phone counts too", async () => {
    h = makeHarness({ "channel-policy.yaml": DM_ALLOWLIST });
    allow(h, "whatsapp:972987654321");
    allow(h, "whatsapp:US.555");
    // pywa tests/data/updates/system.json "phone_number_change".
    await h.run(
      whatsapp([
        {
          from: "972987654321",
          id: "wamid.SYS2",
          timestamp: "1753851315",
          system: { body: "User A changed from 972987654321 to 972912345678", wa_id: "972912345678", type: "user_changed_number" },
          type: "system",
        },
      ]),
    );
    const out = await h.run(
      whatsapp([
        text("wamid.N1", "new phone", { from: "972912345678" }),
        text("wamid.N2", "phone + allowlisted BSUID", { from: "15550001111", from_user_id: "US.555" }),
        text("wamid.N3", "stranger", { from: "15550002222" }),
      ]),
    );
    expect(out.map((o) => [o.event_id, o.reason])).toEqual([
      ["whatsapp:wamid.N1", "responder_replied"],
      ["whatsapp:wamid.N2", "responder_replied"],
      ["whatsapp:wamid.N3", "deny_actor_not_allowlisted"],
    ]);
  });
});

describe("email per-sender reply limit (the last loop breaker)", () => {
  const mail = (n: number, from: string) =>
    makeDm(from, {
      event_id: `email:INBOX:1:${n}`,
      transport: "email",
      provider: "imap",
      account_id: "ops",
      text: `message ${n}`,
      meta: { message_id: `m${n}@example.test`, subject: `message ${n}` },
    });

  it("answers at most N mails per sender per hour (email_reply_rate_limited), per sender, and again after the hour", async () => {
    h = makeHarness({
      "channel-policy.yaml": `schema_version: 1
defaultPolicy: { dmPolicy: allow, allowFrom: any }
email: { max_replies_per_sender_per_hour: 2 }
`,
    });
    const first = await h.run([
      mail(1, "robot@example.test"),
      mail(2, "robot@example.test"),
      mail(3, "robot@example.test"),
      mail(4, "person@example.test"),
    ]);
    expect(first.map((o) => [o.event_id, o.reason])).toEqual([
      ["email:INBOX:1:1", "responder_replied"],
      ["email:INBOX:1:2", "responder_replied"],
      ["email:INBOX:1:3", "email_reply_rate_limited"],
      ["email:INBOX:1:4", "responder_replied"],
    ]);
    expect(first[2]!.outcome).toBe("denied");
    h.now.ms += 3_600_001;
    const later = await h.run([mail(5, "robot@example.test")]);
    expect(later.map((o) => o.reason)).toEqual(["responder_replied"]);
    expect(h.replies().map((r) => r.event_id)).toEqual(["email:INBOX:1:1", "email:INBOX:1:2", "email:INBOX:1:4", "email:INBOX:1:5"]);
  });

  it("defaults to 10 replies per sender per hour when the policy says nothing", async () => {
    h = makeHarness({ "channel-policy.yaml": "schema_version: 1\ndefaultPolicy: { dmPolicy: allow, allowFrom: any }\n" });
    const out = await h.run(Array.from({ length: 11 }, (_, i) => mail(i + 1, "loop@example.test")));
    expect(out.map((o) => o.reason)).toEqual([...Array(10).fill("responder_replied"), "email_reply_rate_limited"]);
  });
});
