/**
 * Outbox claims (issue 15 §2): several nodes deliver from one outbox without sending a reply twice, and replies to one
 * conversation stay in order. Each "node" is its own Store on the same database (SQLite file; PostgreSQL once its
 * driver is present), as two `tau run` processes would open it. Times are given, never slept on.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { Store } from "../../src/store/index.ts";
import { contractEngines, ENGINE_HOOK_TIMEOUT_MS } from "../store/contract/engines.ts";

const T0 = 1_763_712_000_000;
const CLAIM_MS = 10_000;

/** Insert one queued reply row (one chunk) for `conversation`; ids sort in insertion order. */
function queue(store: Store, outboxId: string, conversation: string, now = T0): void {
  store.atomically(() => {
    store.outbox.insert(
      {
        outbox_id: outboxId,
        event_id: `ev:${outboxId}`,
        transport: "telegram",
        account_id: "6112",
        conversation_id: conversation,
        thread_id: null,
        reply_to: null,
        mode: "provider",
        purpose: "responder",
        status: "queued",
        reason: null,
        chunk_count: 1,
      },
      now,
    );
    store.outbox.insertChunk(
      { outbox_id: outboxId, idx: 0, body: `text of ${outboxId}`, status: "queued", reason: null, receipt: null },
      now,
    );
  });
}

const ids = (rows: { outbox_id: string }[]) => rows.map((r) => r.outbox_id);

