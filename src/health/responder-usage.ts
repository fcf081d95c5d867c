/**
 * @module Responder usage telemetry from persisted facts (PROVIDERS.md §9.7): per responder and transport, model
 * calls, input/output/cached tokens (the provider's own counts), time to first token and latency, reply records,
 * characters and chunks, errors by reason, jobs waiting, typing indicators per transport and, with a price table,
 * an estimated cost. One function feeds `tau status --json`, `/tau status`, `/metrics` and the runtime events.
 */
import type { TauConfig } from "../config/index.ts";
import type { Store } from "../store/index.ts";

export interface ResponderUsageRow {
  responder: string;
  transport: string;
  provider: string;
  model: string;
  calls: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  avg_ttft_ms: number | null;
  avg_latency_ms: number | null;
  max_latency_ms: number | null;
  /** From `telemetry.prices["<provider>:<model>"]`; null without a price. */
  cost_usd: number | null;
}

export interface ResponderUsageSummary {
  since_ms: number;
  usage: ResponderUsageRow[];
  /** Replies per responder and transport: `records` counts replies of at least `telemetry.min_response_chars`. */
  replies: { responder: string; transport: string; jobs: number; records: number; chars: number; chunks: number }[];
  /** Jobs and calls that ended in a failure reason. */
  errors: { responder: string; reason: string; count: number }[];
  jobs: { queued: number; running: number; oldest_age_ms: number | null };
  /** Typing indicators sent, failed and held (outbound switch, logout), per transport. */
  typing: Record<string, { sent: number; failed: number; held: number }>;
  totals: { calls: number; input_tokens: number; output_tokens: number; replies: number; cost_usd: number | null };
}

const OK_REASONS = new Set(["responder_replied", "responder_tool_calls", "responder_dry_run", "responder_no_reply"]);

export function responderUsage(
  store: Pick<Store, "responders" | "counters">,
  config: TauConfig,
  sinceMs: number,
  now: number,
): ResponderUsageSummary {
  const prices = config.telemetry.prices;
  const usage = store.responders.usageSince(sinceMs).map((u) => {
    const price = prices[`${u.provider}:${u.model}`];
    return {
      responder: u.responder,
      transport: u.transport,
      provider: u.provider,
      model: u.model,
      calls: u.calls,
      input_tokens: u.input_tokens,
      output_tokens: u.output_tokens,
      cached_tokens: u.cached_tokens,
      avg_ttft_ms: u.ttft_count ? Math.round(u.ttft_ms_sum / u.ttft_count) : null,
      avg_latency_ms: u.calls ? Math.round(u.latency_ms_sum / u.calls) : null,
      max_latency_ms: u.calls ? u.latency_ms_max : null,
      cost_usd: price ? round6((u.input_tokens * price.input_per_mtok + u.output_tokens * price.output_per_mtok) / 1e6) : null,
    };
  });
  const finished = store.responders.finishedSince(sinceMs, config.telemetry.min_response_chars);
  const replies = new Map<string, ResponderUsageSummary["replies"][number]>();
  const errors = new Map<string, number>();
  for (const f of finished) {
    const key = `${f.responder}\u0000${f.transport}`;
    const r = replies.get(key) ?? { responder: f.responder, transport: f.transport, jobs: 0, records: 0, chars: 0, chunks: 0 };
    r.jobs += f.jobs;
    r.records += f.records;
    r.chars += f.chars;
    r.chunks += f.chunks;
    replies.set(key, r);
    if (f.status === "failed" && f.reason)
      errors.set(`${f.responder}\u0000${f.reason}`, (errors.get(`${f.responder}\u0000${f.reason}`) ?? 0) + f.jobs);
  }
  // Failed calls that a retry later made good still count: they are what the provider did.
  for (const e of store.responders.errorsSince(sinceMs))
    if (!OK_REASONS.has(e.reason) && !errors.has(`${e.responder}\u0000${e.reason}`)) errors.set(`${e.responder}\u0000${e.reason}`, e.n);
  const open = store.responders.openCounts();
  const typing: ResponderUsageSummary["typing"] = {};
  for (const [k, v] of Object.entries(store.counters.all())) {
    const m = k.match(/^typing\.([a-z]+)\.(sent|failed|held)$/);
    if (m) (typing[m[1]!] ??= { sent: 0, failed: 0, held: 0 })[m[2] as "sent" | "failed" | "held"] = v;
  }
  const costs = usage.map((u) => u.cost_usd).filter((c): c is number => c !== null);
  return {
    since_ms: sinceMs,
    usage,
    replies: [...replies.values()],
    errors: [...errors].map(([k, count]) => {
      const [responder, reason] = k.split("\u0000") as [string, string];
      return { responder, reason, count };
    }),
    jobs: {
      queued: open.queued,
      running: open.running,
      oldest_age_ms: open.oldest_created_at_ms === null ? null : Math.max(0, now - open.oldest_created_at_ms),
    },
    typing,
    totals: {
      calls: usage.reduce((a, u) => a + u.calls, 0),
      input_tokens: usage.reduce((a, u) => a + u.input_tokens, 0),
      output_tokens: usage.reduce((a, u) => a + u.output_tokens, 0),
      replies: [...replies.values()].reduce((a, r) => a + r.jobs, 0),
      cost_usd: costs.length ? round6(costs.reduce((a, c) => a + c, 0)) : null,
    },
  };
}

const round6 = (n: number) => Math.round(n * 1e6) / 1e6;
