/**
 * Store contract, outbox family on every engine: rows and chunks, the pending queue (due, oldest first, in order per
 * conversation, ops alerts apart), receipts by provider message id, dead letters and replay, dry-run marks, counts.
 * Claims across nodes (migration 014) are tested in test/cluster/.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { OutboxRow, Store } from "../../../src/store/index.ts";
import { contractEngines, ENGINE_HOOK_TIMEOUT_MS } from "./engines.ts";

type NewRow = Parameters<Store["outbox"]["insert"]>[0];

const row = (outboxId: string, over: Partial<NewRow> = {}): NewRow => ({
  outbox_id: outboxId,
  event_id: `ev:${outboxId}`,
  transport: "telegram",
  account_id: "bot_1",
  conversation_id: "1001",
  thread_id: null,
  reply_to: null,
  mode: "reply",
  purpose: "reply",
  status: "queued",
  reason: null,
  chunk_count: 1,
  ...over,
});

/** Insert a row with its chunks (bodies), as the pipeline does in one unit of work. */
function queue(store: Store, outboxId: string, now: number, bodies: string[] = ["hello"], over: Partial<NewRow> = {}): void {
  store.atomically(() => {
    store.outbox.insert(row(outboxId, { chunk_count: bodies.length, ...over }), now);
    bodies.forEach((body, idx) =>
      store.outbox.insertChunk({ outbox_id: outboxId, idx, body, status: "queued", reason: null, receipt: null }, now),
    );
  });
}

const ids = (rows: OutboxRow[]) => rows.map((r) => r.outbox_id);

