/**
 * Dry-run replies are written as their batch commits: stored as sent, receipts appended and fsynced just before
 * the commit. A batch that does not commit takes its receipts back (abort), and one cut off by a crash between the
 * fsync and the commit leaves bytes past the committed end that the next start cuts off — each reply is written
 * exactly once either way.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createRequestBuilders, openIngressWriter, type App } from "../../src/app/index.ts";
import { createDelivery, type Delivery } from "../../src/outbound/deliver.ts";
import { DRY_RUN_WRITTEN_KEY } from "../../src/outbound/dry-run.ts";
import { stage } from "../../src/router/compose.ts";
import type { EventContext } from "../../src/router/context.ts";
import { buildPipeline } from "../../src/router/pipeline.ts";
import { createDedupeStage } from "../../src/router/stages/dedupe.ts";
import { createEventKindStage } from "../../src/router/stages/event-kind.ts";
import { createResponderStage } from "../../src/router/stages/responder.ts";
import { createSelfBotFilterStage } from "../../src/router/stages/self-bot-filter.ts";
import { builtinResponders } from "../../src/responders/index.ts";
import { createRunner } from "../../src/runner/runner.ts";
import type { Store } from "../../src/store/index.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

let h: TauHome | null = null;
let app: App | null = null;
afterEach(() => {
  app?.close();
  h?.cleanup();
  app = null;
  h = null;
});

function receiptIds(home: TauHome): string[] {
  const file = path.join(home.stateDir, "outbox", "dry-run.ndjson");
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l).receipt_id as string);
}

/** A runner over `store` and `delivery` with a minimal pipeline: every message gets the ack reply. */
function runnerOver(a: App, store: Store, delivery: Delivery) {
  return createRunner({
    config: a.config,
    stateDir: a.stateDir,
    store,
    clock: a.clock,
    logger: a.logger,
    delivery,
    buildPipeline: (seen) =>
      buildPipeline({
        dedupe: createDedupeStage(seen),
        selfBot: createSelfBotFilterStage(a.config.identity, new Set()),
        kind: createEventKindStage(),
        policy: [],
        route: stage<EventContext>("route", (ctx, next) => {
          ctx.route = {
            binding_id: null,
            matched_by: "default",
            phase: "delegated_step",
            category_hint: "general",
            session_key: ctx.env.conversation_id,
            responder: "ack",
          };
          next();
        }),
        dispatch: createResponderStage({
          responders: builtinResponders(),
          coalesceWindowMs: 0,
          lastResponderAt: () => undefined,
          markResponder: () => undefined,
        }),
      }),
  });
}

const deliveryFor = (a: App) =>
  createDelivery({
    store: a.store,
    senders: createRequestBuilders(a.config),
    dryRunFile: path.join(a.stateDir, "outbox", "dry-run.ndjson"),
    clock: a.clock,
  });

/**
 * The store, except that its next batch fails after its work is done (as a failed commit would): the next two
 * outermost units of work — the batch and the careful rerun the runner gives a failed batch.
 */
function failingOnce(store: Store): Store {
  let fails = 2;
  let depth = 0;
  return {
    ...store,
    atomically: <T>(fn: () => T): T =>
      store.atomically(() => {
        depth += 1;
        let r: T;
        try {
          r = fn();
        } finally {
          depth -= 1;
        }
        if (depth === 0 && fails > 0) {
          fails -= 1;
          throw new Error("commit failed");
        }
        return r;
      }),
  };
}

async function ingest(a: App, from: number, to: number): Promise<void> {
  const w = openIngressWriter(a, true);
  await w.append(
    "telegram",
    Array.from({ length: to - from }, (_, i) => makeDm(String(100_000 + from + i), { event_id: `telegram:6112:u:${from + i}` })),
  );
  await w.close();
}

describe("dry-run replies written as the batch commits", () => {
  it("stores them as sent with their receipts, without a second write per reply", async () => {
    h = makeTauHome();
    app = h.open();
    await ingest(app, 0, 3);
    const runner = runnerOver(app, app.store, deliveryFor(app));
    const [report] = await runner.drain();
    runner.close();
    expect(report).toMatchObject({ processed: 3, replies: 3, delivered: 3 });
    const rows = app.store.inspect.repliesAfter(0);
    expect(rows.map((r) => [r.status, r.reason])).toEqual(Array(3).fill(["sent", "delivery_dry_run"]));
    for (const r of rows) {
      expect(app.store.outbox.get(r.outbox_id)).toMatchObject({ attempts: 1, next_attempt_at_ms: 0 });
      expect(app.store.outbox.chunksOf(r.outbox_id)).toEqual([
        expect.objectContaining({ status: "sent", reason: "delivery_dry_run", receipt: `dryrun:${r.outbox_id}:0` }),
      ]);
    }
    expect(receiptIds(h)).toEqual(rows.map((r) => `dryrun:${r.outbox_id}:0`));
    expect(app.store.counters.all()["deliveries.delivery_dry_run"]).toBe(3);
    expect(app.store.kv.get(DRY_RUN_WRITTEN_KEY)).toBe(
      `${fs.statSync(path.join(h.stateDir, "outbox", "dry-run.ndjson")).ino}:${fs.statSync(path.join(h.stateDir, "outbox", "dry-run.ndjson")).size}`,
    );
  });

  it("takes the receipts back when the batch does not commit, and writes each reply once when it is read again", async () => {
    h = makeTauHome();
    app = h.open();
    await ingest(app, 0, 5);
    const first = runnerOver(app, app.store, deliveryFor(app));
    await first.drain();
    first.close();
    expect(receiptIds(h)).toHaveLength(5);

    await ingest(app, 5, 12);
    const failing = runnerOver(app, failingOnce(app.store), deliveryFor(app));
    await expect(failing.cycle()).rejects.toThrow("commit failed");
    expect(receiptIds(h)).toHaveLength(5); // the failed batch's receipts were taken back
    await failing.drain();
    failing.close();
    const ids = receiptIds(h);
    expect(ids).toHaveLength(12);
    expect(new Set(ids).size).toBe(12);
    expect(app.store.inspect.tracesAfter(0)).toHaveLength(12);
  });

  it("after a crash between the fsync and the commit, the next start cuts the uncommitted receipts off", async () => {
    h = makeTauHome();
    app = h.open();
    await ingest(app, 0, 4);
    const first = runnerOver(app, app.store, deliveryFor(app));
    await first.drain();
    first.close();

    await ingest(app, 4, 9);
    // As after kill -9: the batch's receipts reached the file, its commit did not, and nothing took them back.
    const delivery = deliveryFor(app);
    const crashing: Delivery = { ...delivery, dryRunBatch: () => ({ ...delivery.dryRunBatch(), abort: () => undefined }) };
    const cut = runnerOver(app, failingOnce(app.store), crashing);
    await expect(cut.cycle()).rejects.toThrow("commit failed");
    cut.close();
    expect(receiptIds(h)).toHaveLength(14); // 4 committed + 5 twice (the batch, its careful rerun): never committed

    const restarted = runnerOver(app, app.store, deliveryFor(app));
    await restarted.drain();
    restarted.close();
    const ids = receiptIds(h);
    expect(ids).toHaveLength(9);
    expect(new Set(ids).size).toBe(9);
    expect(new Set(ids)).toEqual(new Set(app.store.inspect.repliesAfter(0).map((r) => `dryrun:${r.outbox_id}:0`)));
  });
});
