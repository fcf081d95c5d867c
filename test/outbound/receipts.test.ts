/**
 * WhatsApp status webhooks move a sent chunk's receipt along sent < delivered < read; failed is terminal;
 * out-of-order and unknown ids are tolerated. Driven through the real event-kind stage with the recorder as its
 * `onStatus` hook, as src/app wires it.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { App } from "../../src/app/index.ts";
import { advancesReceipt, applyReceipt, createReceiptRecorder, toReceiptState } from "../../src/outbound/receipts.ts";
import { queueReplies } from "../../src/outbound/outbox.ts";
import { createContext } from "../../src/router/context.ts";
import { createEventKindStage } from "../../src/router/stages/event-kind.ts";
import { makeEnvelope } from "../helpers/envelope-factory.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

const T0 = 1_763_712_000_000;
let home: TauHome;
let app: App;

beforeEach(() => {
  home = makeTauHome("outbound:\n  mode: provider\n");
  app = home.open(() => T0);
  app.store.atomically(() => {
    queueReplies(
      app.store,
      "whatsapp:wamid.IN",
      { transport: "whatsapp", account_id: "106540352242922", conversation_id: "16505551234", thread_id: null, reply_to: null },
      [{ purpose: "responder", text: "hi" }],
      { mode: "provider", maxChars: 4096, now: T0 },
      () => "ob_receipts",
    );
    app.store.outbox.setChunk(
      {
        outbox_id: "ob_receipts",
        idx: 0,
        status: "sent",
        reason: "delivery_sent",
        receipt: JSON.stringify({ state: "sent", at_ms: T0 }),
        provider_message_id: "wamid.OUT1",
      },
      T0,
    );
  });
});
afterEach(() => {
  app.close();
  home.cleanup();
});

const receipt = () =>
  JSON.parse(app.store.outbox.chunksOf("ob_receipts")[0]!.receipt!) as { state: string; at_ms: number; error_code?: number };

/** One status event through the event-kind stage; returns the receipt decision reason. */
function status(state: string, messageId = "wamid.OUT1", atS = 1763712100, extraMeta: Record<string, string | number> = {}): string {
  const stage = createEventKindStage(createReceiptRecorder(app.store));
  const ctx = createContext(
    makeEnvelope({
      event_id: `whatsapp:${messageId}:${state}`,
      transport: "whatsapp",
      provider: "whatsapp-cloud-api",
      account_id: "106540352242922",
      kind: "status",
      conversation_id: "16505551234",
      chat_type: "dm",
      text: "",
      occurred_at_ms: atS * 1000,
      meta: { status: state, message_id: messageId, recipient_id: "16505551234", ...extraMeta },
    }),
    T0 + 1,
  );
  app.store.atomically(() => stage(ctx, () => undefined));
  expect(ctx.outcome).toBe("recorded");
  expect(ctx.reason).toBe("recorded_status");
  return ctx.decisions.find((d) => d.stage === "receipt")!.reason;
}

describe("receipt lattice", () => {
  it("sent → delivered → read", () => {
    expect(status("delivered", "wamid.OUT1", 1763712100)).toBe("receipt_applied");
    expect(receipt()).toEqual({ state: "delivered", at_ms: 1763712100000 });
    expect(status("read", "wamid.OUT1", 1763712200)).toBe("receipt_applied");
    expect(receipt()).toEqual({ state: "read", at_ms: 1763712200000 });
    expect(app.store.counters.all()).toMatchObject({ "receipts.delivered": 1, "receipts.read": 1 });
  });

  it("out of order: read first, then a late delivered and a late sent never move it back", () => {
    expect(status("read", "wamid.OUT1", 1763712300)).toBe("receipt_applied");
    expect(status("delivered", "wamid.OUT1", 1763712100)).toBe("receipt_stale");
    expect(status("sent", "wamid.OUT1", 1763712050)).toBe("receipt_stale");
    expect(receipt()).toEqual({ state: "read", at_ms: 1763712300000 });
  });

  it("failed is terminal, and keeps the provider error code", () => {
    expect(status("failed", "wamid.OUT1", 1763712100, { error_code: 131026 })).toBe("receipt_applied");
    expect(receipt()).toEqual({ state: "failed", at_ms: 1763712100000, error_code: 131026 });
    expect(status("delivered", "wamid.OUT1", 1763712200)).toBe("receipt_after_failed");
    expect(status("read", "wamid.OUT1", 1763712300)).toBe("receipt_after_failed");
    expect(receipt().state).toBe("failed");
  });

  it("unknown message ids and unknown statuses are ignored", () => {
    expect(status("delivered", "wamid.SOMEONE_ELSE")).toBe("receipt_unknown_message");
    expect(status("deleted")).toBe("receipt_unknown_status");
    expect(receipt()).toEqual({ state: "sent", at_ms: T0 });
  });

  it("pure helpers: played counts as read; the order", () => {
    expect(toReceiptState("played")).toBe("read");
    expect(toReceiptState("bogus")).toBe(null);
    expect(advancesReceipt(null, "sent")).toBe(true);
    expect(advancesReceipt("sent", "sent")).toBe(false);
    expect(advancesReceipt("delivered", "read")).toBe(true);
    expect(advancesReceipt("read", "failed")).toBe(true);
    expect(advancesReceipt("failed", "read")).toBe(false);
    expect(applyReceipt(app.store, { provider_message_id: "wamid.OUT1", state: "delivered", at_ms: 5 }, T0)).toBe("receipt_applied");
  });
});
