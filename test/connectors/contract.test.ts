/**
 * One contract suite for every connector (STYLE.md §9, Vercel's shared adapter contract): every fixture in
 * fixtures/raw/<platform>/ normalizes to valid envelopes with unique, stable ids, the connector's real intake
 * turns them into ingress lines, status() carries every field, and start/stop are idempotent.
 */
import { readdirSync, readFileSync } from "node:fs";
import { Hono } from "hono";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Connector } from "../../connectors/shared/connector.ts";
import { createDiscordConnector } from "../../connectors/discord/inbound.ts";
import { normalizeDiscordPayload } from "../../connectors/discord/normalize.ts";
import { createTelegramConnector } from "../../connectors/telegram/inbound.ts";
import { normalizeTelegramUpdate } from "../../connectors/telegram/normalize.ts";
import { createWhatsAppConnector } from "../../connectors/whatsapp/inbound.ts";
import { normalizeWhatsAppWebhook } from "../../connectors/whatsapp/normalize.ts";
import { EnvelopeSchema, type NormalizeContext, type NormalizeResult } from "../../src/contracts/envelope.ts";
import { makeHarness, waitFor, type Harness } from "../helpers/connector-harness.ts";
import { startDiscordServer, type DiscordServer } from "../helpers/discord-server.ts";
import { TEST_IDENTITY } from "../helpers/identity.ts";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";
import { signWebhook } from "../helpers/whatsapp-graph-server.ts";

type Platform = "telegram" | "discord" | "whatsapp";
const TG_TOKEN = "6112:AAH-tau-test-token_abcdefghijklmno";
const DC_TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.GfAkE1.tau-contract-token";
const TG_SECRET = "contract_secret-token";
const WA_SECRETS = { "whatsapp-app-secret": "contract-app-secret", "whatsapp-verify-token": "contract-verify" };

const NORMALIZERS: Record<Platform, (raw: unknown, ctx: NormalizeContext) => NormalizeResult> = {
  telegram: normalizeTelegramUpdate,
  discord: normalizeDiscordPayload,
  whatsapp: normalizeWhatsAppWebhook,
};

/** Fixtures that hold only items tau records as ignored (no envelope). */
const IGNORED_ONLY: Record<Platform, string[]> = {
  telegram: ["chat-member-unsupported.json"],
  discord: ["guild-member-add-frame.json", "message-update-unfurl.json"],
  whatsapp: [],
};
/** Distinct event ids over all fixtures of a platform (statuses.json and multi-entry.json share two status events). */
const DISTINCT_IDS: Record<Platform, number> = { telegram: 25, discord: 17, whatsapp: 24 };

const fixtureNames = (p: Platform) =>
  readdirSync(new URL(`../../fixtures/raw/${p}/`, import.meta.url))
    .filter((f) => f.endsWith(".json"))
    .sort();
const rawFixture = (p: Platform, name: string) => readFileSync(new URL(`../../fixtures/raw/${p}/${name}`, import.meta.url), "utf8");

describe.each(["telegram", "discord", "whatsapp"] as const)("%s fixtures", (platform) => {
  it("each normalizes to valid envelopes with ids unique within the fixture and stable across receipts", () => {
    const all = new Set<string>();
    const ignoredOnly: string[] = [];
    for (const name of fixtureNames(platform)) {
      const raw: unknown = JSON.parse(rawFixture(platform, name));
      const first = NORMALIZERS[platform](raw, { identity: TEST_IDENTITY, receivedAtMs: 1763712000412 });
      const again = NORMALIZERS[platform](raw, { identity: TEST_IDENTITY, receivedAtMs: 1763712999999 });
      if (!first.ok || !again.ok) throw new Error(`${platform}/${name}: refused`);
      if (first.envelopes.length === 0) ignoredOnly.push(name);
      for (const env of first.envelopes) {
        expect(EnvelopeSchema.safeParse(env).success, `${name}: ${env.event_id}`).toBe(true);
        expect(env.transport).toBe(platform);
        expect(env.raw).toBe(undefined);
      }
      const ids = first.envelopes.map((e) => e.event_id);
      expect(new Set(ids).size, name).toBe(ids.length);
      expect(
        again.envelopes.map((e) => e.event_id),
        name,
      ).toEqual(ids);
      for (const id of ids) all.add(id);
    }
    expect(ignoredOnly).toEqual(IGNORED_ONLY[platform]);
    expect(all.size).toBe(DISTINCT_IDS[platform]);
  });
});