describe.each(contractEngines())("store contract: outbox on $name", (engine) => {
  afterEach(() => engine.closeAll());
  afterAll(() => engine.stop(), ENGINE_HOOK_TIMEOUT_MS);

  it(
    "a row reads back as written, with its chunks in order; an outbox id is unique",
    async () => {
      const { store } = await engine.open();
      queue(store, "ob_1", 1000, ["part one", "part two", "part three"], { rich: '{"buttons":[]}', thread_id: "7", reply_to: "55" });
      expect(store.outbox.get("ob_1")).toMatchObject({
        outbox_id: "ob_1",
        event_id: "ev:ob_1",
        thread_id: "7",
        reply_to: "55",
        status: "queued",
        chunk_count: 3,
        attempts: 0,
        next_attempt_at_ms: 0,
        created_at_ms: 1000,
        updated_at_ms: 1000,
        rich: '{"buttons":[]}',
      });
      expect(store.outbox.chunksOf("ob_1").map((c) => [c.idx, c.body, c.status, c.provider_message_id])).toEqual([
        [0, "part one", "queued", null],
        [1, "part two", "queued", null],
        [2, "part three", "queued", null],
      ]);
      expect(store.outbox.get("ob_missing")).toBeUndefined();
      // Many rows' chunks in one read (a delivery pass), each in order; an id without chunks has an empty list.
      queue(store, "ob_0", 1000, ["zero a", "zero b"]);
      const many = store.outbox.chunksOfMany(["ob_1", "ob_missing", "ob_0"]);
      expect([...many.keys()]).toEqual(["ob_1", "ob_missing", "ob_0"]);
      expect(many.get("ob_1")!.map((c) => c.body)).toEqual(["part one", "part two", "part three"]);
      expect(many.get("ob_0")!.map((c) => [c.idx, c.body])).toEqual([
        [0, "zero a"],
        [1, "zero b"],
      ]);
      expect(many.get("ob_missing")).toEqual([]);
      expect(store.outbox.chunksOfMany(["ob_0"]).get("ob_0")).toHaveLength(2);
      expect(store.outbox.chunksOfMany([]).size).toBe(0);
      expect(() => store.outbox.insert(row("ob_1"), 2000)).toThrow();
      // A delivered-as-stored reply counts its one attempt.
      store.outbox.insert(row("ob_2", { status: "sent", attempts: 1 }), 1000);
      expect(store.outbox.get("ob_2")).toMatchObject({ attempts: 1, rich: null });
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "any text round-trips exactly: emoji, combining marks, control characters, bidi marks",
    async () => {
      const { store } = await engine.open();
      const body = "a\u0001b \u0007 👋🏽 e\u0301 \u202e ✓ \ud7ff \\ ' %_";
      queue(store, "ob_text", 1000, [body], { conversation_id: "c\u0008x" });
      expect(store.outbox.chunksOf("ob_text")[0]!.body).toBe(body);
      expect(store.outbox.get("ob_text")!.conversation_id).toBe("c\u0008x");
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "a NUL character in a reply does not stop it being stored; the text around it is kept",
    async () => {
      // PostgreSQL text cannot hold U+0000 (SQLite can): a reply quoting a provider's text with a NUL must still queue,
      // or the runner's whole batch fails on it. Whether the NUL is kept, dropped or replaced is the engine's business.
      const { store } = await engine.open();
      queue(store, "ob_nul", 1000, ["before\u0000after"]);
      expect(store.outbox.chunksOf("ob_nul")[0]!.body.replace(/[\u0000\ufffd]/g, "")).toBe("beforeafter");
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "pending: due rows oldest first, at most `limit`; final rows and ops alerts are not in it",
    async () => {
      const { store } = await engine.open();
      queue(store, "ob_a", 1000, ["a"], { conversation_id: "c1" });
      queue(store, "ob_b", 1001, ["b"], { conversation_id: "c2" });
      queue(store, "ob_c", 1002, ["c"], { conversation_id: "c3" });
      queue(store, "ob_d", 1003, ["d"], { conversation_id: "c4", status: "sent" });
      queue(store, "oa_alert1", 1004, ["alert"], { conversation_id: "ops", purpose: "alert" });
      expect(ids(store.outbox.pending(5000, 10))).toEqual(["ob_a", "ob_b", "ob_c"]);
      expect(ids(store.outbox.pending(5000, 2))).toEqual(["ob_a", "ob_b"]);
      expect(ids(store.outbox.pendingOpsAlerts(5000, 10))).toEqual(["oa_alert1"]);
      expect(store.outbox.countPending()).toBe(4);
      store.outbox.setRow(
        { outbox_id: "ob_b", status: "retry_scheduled", reason: "rate_limited", attempts: 1, next_attempt_at_ms: 9000 },
        1500,
      );
      expect(ids(store.outbox.pending(5000, 10))).toEqual(["ob_a", "ob_c"]);
      expect(ids(store.outbox.pending(9000, 10))).toEqual(["ob_a", "ob_b", "ob_c"]);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "replies to one conversation stay in order: a rescheduled head holds back the later rows of its conversation only",
    async () => {
      const { store } = await engine.open();
      queue(store, "ob_1", 1000, ["first"], { conversation_id: "c1" });
      queue(store, "ob_2", 1001, ["second"], { conversation_id: "c1" });
      queue(store, "ob_3", 1002, ["other chat"], { conversation_id: "c2" });
      queue(store, "ob_4", 1003, ["same chat, other bot"], { conversation_id: "c1", account_id: "bot_2" });
      store.outbox.setRow(
        { outbox_id: "ob_1", status: "retry_scheduled", reason: "http_429", attempts: 1, next_attempt_at_ms: 8000 },
        1100,
      );
      expect(ids(store.outbox.pending(2000, 10))).toEqual(["ob_3", "ob_4"]);
      // Once the head is due both go, head first; once it is sent the next one leads.
      expect(ids(store.outbox.pending(8000, 10))).toEqual(["ob_1", "ob_2", "ob_3", "ob_4"]);
      store.outbox.setRow({ outbox_id: "ob_1", status: "sent", reason: "delivered", attempts: 2, next_attempt_at_ms: 0 }, 8001);
      expect(ids(store.outbox.pending(2000, 10))).toEqual(["ob_2", "ob_3", "ob_4"]);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "a chunk's receipt and provider message id are kept; a receipt finds its chunk by the provider's id",
    async () => {
      const { store } = await engine.open();
      queue(store, "ob_1", 1000, ["a", "b"]);
      store.outbox.setChunk(
        { outbox_id: "ob_1", idx: 0, status: "sent", reason: "delivered", receipt: '{"message_id":901}', provider_message_id: "tg:901" },
        1100,
      );
      // A later update without a provider id keeps the one recorded.
      store.outbox.setChunk(
        { outbox_id: "ob_1", idx: 0, status: "sent", reason: "delivered", receipt: '{"message_id":901,"edited":true}' },
        1200,
      );
      expect(store.outbox.chunkByProviderMessageId("tg:901")).toEqual({
        outbox_id: "ob_1",
        idx: 0,
        receipt: '{"message_id":901,"edited":true}',
      });
      expect(store.outbox.chunkByProviderMessageId("tg:902")).toBeUndefined();
      store.outbox.setChunkReceipt("ob_1", 0, '{"status":"read"}', 1300);
      expect(store.outbox.chunksOf("ob_1")[0]).toMatchObject({
        receipt: '{"status":"read"}',
        provider_message_id: "tg:901",
        status: "sent",
      });
      expect(store.outbox.chunksOf("ob_1")[1]).toMatchObject({ status: "queued", receipt: null });
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "dead letters list undelivered rows with their sent-chunk count and first unsent receipt; replay re-queues unsent chunks only",
    async () => {
      const { store } = await engine.open();
      queue(store, "ob_1", 1000, ["a", "b", "c"]);
      queue(store, "ob_2", 1001, ["x"]);
      queue(store, "ob_3", 1002, ["y"]);
      store.outbox.setChunk({ outbox_id: "ob_1", idx: 0, status: "sent", reason: "delivered", receipt: '{"id":1}' }, 1100);
      store.outbox.setChunk({ outbox_id: "ob_1", idx: 1, status: "failed", reason: "http_400", receipt: '{"error":"too long"}' }, 1100);
      store.outbox.setRow({ outbox_id: "ob_1", status: "dead_letter", reason: "http_400", attempts: 3, next_attempt_at_ms: 0 }, 1100);
      store.outbox.setRow({ outbox_id: "ob_2", status: "unknown", reason: "timeout_after_send", attempts: 1, next_attempt_at_ms: 0 }, 1101);
      store.outbox.setRow({ outbox_id: "ob_3", status: "failed", reason: "blocked_by_user", attempts: 1, next_attempt_at_ms: 0 }, 1102);
      const dead = store.outbox.deadLetters(10);
      expect(dead.map((d) => [d.outbox_id, d.status, d.chunks_sent, d.first_receipt])).toEqual([
        ["ob_1", "dead_letter", 1, '{"error":"too long"}'],
        ["ob_2", "unknown", 0, null],
        ["ob_3", "failed", 0, null],
      ]);
      expect(store.outbox.countInStatus("dead_letter")).toBe(1);
      expect(store.outbox.countInStatus("unknown")).toBe(1);
      expect(store.comms.outboxDeadLetters(10).map((d) => [d.outbox_id, d.reason, d.attempts])).toEqual([["ob_1", "http_400", 3]]);
      expect(store.outbox.replayableIds(10)).toEqual(["ob_1", "ob_2"]);
      store.outbox.requeueUnsentChunks("ob_1", 2000);
      expect(store.outbox.chunksOf("ob_1").map((c) => c.status)).toEqual(["sent", "queued", "queued"]);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "a dry-run reply is marked sent with deterministic receipts, counting one attempt",
    async () => {
      const { store } = await engine.open();
      queue(store, "ob_dry", 1000, ["a", "b"]);
      store.outbox.markDryRunSent("ob_dry", 1500);
      expect(store.outbox.get("ob_dry")).toMatchObject({ status: "sent", reason: "delivery_dry_run", attempts: 1, updated_at_ms: 1500 });
      expect(store.outbox.chunksOf("ob_dry").map((c) => [c.status, c.receipt])).toEqual([
        ["sent", "dryrun:ob_dry:0"],
        ["sent", "dryrun:ob_dry:1"],
      ]);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "marks and counts: replies after a mark, replies to an event since a time, replies to a recipient since a time",
    async () => {
      const { store } = await engine.open();
      queue(store, "ob_1", 1000, ["a"], { conversation_id: "c1", event_id: "ev1" });
      const mark = store.outbox.lastId();
      expect(mark).toBeGreaterThan(0);
      queue(store, "ob_2", 2000, ["b"], { conversation_id: "c1", event_id: "ev1" });
      queue(store, "oa_x", 2001, ["alert"], { conversation_id: "ops", purpose: "alert" });
      queue(store, "ob_3", 3000, ["c"], { conversation_id: "c2", transport: "email", event_id: "ev3" });
      expect(store.outbox.repliesAfter(mark)).toBe(2);
      expect(store.inspect.repliesAfter(mark).map((r) => r.outbox_id)).toEqual(["ob_2", "oa_x", "ob_3"]);
      expect(store.outbox.repliedToEvent("telegram", "c1", "ev1", 1500)).toBe(true);
      expect(store.outbox.repliedToEvent("telegram", "c1", "ev1", 2500)).toBe(false);
      expect(store.outbox.repliedToEvent("telegram", "c2", "ev1", 0)).toBe(false);
      expect(store.replyCounts.since("telegram", "c1", 0)).toBe(2);
      expect(store.replyCounts.since("telegram", "c1", 1500)).toBe(1);
      expect(store.replyCounts.since("email", "c2", 0)).toBe(1);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "ops alerts not yet sent are listed with their text (chunks joined in order) and counted",
    async () => {
      const { store } = await engine.open();
      queue(store, "oa_1", 1000, ["runner ", "stale ", "for 5 min"], { conversation_id: "ops", purpose: "alert" });
      queue(store, "oa_2", 1001, ["recovered"], { conversation_id: "ops", purpose: "alert", status: "sent" });
      queue(store, "ob_1", 1002, ["not an alert"]);
      expect(store.alerts.countUndelivered()).toBe(1);
      expect(store.alerts.undelivered(10)).toEqual([
        {
          outbox_id: "oa_1",
          status: "queued",
          reason: null,
          attempts: 0,
          transport: "telegram",
          conversation_id: "ops",
          created_at_ms: 1000,
          text: "runner stale for 5 min",
        },
      ]);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "status summaries: rows per status and per reason, per transport and reason, export window",
    async () => {
      const { store } = await engine.open();
      queue(store, "ob_1", 1000, ["a"]);
      queue(store, "ob_2", 1001, ["b"], { transport: "discord" });
      queue(store, "ob_3", 5000, ["c"]);
      store.outbox.setRow({ outbox_id: "ob_1", status: "sent", reason: "delivered", attempts: 1, next_attempt_at_ms: 0 }, 1100);
      store.outbox.setRow({ outbox_id: "ob_2", status: "sent", reason: "delivered", attempts: 1, next_attempt_at_ms: 0 }, 1100);
      expect(store.inspect.outboxByStatus()).toEqual([
        { status: "queued", n: 1 },
        { status: "sent", n: 2 },
      ]);
      expect(store.inspect.deliveriesByReason()).toEqual({ delivered: 2 });
      expect(store.inspect.deliveriesByTransportAndReason().sort((a, b) => a.transport.localeCompare(b.transport))).toEqual([
        { transport: "discord", reason: "delivered", n: 1 },
        { transport: "telegram", reason: "delivered", n: 1 },
      ]);
      expect(store.inspect.deliveriesBetween(1050, 2000).map((r) => r.outbox_id)).toEqual(["ob_1", "ob_2"]);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );
});
