/**
 * Two delivery loops ("nodes", each its own Store on one database) draining one outbox through the real provider path
 * (`createDelivery` + `createProviderDelivery` + the grammY sender) against the local Telegram Bot API server: every
 * reply is sent exactly once and each conversation's replies arrive in the order they were queued. A node that died
 * mid-send leaves a row `sending`: once its claim expires the other node settles it as interrupted, never sends it again.
 */
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { ProviderSender } from "../../src/contracts/delivery.ts";
import type { ReplyTarget } from "../../src/contracts/outbound.ts";
import { createDelivery, type Delivery } from "../../src/outbound/deliver.ts";
import { queueReplies } from "../../src/outbound/outbox.ts";
import { createProviderDelivery } from "../../src/outbound/provider.ts";
import type { Store } from "../../src/store/index.ts";
import { createTelegramSender } from "../../connectors/telegram/sender.ts";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";
import { contractEngines, ENGINE_HOOK_TIMEOUT_MS } from "../store/contract/engines.ts";

const T0 = 1_763_712_000_000;
const CLAIM_MS = 10_000;
const RETRY = { max_attempts: 3, base_backoff_ms: 1000, max_backoff_ms: 60_000 };

const target = (conversation_id: string): ReplyTarget => ({
  transport: "telegram",
  account_id: "6112",
  conversation_id,
  thread_id: null,
  reply_to: null,
});

/** Queue one provider reply (the runner's path) and return its outbox id. */
function queue(store: Store, conversation: string, text: string, eventId: string, now: number): string {
  return store.atomically(() =>
    queueReplies(store, eventId, target(conversation), [{ purpose: "responder", text }], { mode: "provider", maxChars: 4096, now }),
  )[0]!;
}

interface Node {
  store: Store;
  delivery: Delivery;
  /** Chunks this node's sender sent. */
  sends: string[];
  now: { ms: number };
}

for (const engine of contractEngines()) {
  describe(`delivery from one outbox by two nodes on ${engine.name}`, { timeout: ENGINE_HOOK_TIMEOUT_MS }, () => {
    let tg: TelegramBotApiServer | null = null;
    afterEach(async () => {
      await tg?.close();
      tg = null;
      await engine.closeAll();
    });
    afterAll(() => engine.stop());

    function node(store: Store, stateDir: string, name: string, server: TelegramBotApiServer): Node {
      const now = { ms: T0 };
      const sends: string[] = [];
      const real = createTelegramSender({ apiRoot: server.url, token: () => server.token, timeoutMs: 5000 });
      const counted: ProviderSender = {
        ...real,
        send: async (job) => {
          sends.push(job.text);
          return real.send(job);
        },
      };
      const provider = createProviderDelivery({
        store,
        senders: new Map([["telegram", counted]]),
        retry: RETRY,
        clock: () => now.ms,
        random: () => 0.5,
      });
      const delivery = createDelivery({
        store,
        senders: new Map(),
        dryRunFile: path.join(stateDir, `dry-run-${name}.ndjson`),
        provider,
        clock: () => now.ms,
        node: name,
        claimMs: CLAIM_MS,
      });
      return { store, delivery, sends, now };
    }

    /** Deliver in small passes until nothing is pending (bounded: a stuck loop fails the test, it does not hang). */
    async function drain(n: Node, limit: number): Promise<void> {
      for (let pass = 0; pass < 1000 && n.store.outbox.countPending() > 0; pass++) {
        await n.delivery.deliverPending(limit);
        await new Promise((r) => setImmediate(r));
      }
    }

    it("N replies over six conversations: each sent exactly once, each conversation in order, both nodes sending", async () => {
      tg = await startTelegramBotApiServer();
      const o = await engine.open();
      const storeB = engine.reopen(o);
      const chats = ["-1001", "-1002", "-1003", "-1004", "-1005", "-1006"];
      const expected = new Map<number, string[]>();
      // Round-robin, so every claim window holds several conversations; ids grow with the clock as the runner's do.
      for (let i = 0; i < 10; i++)
        for (const [k, chat] of chats.entries()) {
          const text = `reply ${i} to ${chat}`;
          queue(k % 2 ? storeB : o.store, chat, text, `ev:${chat}:${i}`, T0 + i);
          expected.set(Number(chat), [...(expected.get(Number(chat)) ?? []), text]);
        }
      const a = node(o.store, o.stateDir, "node-a", tg);
      const b = node(storeB, o.stateDir, "node-b", tg);

      await Promise.all([drain(a, 4), drain(b, 3)]);

      const sent = tg.sentMessages.map((m) => m.text!);
      expect(sent).toHaveLength(60);
      expect(new Set(sent).size).toBe(60);
      for (const [chat, texts] of expected) expect(tg.sentMessages.filter((m) => m.chat_id === chat).map((m) => m.text)).toEqual(texts);
      expect(a.sends.length).toBeGreaterThan(0);
      expect(b.sends.length).toBeGreaterThan(0);
      expect(a.sends.length + b.sends.length).toBe(60);
      expect(o.store.outbox.countPending()).toBe(0);
    });

    it("a row its dead node left `sending` goes to `unknown` on the other node after the claim expires; the next reply follows", async () => {
      tg = await startTelegramBotApiServer();
      const o = await engine.open();
      const storeB = engine.reopen(o);
      const first = queue(o.store, "-1001", "first", "ev:1", T0);
      const second = queue(o.store, "-1001", "second", "ev:2", T0 + 1);
      // node-a claims both and marks the first `sending` (row and chunk), then dies before any answer is recorded.
      expect(o.store.outbox.claimPending("node-a", T0, CLAIM_MS, 10).map((r) => r.outbox_id)).toEqual([first, second]);
      o.store.atomically(() => {
        o.store.outbox.setRow({ outbox_id: first, status: "sending", reason: null, attempts: 0, next_attempt_at_ms: 0 }, T0);
        o.store.outbox.setChunk({ outbox_id: first, idx: 0, status: "sending", reason: null, receipt: null }, T0);
      });
      const b = node(storeB, o.stateDir, "node-b", tg);

      b.now.ms = T0 + CLAIM_MS - 1;
      expect(await b.delivery.deliverPending()).toEqual({ rows: 0, chunks: 0, held: 0, retries: 0 });
      b.now.ms = T0 + CLAIM_MS;
      await b.delivery.deliverPending();
      // A conversation whose head did not go out sends nothing more in that pass (deliverMany); the next pass does.
      await b.delivery.deliverPending();

      // The first may have reached Telegram before node-a died: the operator decides (tau outbox), it is not resent.
      expect(storeB.outbox.get(first)).toMatchObject({ status: "unknown", reason: "delivery_ambiguous" });
      expect(storeB.outbox.get(second)).toMatchObject({ status: "sent", reason: "delivery_sent" });
      expect(tg.sentMessages.map((m) => m.text)).toEqual(["second"]);
      expect(b.sends).toEqual(["second"]);
      expect(storeB.outbox.claimOf(first, b.now.ms)).toBeNull();
      expect(storeB.outbox.claimOf(second, b.now.ms)).toBeNull();
    });
  });
}