// ---- the connectors themselves -------------------------------------------------------------------------

interface Setup {
  connector: Connector;
  /** Feed every fixture through the connector's real intake; resolves once they were all accepted. */
  feedFixtures?: () => Promise<void>;
}
interface Case {
  name: string;
  platform: Platform;
  /** Distinct ids the intake must produce from all fixtures (before any dedupe the runner does). */
  intakeIds?: number;
  setup(h: Harness): Promise<Setup>;
}

let tg: TelegramBotApiServer | null = null;
let dc: DiscordServer | null = null;
let h: Harness;
const running: Connector[] = [];
beforeEach(() => {
  h = makeHarness();
});
afterEach(async () => {
  for (const c of running.splice(0)) await c.stop();
  await tg?.close();
  await dc?.close();
  tg = null;
  dc = null;
  await h.cleanup();
});

function mount(c: Connector): Hono {
  const app = new Hono();
  for (const r of c.webhooks ?? []) app.on(r.method, r.path, r.handler);
  return app;
}

const CASES: Case[] = [
  {
    name: "telegram polling",
    platform: "telegram",
    intakeIds: 22, // as the webhook; the server never creates the chat_member update (not in allowed_updates)
    async setup(harness) {
      tg = await startTelegramBotApiServer({ token: TG_TOKEN, botUser: { username: "tau_ops_bot" } });
      const server = tg;
      const connector = createTelegramConnector({
        ...harness.deps({ "telegram-bot-token": TG_TOKEN }),
        mode: "polling",
        apiRoot: server.url,
        pollTimeoutS: 1,
      });
      return {
        connector,
        async feedFixtures() {
          await server.waitForParkedPoll(); // allowed_updates is set by the first getUpdates
          const updates = fixtureNames("telegram")
            .filter((n) => n !== "get-updates-response.json")
            .map((n) => JSON.parse(rawFixture("telegram", n)) as { update_id: number })
            .sort((a, b) => a.update_id - b.update_id);
          for (const u of updates) server.pushUpdate(u);
        },
      };
    },
  },
  {
    name: "telegram webhook",
    platform: "telegram",
    intakeIds: 22, // every single-update fixture; the getUpdates response is not a webhook body
    async setup(harness) {
      const connector = createTelegramConnector({
        ...harness.deps({ "telegram-webhook-secret": TG_SECRET }),
        mode: "webhook",
        apiRoot: "http://127.0.0.1:9",
        pollTimeoutS: 1,
      });
      const app = mount(connector);
      return {
        connector,
        async feedFixtures() {
          for (const name of fixtureNames("telegram").filter((n) => n !== "get-updates-response.json")) {
            const r = await app.request("/webhooks/telegram", {
              method: "POST",
              headers: { "x-telegram-bot-api-secret-token": TG_SECRET },
              body: rawFixture("telegram", name),
            });
            expect(r.status, name).toBe(200);
          }
        },
      };
    },
  },
  {
    name: "discord gateway",
    platform: "discord",
    intakeIds: 16, // every fixture but the bot's own message
    async setup(harness) {
      dc = await startDiscordServer({ token: DC_TOKEN, botUser: { id: TEST_IDENTITY.discord.user_id, username: "tau" } });
      const server = dc;
      const connector = createDiscordConnector({
        ...harness.deps({ "discord-bot-token": DC_TOKEN }),
        mode: "gateway",
        apiRoot: `${server.url}/api`,
      });
      return {
        connector,
        async feedFixtures() {
          await server.waitForSession();
          for (const name of fixtureNames("discord")) {
            const raw = JSON.parse(rawFixture("discord", name)) as { op?: number; t?: string; d?: Record<string, unknown> };
            if (raw.op === 0 && raw.t && raw.d) server.dispatch(raw.t, raw.d);
            else server.dispatch("MESSAGE_CREATE", raw as Record<string, unknown>);
          }
        },
      };
    },
  },
  {
    name: "discord polling",
    platform: "discord",
    async setup(harness) {
      dc = await startDiscordServer({ token: DC_TOKEN });
      const connector = createDiscordConnector({
        ...harness.deps({ "discord-bot-token": DC_TOKEN }),
        mode: "polling",
        apiRoot: `${dc.url}/api`,
        channelIds: ["1200000000000000100"],
        pollIntervalMs: 50,
      });
      return { connector };
    },
  },
  {
    name: "whatsapp webhook",
    platform: "whatsapp",
    intakeIds: 24, // the two status events repeated in multi-entry.json are skipped as duplicates
    async setup(harness) {
      const connector = createWhatsAppConnector({ ...harness.deps(WA_SECRETS), mode: "webhook" });
      const app = mount(connector);
      return {
        connector,
        async feedFixtures() {
          for (const name of fixtureNames("whatsapp")) {
            const body = rawFixture("whatsapp", name);
            const r = await app.request("/webhooks/whatsapp", {
              method: "POST",
              headers: { "x-hub-signature-256": signWebhook(WA_SECRETS["whatsapp-app-secret"], body) },
              body,
            });
            expect(r.status, name).toBe(200);
          }
        },
      };
    },
  },
];

