/**
 * The runner on PostgreSQL reads a batch's lookups ahead (dedupe, admissions, actor aliases) — and they stay exact
 * while the batch itself changes them: a WhatsApp id change recorded by one event admits the next event of the same
 * batch under the old id's allowlist entry, and a webhook delivered twice within one batch is processed once.
 * WhatsApp envelopes come from the real normalizer over webhook bodies shaped as Meta sends them.
 */
import { afterEach, describe, expect, it } from "vitest";
import { normalizeWhatsAppWebhook } from "../../connectors/whatsapp/normalize.ts";
import { createAppRunner, openApp, openIngressWriter, type App } from "../../src/app/index.ts";
import type { Envelope } from "../../src/contracts/envelope.ts";
import { createLogger } from "../../src/log.ts";
import { TEST_IDENTITY } from "../helpers/identity.ts";
import { postgresForFile } from "../helpers/postgres.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

const server = postgresForFile();
const homes: TauHome[] = [];
const apps: App[] = [];
afterEach(() => {
  for (const a of apps.splice(0)) a.close();
  for (const h of homes.splice(0)) h.cleanup();
});

const PNID = "106540352242922";

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

const text = (id: string, body: string, sender: Record<string, unknown>) => ({
  ...sender,
  id,
  timestamp: "1744344496",
  type: "text",
  text: { body },
});

describe("read-ahead on PostgreSQL within one batch", () => {
  it("an alias recorded by an earlier event admits a later one; a twice-delivered event is processed once", async () => {
    const url = await server().createDatabase();
    const h = makeTauHome("runner:\n  coalesce_window_ms: 0\nstore:\n  driver: postgres\n", {
      "channel-policy.yaml": "schema_version: 1\ndefaultPolicy: { dmPolicy: allow, allowFrom: allowlist_only }\n",
    });
    homes.push(h);
    const app = openApp({
      stateDir: h.stateDir,
      configPath: h.configPath,
      env: { TAU_DATABASE_URL: url },
      logger: createLogger({ level: "silent", includeIdentifiers: false }),
    });
    apps.push(app);
    app.store.access.addAllowlist({
      actor_key: "whatsapp:CO.1234567890",
      transport: "whatsapp",
      actor_id: "CO.1234567890",
      note: "",
      added_by: "test",
      added_at_ms: 0,
    });
    const before = whatsapp([text("wamid.B1", "hi", { from_user_id: "MX.0987654321" })]);
    const change = whatsapp([
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
    ]);
    const after = whatsapp([text("wamid.B2", "hi again", { from_user_id: "MX.0987654321" })]);
    const w = openIngressWriter(app);
    // One batch: the message before the change, the change, the message after it, and that message again.
    await w.append("whatsapp", [...before, ...change, ...after, ...after]);
    await w.close();

    const r = createAppRunner(app);
    try {
      const reports = await r.runner.drain();
      expect(reports[0]).toMatchObject({ processed: 3, duplicates: 1, failed: 0 });
    } finally {
      r.close();
    }
    const traces = app.store.inspect.tracesAfter(0).map((t) => [t.event_id, t.reason]);
    expect(traces).toEqual([
      ["whatsapp:wamid.B1", "deny_actor_not_allowlisted"],
      ["whatsapp:wamid.SYS1", "recorded_system"],
      ["whatsapp:wamid.B2", "responder_replied"],
    ]);
    expect(app.store.inspect.repliesAfter(0).map((o) => o.event_id)).toEqual(["whatsapp:wamid.B2"]);
  });
});
