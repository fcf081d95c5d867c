/**
 * WhatsApp tolerance (issue 12 §4), through the real webhook handler with signed raw bodies: per-item refusal with
 * quarantine, business-scoped user ids, groups, id-change system messages. Payloads are shaped as Meta sends them:
 * the Cloud API reference examples, Meta's group webhook reference, pywa's test data (tests/data/updates/*.json)
 * and courier's (handlers/meta/testdata/wac/hello_from_bsuid.json) — ids and texts as in those sources.
 */
import Database from "better-sqlite3";
import fs from "node:fs";
import path from "node:path";
import { Hono } from "hono";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createWhatsAppConnector, type WhatsAppConnector } from "../../../connectors/whatsapp/inbound.ts";
import { normalizeWhatsAppWebhook } from "../../../connectors/whatsapp/normalize.ts";
import { buildWhatsAppTextMessage } from "../../../connectors/whatsapp/request.ts";
import { createIntakeQuarantine } from "../../../src/app/intake-quarantine.ts";
import { splitPayload } from "../../../src/ingress/split-payload.ts";
import { openStore, type Store } from "../../../src/store/index.ts";
import { makeHarness, type Harness } from "../../helpers/connector-harness.ts";
import { TEST_IDENTITY } from "../../helpers/identity.ts";
import { metaJson, signWebhook } from "../../helpers/whatsapp-graph-server.ts";

const APP_SECRET = "wa-app-secret-0123456789abcdef";
const SECRETS = { "whatsapp-app-secret": APP_SECRET, "whatsapp-verify-token": "verify" };
const PNID = "106540352242922";

type Json = Record<string, unknown>;

/** A `messages` change as in Meta's examples: one WABA, one number, contacts + items. */
function body(value: Json, extraChanges: Json[] = []): Json {
  return {
    object: "whatsapp_business_account",
    entry: [
      {
        id: "102290129340398",
        changes: [
          {
            value: { messaging_product: "whatsapp", metadata: { display_phone_number: "15550783881", phone_number_id: PNID }, ...value },
            field: "messages",
          },
          ...extraChanges,
        ],
      },
    ],
  };
}

let h: Harness;
let store: Store;
let connector: WhatsAppConnector;
let app: Hono;

beforeEach(async () => {
  h = makeHarness();
  store = openStore(path.join(h.dir, "state"));
  const quarantine = createIntakeQuarantine({
    stateDir: path.join(h.dir, "state"),
    clock: () => 1_763_712_000_000,
    record: store.runner.insertQuarantine,
  });
  connector = createWhatsAppConnector({ ...h.deps(SECRETS, { quarantine }), mode: "webhook" });
  await connector.start();
  app = new Hono();
  for (const r of connector.webhooks) app.on(r.method, r.path, r.handler);
});
afterEach(async () => {
  await connector.stop();
  store.close();
  await h.cleanup();
});

const post = (value: Json) => {
  const raw = metaJson(value);
  return app.request("/webhooks/whatsapp", {
    method: "POST",
    headers: { "content-type": "application/json", "x-hub-signature-256": signWebhook(APP_SECRET, raw) },
    body: raw,
  });
};

function quarantineLines(): Json[] {
  const file = path.join(h.dir, "state", "quarantine", "whatsapp.ndjson");
  return fs.existsSync(file)
    ? fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Json)
    : [];
}

function quarantineRows(): { transport: string; file: string; reason: string; detail: string }[] {
  const db = new Database(path.join(h.dir, "state", "tau.db"), { readonly: true });
  try {
    return db.prepare("SELECT transport, file, reason, detail FROM quarantine ORDER BY id").all() as never;
  } finally {
    db.close();
  }
}

/** Three messages in one change, the middle one without its wamid (Meta example texts). */
const THREE = body({
  contacts: [
    { profile: { name: "Sheena Nelson" }, wa_id: "16505551234" },
    { profile: { name: "Test Name" }, wa_id: "972987654321" },
  ],
  messages: [
    {
      from: "16505551234",
      id: "wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
      timestamp: "1749416383",
      type: "text",
      text: { body: "Does it come in another color?" },
    },
    { from: "16505551234", timestamp: "1749416384", type: "text", text: { body: "and in blue?" } },
    {
      from: "972987654321",
      id: "wamid.xyzxyz",
      timestamp: "1697044456",
      type: "reaction",
      reaction: { message_id: "wamid.yzxyzx=", emoji: "\ud83d\ude2e" },
    },
  ],
});