const STATUS_FIELDS = [
  "auth_failures",
  "duplicates_skipped",
  "events_ingested",
  "last_error_code",
  "last_error_unix_ms",
  "last_success_unix_ms",
  "liveness",
  "mode",
  "parse_failures",
  "provider_failures",
  "retry_attempts",
  "transport",
];

describe.each(CASES)("$name connector contract", (c) => {
  it("status() has every field before, during and after a run", async () => {
    const { connector } = await c.setup(h);
    running.push(connector);
    const before = connector.status();
    expect(Object.keys(before).sort()).toEqual(STATUS_FIELDS);
    expect(before).toMatchObject({
      transport: c.platform,
      liveness: "stopped",
      events_ingested: 0,
      last_error_code: null,
      last_success_unix_ms: null,
    });
    await connector.start();
    expect(Object.keys(connector.status()).sort()).toEqual(STATUS_FIELDS);
    expect(connector.status().liveness).not.toBe("stopped");
    await connector.stop();
    expect(Object.keys(connector.status()).sort()).toEqual(STATUS_FIELDS);
  });

  it("start and stop are idempotent, and the connector can be restarted", async () => {
    const { connector } = await c.setup(h);
    running.push(connector);
    await connector.stop(); // stop before start: no-op
    await connector.start();
    await connector.start();
    expect(connector.status().liveness).not.toBe("stopped");
    await Promise.all([connector.stop(), connector.stop()]);
    expect(connector.status().liveness).toBe("stopped");
    await connector.start();
    expect(connector.status().liveness).not.toBe("stopped");
    await connector.stop();
    await connector.stop();
    expect(connector.status().liveness).toBe("stopped");
  });

  it.runIf(c.intakeIds !== undefined)("its real intake turns every fixture into ingress lines with unique ids", async () => {
    const { connector, feedFixtures } = await c.setup(h);
    running.push(connector);
    await connector.start();
    await feedFixtures!();
    // Lines are visible before their fsync completes; the counters move after it.
    await waitFor(() => connector.status().events_ingested === c.intakeIds, 10_000, `${c.intakeIds} envelopes`);
    const ids = h.read(c.platform).map((e) => e.event_id);
    expect(ids).toHaveLength(c.intakeIds!);
    expect(new Set(ids).size).toBe(c.intakeIds);
    for (const env of h.read(c.platform)) expect(EnvelopeSchema.safeParse(env).success).toBe(true);
    expect(connector.status().parse_failures).toBe(0);
  });
});
