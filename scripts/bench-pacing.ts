/**
 * @module Bench: outbound pacing (issue 12 §5). Replies in provider mode go through the real delivery path (outbox →
 * pacing gate → `createProviderDelivery` → paced grammY sender) to the local Bot API server ENFORCING Telegram's flood
 * limits (test/helpers/rate-limits.ts: 1 msg/s per chat, 20/min per group, 30/s per bot; refusals are real 429s).
 * Delivery passes run like the runner's loop: one pass, then the runner's default 200 ms idle, until nothing is pending.
 * - `chats`: 1,000 replies to 1,000 private chats, real limits, real time (30/s ⇒ ≈ 33 s is the floor).
 * - `group`: 100 replies to one group. At 20/min this is ≥ 4 min of real time, so the run is TIME-SCALED: every window
 *   (server and pacer alike) divided by `--scale` (default 10); the report gives both the measured and the real-scale
 *   time, and the most sends the server accepted in any one (scaled) minute.
 * Run: `tsx scripts/bench-pacing.ts [chats] [group] [--scale 10]` (the last line is JSON).
 */
import os from "node:os";
import path from "node:path";
import { createRequestBuilders } from "../src/app/index.ts";
import type { ReplyTarget } from "../src/contracts/outbound.ts";
import { createDelivery } from "../src/outbound/deliver.ts";
import { queueReplies } from "../src/outbound/outbox.ts";
import { createProviderDelivery } from "../src/outbound/provider.ts";
import { createPacer } from "../src/outbound/pacing.ts";
import { createPacedSenders, createPacingGate, DEFAULT_PACING, scalePacing, type PacingConfig } from "../src/outbound/pacing-senders.ts";
import { createTelegramSender } from "../connectors/telegram/sender.ts";
import { startTelegramBotApiServer } from "../test/helpers/telegram-bot-api-server.ts";
import { createTelegramRateLimits } from "../test/helpers/rate-limits.ts";
import { makeTauHome } from "../test/helpers/tau-home.ts";

