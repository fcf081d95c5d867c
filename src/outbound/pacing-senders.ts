/**
 * @module Pacing per platform (`outbound.pacing`): which limits a send to a conversation is subject to, the sender
 * wrapper that takes a permit per chunk, and the gate `createDelivery` asks before handing rows to provider delivery.
 * - Telegram (Bot FAQ, PROVIDERS.md §1.6/§10.1.8): ~1 message/s per chat, 20/min per group (chat id < 0), ~30/s per bot.
 * - WhatsApp (PROVIDERS.md §3.6/§10.3.5): pair rate ~1 message / 6 s to the same user (131056), 80 messages/s per
 *   business number (130429).
 * - Discord: nothing here — @discordjs/rest keeps per-route buckets from the X-RateLimit-* headers and the sender
 *   makes it refuse instead of wait (`rejectOnRateLimit`), which reschedules the row (connectors/discord/sender.ts).
 * - Email: no limit.
 * A 429 still goes through the retry policy (retry_after honoured); the pacer also pauses that conversation for as long.
 */
import type { ProviderSender, SendOutcome } from "../contracts/delivery.ts";
import type { Transport } from "../contracts/envelope.ts";
import type { ChunkJob } from "../contracts/outbound.ts";
import type { OutboxRow } from "../store/index.ts";
import type { PaceKey, Pacer, WindowLimit } from "./pacing.ts";

/** `outbound.pacing` in tau.yaml (defaults in src/config/schema.ts = `DEFAULT_PACING`). */
export interface PacingConfig {
  enabled: boolean;
  /** Longest in-process wait for a slot; a row whose slot is further away is rescheduled instead. */
  max_wait_ms: number;
  telegram: { per_chat: WindowLimit; per_group: WindowLimit; per_bot: WindowLimit };
  whatsapp: { per_recipient: WindowLimit; per_number: WindowLimit };
}

export const DEFAULT_PACING: PacingConfig = {
  enabled: true,
  max_wait_ms: 1500,
  telegram: {
    per_chat: { count: 1, window_ms: 1000 },
    per_group: { count: 20, window_ms: 60_000 },
    per_bot: { count: 30, window_ms: 1000 },
  },
  whatsapp: {
    per_recipient: { count: 1, window_ms: 6000 },
    per_number: { count: 80, window_ms: 1000 },
  },
};

/** The same limits with every window divided by `factor` (benches and tests run minutes of pacing in seconds). */
export function scalePacing(c: PacingConfig, factor: number): PacingConfig {
  const s = (l: WindowLimit): WindowLimit => ({ count: l.count, window_ms: Math.max(1, Math.round(l.window_ms / factor)) });
  return {
    ...c,
    telegram: { per_chat: s(c.telegram.per_chat), per_group: s(c.telegram.per_group), per_bot: s(c.telegram.per_bot) },
    whatsapp: { per_recipient: s(c.whatsapp.per_recipient), per_number: s(c.whatsapp.per_number) },
  };
}

/** The limits a send to this conversation is subject to (empty: not paced). */
export function paceKeys(c: PacingConfig, transport: string, accountId: string, conversationId: string): PaceKey[] {
  if (!c.enabled) return [];
  if (transport === "telegram") {
    const keys: PaceKey[] = [{ id: `telegram:${accountId}:chat:${conversationId}`, limit: c.telegram.per_chat, shared: false }];
    // Group and supergroup ids are negative (§1.4); the throttler plugin uses the same test.
    if (conversationId.startsWith("-"))
      keys.push({ id: `telegram:${accountId}:group:${conversationId}`, limit: c.telegram.per_group, shared: false });
    keys.push({ id: `telegram:${accountId}`, limit: c.telegram.per_bot, shared: true });
    return keys;
  }
  if (transport === "whatsapp")
    return [
      { id: `whatsapp:${accountId}:to:${conversationId}`, limit: c.whatsapp.per_recipient, shared: false },
      { id: `whatsapp:${accountId}`, limit: c.whatsapp.per_number, shared: true },
    ];
  return [];
}

/** A send the pacer held back: the retry policy reschedules it (`held_by_client`: nothing was sent, no attempt used). */
function held(transport: string, waitMs: number): SendOutcome {
  return {
    ok: false,
    code: "delivery_rate_limited",
    retryable: true,
    ambiguous: false,
    retry_after_ms: waitMs,
    status: null,
    detail: `paced: ${transport} limits leave no slot for ${waitMs} ms; rescheduled`,
  };
}

/** Wrap each paced transport's sender: one permit per chunk; answering a button press is not paced. */
export function createPacedSenders(
  senders: ReadonlyMap<Transport, ProviderSender>,
  pacer: Pacer,
  config: PacingConfig,
  clock: () => number,
): Map<Transport, ProviderSender> {
  const out = new Map<Transport, ProviderSender>();
  for (const [transport, inner] of senders) {
    if (!config.enabled || paceKeys(config, transport, "a", "1").length === 0) {
      out.set(transport, inner);
      continue;
    }
    const paced: ProviderSender = {
      transport: inner.transport,
      idempotent: inner.idempotent,
      async send(job: ChunkJob): Promise<SendOutcome> {
        if (job.action?.kind === "answer_callback") return inner.send(job);
        const t = job.target;
        const g = await pacer.acquire({ item: job.outbox_id, keys: paceKeys(config, t.transport, t.account_id, t.conversation_id) });
        if (!g.ok) return held(transport, Math.max(1, g.until - clock()));
        let outcome: SendOutcome | undefined;
        try {
          outcome = await inner.send(job);
          return outcome;
        } finally {
          // Only a provider's own 429 (a status) pauses the conversation; a client-side hold has no status.
          const wait =
            outcome && !outcome.ok && outcome.code === "delivery_rate_limited" && outcome.status !== null
              ? (outcome.retry_after_ms ?? 1000)
              : null;
          g.done(wait);
        }
      },
    };
    if (inner.typing) paced.typing = inner.typing.bind(inner);
    out.set(transport, paced);
  }
  return out;
}

/** The gate `createDelivery({ pacing })` asks per provider row, oldest first: null = send now, else defer until. */
export function createPacingGate(pacer: Pacer, config: PacingConfig) {
  return {
    defer(row: OutboxRow, now: number): number | null {
      const keys = paceKeys(config, row.transport, row.account_id, row.conversation_id);
      if (keys.length === 0) return null;
      const t = pacer.plan({ item: row.outbox_id, keys }, row.chunk_count, now);
      return t > now ? t : null;
    },
  };
}