describe("per-item refusal in one webhook body", () => {
  it("stores the two good messages, quarantines the bad one with its reason, and answers 200", async () => {
    const r = await post(THREE);
    expect(r.status).toBe(200);
    expect(h.read("whatsapp").map((e) => [e.event_id, e.kind])).toEqual([
      ["whatsapp:wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", "message"],
      ["whatsapp:wamid.xyzxyz", "reaction"],
    ]);
    const [q] = quarantineLines();
    expect(quarantineLines()).toHaveLength(1);
    expect(q).toMatchObject({
      transport: "whatsapp",
      file: "intake:webhook",
      reason: "ingress_missing_id",
      detail: "entry.0.changes.0.value.messages.1.id: missing",
      raw: { from: "16505551234", text: { body: "and in blue?" } },
    });
    expect(quarantineRows()).toEqual([
      {
        transport: "whatsapp",
        file: "intake:webhook",
        reason: "ingress_missing_id",
        detail: "entry.0.changes.0.value.messages.1.id: missing",
      },
    ]);
    expect(connector.status()).toMatchObject({ events_ingested: 2, parse_failures: 1, last_error_code: "ingress_missing_id" });
  });

  it("keeps the good change when another change of the same body has no usable value", async () => {
    const broken = {
      field: "messages",
      value: { messaging_product: "whatsapp", messages: [{ from: "1", id: "wamid.X", timestamp: "1", type: "text", text: { body: "x" } }] },
    };
    const r = await post(
      body(
        {
          contacts: [{ profile: { name: "Sheena Nelson" }, wa_id: "16505551234" }],
          messages: [{ from: "16505551234", id: "wamid.GOOD", timestamp: "1749416383", type: "text", text: { body: "hi" } }],
        },
        [broken],
      ),
    );
    expect(r.status).toBe(200);
    expect(h.read("whatsapp").map((e) => e.event_id)).toEqual(["whatsapp:wamid.GOOD"]);
    expect(quarantineLines().map((q) => [q.reason, q.detail])).toEqual([
      ["ingress_payload_invalid", "entry.0.changes.1.value.metadata: Invalid input: expected object, received undefined"],
    ]);
  });

  it("`tau ingest` splits a body into one item per message, so the bad one is refused with its own item number", () => {
    const items = splitPayload(Buffer.from(JSON.stringify(THREE)), 1 << 20);
    expect(items.map((i) => i.ok && i.item)).toEqual([1, 2, 3]);
    const results = items.map((i) => (i.ok ? normalizeWhatsAppWebhook(i.value, { identity: TEST_IDENTITY, receivedAtMs: 0 }) : null));
    expect(results.map((r) => (r?.ok ? r.envelopes.map((e) => e.event_id) : r?.code))).toEqual([
      ["whatsapp:wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="],
      "ingress_missing_id",
      ["whatsapp:wamid.xyzxyz"],
    ]);
  });
});