const args = process.argv.slice(2);
const flag = (name: string, d: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const parts = args.filter((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
const want = (p: string) => parts.length === 0 || parts.includes(p);
const SCALE = flag("--scale", 10);
/** The runner's default idle between cycles (`runner.poll_interval_ms`). */
const IDLE_MS = 200;
/** Each part stops by itself after this long. */
const BOUND_MS = 75_000;

interface PartResult {
  replies: number;
  sent: number;
  refused_429: number;
  elapsed_s: number;
  passes: number;
  /** Sends the pacer refused at send time (rescheduled, counted as `delivery_rate_limited`); rows deferred before sending are not counted. */
  held_at_send: number;
  /** Every chat's replies arrived in the order they were queued. */
  in_order: boolean;
  /** Most sends the server accepted in any window of the group limit (scaled), when a group was sent to. */
  max_per_group_window?: number;
}

function inOrder(sent: { chat: number; n: number }[]): boolean {
  const last = new Map<number, number>();
  for (const m of sent) {
    if ((last.get(m.chat) ?? -1) > m.n) return false;
    last.set(m.chat, m.n);
  }
  return true;
}

async function run(pacing: PacingConfig, targets: ReplyTarget[]): Promise<PartResult> {
  const limits = createTelegramRateLimits(pacing.telegram);
  const server = await startTelegramBotApiServer({ rateLimits: limits });
  const home = makeTauHome(`runner:\n  coalesce_window_ms: 0\noutbound:\n  mode: provider\n  http_timeout_ms: 10000\n`);
  const clock = () => Date.now();
  const app = home.open(clock);
  try {
    const sender = createTelegramSender({ apiRoot: server.url, token: () => server.token, timeoutMs: 10_000 });
    const pacer = createPacer({ clock, maxWaitMs: pacing.max_wait_ms });
    const delivery = createDelivery({
      store: app.store,
      senders: createRequestBuilders(app.config),
      dryRunFile: path.join(app.stateDir, "outbox", "dry-run.ndjson"),
      provider: createProviderDelivery({
        store: app.store,
        senders: createPacedSenders(new Map([["telegram", sender]]), pacer, pacing, clock),
        retry: app.config.outbound,
        clock,
      }),
      pacing: createPacingGate(pacer, pacing),
      clock,
    });
    app.store.atomically(() =>
      targets.forEach((t, i) =>
        queueReplies(app.store, `bench:pacing:${i}`, t, [{ purpose: "responder", text: `reply ${i}` }], {
          mode: "provider",
          maxChars: 4096,
          now: clock(),
        }),
      ),
    );
    const started = clock();
    let passes = 0;
    while (app.store.outbox.countPending() > 0 && clock() - started < BOUND_MS) {
      await delivery.deliverPending();
      passes += 1;
      if (app.store.outbox.countPending() > 0) await new Promise((r) => setTimeout(r, IDLE_MS));
    }
    const elapsed = clock() - started;
    const accepted = server.requests.filter((q) => q.method === "sendMessage" && q.status === 200).map((q) => q.at);
    const w = pacing.telegram.per_group.window_ms;
    let maxWin = 0;
    for (let i = 0, j = 0; i < accepted.length; i++) {
      while (accepted[i]! - accepted[j]! >= w) j += 1;
      maxWin = Math.max(maxWin, i - j + 1);
    }
    return {
      replies: targets.length,
      sent: server.sentMessages.length,
      refused_429: server.requests.filter((q) => q.status === 429).length,
      elapsed_s: Math.round(elapsed / 100) / 10,
      passes,
      held_at_send: app.store.counters.all()["deliveries.delivery_rate_limited"] ?? 0,
      in_order: inOrder(server.sentMessages.map((m) => ({ chat: m.chat_id, n: Number(String(m.params["text"]).slice(6)) }))),
      ...(targets.some((t) => t.conversation_id.startsWith("-")) ? { max_per_group_window: maxWin } : {}),
    };
  } finally {
    app.close();
    home.cleanup();
    await server.close();
  }
}

const target = (conversation_id: string): ReplyTarget => ({
  transport: "telegram",
  account_id: "6112",
  conversation_id,
  thread_id: null,
  reply_to: null,
});

const load1 = os.loadavg()[0]!;
const out: Record<string, unknown> = { cpus: os.cpus().length };
if (want("chats")) {
  const r = await run(
    DEFAULT_PACING,
    Array.from({ length: 1000 }, (_, i) => target(String(100_000 + i))),
  );
  out["chats"] = r;
  console.log(
    `chats: ${r.sent}/${r.replies} replies to ${r.replies} chats in ${r.elapsed_s} s, ${r.refused_429} × 429, ${r.passes} delivery passes, in order: ${r.in_order} (limits 1/s per chat, 30/s per bot; floor ≈ 33 s)`,
  );
}
if (want("group")) {
  const scaled = scalePacing(DEFAULT_PACING, SCALE);
  const r = await run(
    scaled,
    Array.from({ length: 100 }, () => target("-1001234567890")),
  );
  out["group"] = { ...r, scale: SCALE, real_scale_s: Math.round(r.elapsed_s * SCALE) };
  console.log(
    `group (time-scaled ×${SCALE}: windows ${scaled.telegram.per_group.window_ms} ms for 60 s): ${r.sent}/${r.replies} replies in ${r.elapsed_s} s measured = ${Math.round(r.elapsed_s * SCALE)} s at real scale, ${r.refused_429} × 429, in order: ${r.in_order}, at most ${r.max_per_group_window} accepted in any scaled minute (limit 20)`,
  );
}
out["loadavg_1m"] = { start: Math.round(load1 * 100) / 100, end: Math.round(os.loadavg()[0]! * 100) / 100 };
console.log(JSON.stringify(out));