for (const engine of contractEngines()) {
  describe(`outbox claims on ${engine.name}`, { timeout: ENGINE_HOOK_TIMEOUT_MS }, () => {
    afterEach(() => engine.closeAll());
    afterAll(() => engine.stop());

    async function twoNodes(): Promise<{ a: Store; b: Store }> {
      const o = await engine.open();
      return { a: o.store, b: engine.reopen(o) };
    }

    it("two nodes claiming from one outbox never get the same row", async () => {
      const { a, b } = await twoNodes();
      for (let i = 0; i < 40; i++) queue(a, `ob_${String(i).padStart(3, "0")}`, `-100${i}`);
      const sent = (store: Store, rows: { outbox_id: string }[]) =>
        rows.forEach((r) =>
          store.outbox.setRow({ outbox_id: r.outbox_id, status: "sent", reason: "delivery_sent", attempts: 1, next_attempt_at_ms: 0 }, T0),
        );
      const byA: string[] = [];
      const byB: string[] = [];
      for (let round = 0; round < 20; round++) {
        // Both claim before either finishes: B's claim comes while A's rows are claimed and unsent.
        const ra = a.outbox.claimPending("node-a", T0, CLAIM_MS, 3);
        const rb = b.outbox.claimPending("node-b", T0, CLAIM_MS, 1);
        byA.push(...ids(ra));
        byB.push(...ids(rb));
        sent(a, ra);
        sent(b, rb);
      }
      expect(byA).toHaveLength(30);
      expect(byB).toHaveLength(10);
      expect(byA.filter((id) => byB.includes(id))).toEqual([]);
      expect(new Set([...byA, ...byB]).size).toBe(40);
      expect(a.outbox.countPending()).toBe(0);
    });

    it("a node takes back its own live claims (a restart under the same name), never another node's", async () => {
      const { a, b } = await twoNodes();
      queue(a, "ob_001", "-1001");
      queue(a, "ob_002", "-1002");
      expect(ids(a.outbox.claimPending("node-a", T0, CLAIM_MS, 1))).toEqual(["ob_001"]);
      expect(ids(b.outbox.claimPending("node-b", T0, CLAIM_MS, 10))).toEqual(["ob_002"]);
      expect(ids(a.outbox.claimPending("node-a", T0 + 1, CLAIM_MS, 10))).toEqual(["ob_001"]);
      expect(b.outbox.claimOf("ob_001", T0 + 1)).toEqual({ node: "node-a", until_ms: T0 + 1 + CLAIM_MS });
      expect(a.outbox.claimOf("ob_002", T0 + 1)).toEqual({ node: "node-b", until_ms: T0 + CLAIM_MS });
    });

    it("an earlier reply claimed by node A holds the later replies of its conversation back from node B", async () => {
      const { a, b } = await twoNodes();
      queue(a, "ob_001", "-1001"); // conversation X, first
      queue(a, "ob_002", "-1002"); // conversation Y
      queue(a, "ob_003", "-1001"); // conversation X, second
      queue(a, "ob_004", "-1001"); // conversation X, third
      expect(ids(a.outbox.claimPending("node-a", T0, CLAIM_MS, 1))).toEqual(["ob_001"]);
      // B may send Y, not X's later replies while A may be sending X's first.
      expect(ids(b.outbox.claimPending("node-b", T0, CLAIM_MS, 10))).toEqual(["ob_002"]);
      // A sent its row: the claim is released with the final status, and X's next replies are free.
      a.outbox.setRow({ outbox_id: "ob_001", status: "sent", reason: "delivery_sent", attempts: 1, next_attempt_at_ms: 0 }, T0);
      expect(a.outbox.claimOf("ob_001", T0)).toBeNull();
      // (ob_002 again: node-b's own live claim.)
      expect(ids(b.outbox.claimPending("node-b", T0, CLAIM_MS, 10))).toEqual(["ob_002", "ob_003", "ob_004"]);
    });

    it("a reply rescheduled and released still holds its conversation until it is due", async () => {
      const { a, b } = await twoNodes();
      queue(a, "ob_001", "-1001");
      queue(a, "ob_002", "-1001");
      expect(ids(a.outbox.claimPending("node-a", T0, CLAIM_MS, 1))).toEqual(["ob_001"]);
      a.outbox.setRow(
        { outbox_id: "ob_001", status: "retry_scheduled", reason: "delivery_rate_limited", attempts: 0, next_attempt_at_ms: T0 + 5000 },
        T0,
      );
      a.outbox.releaseClaims("node-a", ["ob_001"]);
      expect(b.outbox.claimPending("node-b", T0 + 1000, CLAIM_MS, 10)).toEqual([]);
      expect(ids(b.outbox.claimPending("node-b", T0 + 5000, CLAIM_MS, 10))).toEqual(["ob_001", "ob_002"]);
    });

    it("an expired claim (its node died mid-send) is claimable again, and the row keeps its `sending` state", async () => {
      const { a, b } = await twoNodes();
      queue(a, "ob_001", "-1001");
      queue(a, "ob_002", "-1001");
      expect(ids(a.outbox.claimPending("node-a", T0, CLAIM_MS, 10))).toEqual(["ob_001", "ob_002"]);
      a.outbox.setRow({ outbox_id: "ob_001", status: "sending", reason: null, attempts: 0, next_attempt_at_ms: 0 }, T0);
      // node-a dies here. Before its claim runs out nobody else may touch the rows…
      expect(b.outbox.claimPending("node-b", T0 + CLAIM_MS - 1, CLAIM_MS, 10)).toEqual([]);
      // …after, node-b takes both, in order, the first still `sending` (provider delivery treats it as interrupted).
      const rows = b.outbox.claimPending("node-b", T0 + CLAIM_MS, CLAIM_MS, 10);
      expect(rows.map((r) => [r.outbox_id, r.status])).toEqual([
        ["ob_001", "sending"],
        ["ob_002", "queued"],
      ]);
      expect(a.outbox.claimOf("ob_001", T0 + CLAIM_MS)).toEqual({ node: "node-b", until_ms: T0 + 2 * CLAIM_MS });
    });

    it("rows a node inserts are claimed by it: another node leaves them alone until the claim expires", async () => {
      const { a, b } = await twoNodes();
      a.outbox.claimInserts("node-a", CLAIM_MS);
      queue(a, "ob_001", "-1001");
      queue(a, "ob_002", "-1002");
      expect(b.outbox.claimPending("node-b", T0, CLAIM_MS, 10)).toEqual([]);
      expect(ids(a.outbox.claimPending("node-a", T0, CLAIM_MS, 10))).toEqual(["ob_001", "ob_002"]);
      a.outbox.releaseClaims("node-a", ["ob_001", "ob_002"]);
      // Released (the pass ended without sending): anyone may take them.
      expect(ids(b.outbox.claimPending("node-b", T0, CLAIM_MS, 10))).toEqual(["ob_001", "ob_002"]);
    });

    it("a final status releases the claim: a dry-run reply marked sent, a provider reply dead-lettered", async () => {
      const { a } = await twoNodes();
      a.outbox.claimInserts("node-a", CLAIM_MS);
      queue(a, "ob_001", "-1001");
      queue(a, "ob_002", "-1002");
      expect(a.outbox.claimOf("ob_001", T0)).toEqual({ node: "node-a", until_ms: T0 + CLAIM_MS });
      a.outbox.markDryRunSent("ob_001", T0);
      a.outbox.setRow(
        { outbox_id: "ob_002", status: "dead_letter", reason: "delivery_request_rejected", attempts: 1, next_attempt_at_ms: 0 },
        T0,
      );
      expect(a.outbox.claimOf("ob_001", T0)).toBeNull();
      expect(a.outbox.claimOf("ob_002", T0)).toBeNull();
      // Statuses still to deliver keep theirs (a retry scheduled mid-pass stays this node's until the pass ends).
      queue(a, "ob_003", "-1003");
      a.outbox.setRow(
        { outbox_id: "ob_003", status: "retry_scheduled", reason: "delivery_rate_limited", attempts: 0, next_attempt_at_ms: T0 + 1 },
        T0,
      );
      expect(a.outbox.claimOf("ob_003", T0)).toEqual({ node: "node-a", until_ms: T0 + CLAIM_MS });
    });

    it("a renewed claim outlives its first expiry; ops alerts are claimed apart from replies", async () => {
      const { a, b } = await twoNodes();
      queue(a, "ob_001", "-1001");
      queue(a, "oa_001", "-1009");
      expect(ids(a.outbox.claimPending("node-a", T0, CLAIM_MS, 10))).toEqual(["ob_001"]);
      a.outbox.renewClaims("node-a", ["ob_001"], T0 + 3 * CLAIM_MS);
      expect(b.outbox.claimPending("node-b", T0 + 2 * CLAIM_MS, CLAIM_MS, 10)).toEqual([]);
      expect(ids(b.outbox.claimOpsAlerts("node-b", T0, CLAIM_MS, 10))).toEqual(["oa_001"]);
      expect(a.outbox.claimOpsAlerts("node-a", T0, CLAIM_MS, 10)).toEqual([]);
    });
  });
}