describe("business-scoped user ids (BSUID)", () => {
  it("accepts a message with from_user_id and no from: actor and conversation are the BSUID", async () => {
    // Usernames rollout: the phone is withheld; contacts carry user_id + username (whatsapp-api-js types, Meta BSUID page).
    const r = await post(
      body({
        contacts: [{ profile: { name: "Kerry Fisher", username: "@kfisher" }, user_id: "US.13491208655302741918" }],
        messages: [
          {
            from_user_id: "US.13491208655302741918",
            id: "wamid.BSUID1",
            timestamp: "1454119029",
            type: "text",
            text: { body: "Hello World" },
          },
        ],
      }),
    );
    expect(r.status).toBe(200);
    const [e] = h.read("whatsapp");
    expect(e).toMatchObject({
      event_id: "whatsapp:wamid.BSUID1",
      conversation_id: "US.13491208655302741918",
      chat_type: "dm",
      actor: { id: "US.13491208655302741918", display: "Kerry Fisher", is_bot: false },
      meta: { from_user_id: "US.13491208655302741918" },
    });
    // A reply goes to the BSUID in `recipient` (Meta: `to` would win if both were sent).
    const req = buildWhatsAppTextMessage("http://graph.test/v23.0", {
      outbox_id: "o1",
      idx: 0,
      chunk_count: 1,
      text: "hi",
      target: { transport: "whatsapp", account_id: PNID, conversation_id: e!.conversation_id, thread_id: null, reply_to: null },
    });
    expect(req.body).toMatchObject({ recipient_type: "individual", recipient: "US.13491208655302741918" });
    expect(req.body).not.toHaveProperty("to");
  });

  it("accepts courier's hello_from_bsuid shape (from = BSUID) and a status sent to a BSUID (no recipient_id)", async () => {
    const r = await post(
      body({
        contacts: [{ profile: { name: "Kerry Fisher", username: "@kfisher" }, wa_id: "US.1234", user_id: "US.1234" }],
        messages: [
          {
            from: "US.1234",
            from_user_id: "US.1234",
            id: "external_id",
            timestamp: "1454119029",
            text: { body: "Hello World" },
            type: "text",
          },
        ],
        statuses: [
          { id: "wamid.OUT1", status: "delivered", timestamp: "1454119030", recipient_user_id: "US.1234", recipient_type: "individual" },
        ],
      }),
    );
    expect(r.status).toBe(200);
    expect(h.read("whatsapp").map((e) => [e.event_id, e.conversation_id, e.actor.id])).toEqual([
      ["whatsapp:external_id", "US.1234", "US.1234"],
      ["whatsapp:wamid.OUT1:delivered", "US.1234", "US.1234"],
    ]);
    expect(quarantineLines()).toEqual([]);
  });

  it("accepts pywa's user_changed_user_id system message (no from, no contacts) with the old and new ids in meta", async () => {
    const r = await post(
      body({
        messages: [
          {
            id: "wamid.xyzxyz==",
            timestamp: "1753851315",
            system: {
              body: "User changed from CO.1234567890 to MX.0987654321",
              user_id: "MX.0987654321",
              previous_user_id: "CO.1234567890",
              type: "user_changed_user_id",
            },
            type: "system",
          },
        ],
      }),
    );
    expect(r.status).toBe(200);
    expect(h.read("whatsapp")).toMatchObject([
      {
        kind: "system",
        conversation_id: "MX.0987654321",
        actor: { id: "MX.0987654321" },
        meta: { system_type: "user_changed_user_id", new_user_id: "MX.0987654321", previous_user_id: "CO.1234567890" },
      },
    ]);
  });

  it("still refuses a message with no sender at all (ingress_missing_id), quarantined", async () => {
    const r = await post(body({ messages: [{ id: "wamid.NOBODY", timestamp: "1", type: "text", text: { body: "who?" } }] }));
    expect(r.status).toBe(200);
    expect(h.read("whatsapp")).toEqual([]);
    expect(quarantineLines().map((q) => [q.reason, q.detail])).toEqual([
      ["ingress_missing_id", "entry.0.changes.0.value.messages.0.from: missing"],
    ]);
  });
});

describe("groups", () => {
  /** Meta's group messages webhook reference example. */
  const GROUP_ID = "HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA";
  const groupMessage = (id: string, text: string, extra: Json = {}) => ({
    from: "16505551234",
    group_id: GROUP_ID,
    id,
    timestamp: "1744344496",
    text: { body: text },
    type: "text",
    ...extra,
  });

  it("makes the group the conversation (chat_type group), addressed to the bot only when mentioned or replied to", async () => {
    const r = await post(
      body({
        contacts: [{ profile: { name: "Tiago Mingo" }, wa_id: "16505551234" }],
        messages: [
          groupMessage("wamid.G1", "What does everyone think about this?"),
          groupMessage("wamid.G2", "@15550783881 status please"),
          groupMessage("wamid.G3", "hey bot", { context: { mentions: ["15550783881"] } }),
          groupMessage("wamid.G4", "agreed", { context: { from: "15550783881", id: "wamid.OURS" } }),
        ],
      }),
    );
    expect(r.status).toBe(200);
    expect(h.read("whatsapp").map((e) => [e.event_id, e.chat_type, e.conversation_id, e.actor.id, e.mentions_bot])).toEqual([
      ["whatsapp:wamid.G1", "group", GROUP_ID, "16505551234", false],
      ["whatsapp:wamid.G2", "group", GROUP_ID, "16505551234", true],
      ["whatsapp:wamid.G3", "group", GROUP_ID, "16505551234", true],
      ["whatsapp:wamid.G4", "group", GROUP_ID, "16505551234", true],
    ]);
    expect(h.read("whatsapp")[0]!.meta).toMatchObject({ group_id: GROUP_ID });
  });

  it("sends a reply into the group (recipient_type group, to = the group id)", () => {
    const target = { transport: "whatsapp" as const, account_id: PNID, conversation_id: GROUP_ID, thread_id: null, reply_to: null };
    const req = buildWhatsAppTextMessage("http://graph.test/v23.0", { outbox_id: "o1", idx: 0, chunk_count: 1, text: "ok", target });
    expect(req.body).toMatchObject({ messaging_product: "whatsapp", recipient_type: "group", to: GROUP_ID, type: "text" });
    const dm = buildWhatsAppTextMessage("http://graph.test/v23.0", {
      outbox_id: "o2",
      idx: 0,
      chunk_count: 1,
      text: "ok",
      target: { ...target, conversation_id: "16505551234" },
    });
    expect(dm.body).toMatchObject({ recipient_type: "individual", to: "16505551234" });
  });
});
