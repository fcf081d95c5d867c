/**
 * @module Responder jobs (queued → running → done/failed, in order per conversation), conversation memory per
 * session key, one row per model/webhook call (usage, rate limits, token budget) and recorded tool runs.
 */
import type { Db } from "./db.ts";

export interface ResponderJobRow {
  seq: number;
  job_id: string;
  event_id: string;
  responder: string;
  conversation_key: string;
  session_key: string;
  principal: string;
  role: string;
  envelope: string;
  route: string;
  reply_target: string;
  status: string;
  attempts: number;
  not_before_ms: number;
  reason: string | null;
  reply_chars: number;
  reply_chunks: number;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface HistoryRow {
  role: "user" | "assistant";
  content: string;
  at_ms: number;
}

export interface ResponderCallRow {
  job_id: string;
  responder: string;
  transport: string;
  provider: string;
  model: string;
  principal: string;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  ttft_ms: number | null;
  latency_ms: number;
  reason: string;
  at_ms: number;
}

/** Usage per responder and transport since a time (`tau status`, `/metrics`, the usage summary event). */
export interface UsageRow {
  responder: string;
  transport: string;
  provider: string;
  model: string;
  calls: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  ttft_ms_sum: number;
  ttft_count: number;
  latency_ms_sum: number;
  latency_ms_max: number;
}

/** Finished responder jobs, grouped (usage telemetry). */
export interface FinishedRow {
  responder: string;
  transport: string;
  reason: string | null;
  status: string;
  jobs: number;
  records: number;
  chars: number;
  chunks: number;
}

/** A UTC day: the daily token budget's period. */
const DAY_MS = 86_400_000;

export function createResponderStore(db: Db) {
  const q = {
    insertJob: db.prepare(
      "INSERT INTO responder_jobs (job_id, event_id, responder, conversation_key, session_key, principal, role, envelope, route, reply_target, status, created_at_ms, updated_at_ms) " +
        "VALUES (@job_id, @event_id, @responder, @conversation_key, @session_key, @principal, @role, @envelope, @route, @reply_target, 'queued', @now, @now) ON CONFLICT(job_id) DO NOTHING",
    ),
    // The head of each conversation's open jobs, if it is queued and due: per conversation, one at a time, in order.
    runnable: db.prepare<[number, number], ResponderJobRow>(
      "SELECT j.* FROM responder_jobs j WHERE j.status = 'queued' AND j.not_before_ms <= ? AND NOT EXISTS (" +
        "SELECT 1 FROM responder_jobs k WHERE k.status IN ('queued', 'running') AND k.conversation_key = j.conversation_key AND k.seq < j.seq) " +
        "ORDER BY j.seq LIMIT ?",
    ),
    // Most looks find nothing (jobs are claimed in their runner batch): this answers that from the index alone, where
    // `runnable` (a sort and a subquery per row) costs ten times as much even over no row.
    anyDue: db.prepare<[number], number>("SELECT 1 FROM responder_jobs WHERE status = 'queued' AND not_before_ms <= ? LIMIT 1").pluck(),
    job: db.prepare<[string], ResponderJobRow>("SELECT * FROM responder_jobs WHERE job_id = ?"),
    // An earlier job of the conversation still open (queued or running): the index responder_jobs_open answers it.
    openBefore: db
      .prepare<[string, number], number>(
        "SELECT 1 FROM responder_jobs WHERE status IN ('queued', 'running') AND conversation_key = ? AND seq < ? LIMIT 1",
      )
      .pluck(),
    jobsIn: db.prepare<[string], ResponderJobRow>("SELECT * FROM responder_jobs WHERE status = ? ORDER BY seq"),
    claim: db.prepare<[{ job_id: string; now: number }], { responder: string; principal: string; attempts: number }>(
      "UPDATE responder_jobs SET status = 'running', attempts = attempts + 1, updated_at_ms = @now WHERE job_id = @job_id AND status = 'queued' " +
        "RETURNING responder, principal, attempts",
    ),
    // A running job's row as its claim left it (nothing else writes a running job): the claim's time is updated_at_ms.
    running: db.prepare<[string], { responder: string; principal: string; attempts: number; updated_at_ms: number }>(
      "SELECT responder, principal, attempts, updated_at_ms FROM responder_jobs WHERE job_id = ? AND status = 'running'",
    ),
    release: db.prepare(
      "UPDATE responder_jobs SET status = 'queued', attempts = MAX(0, attempts + @delta), not_before_ms = @not_before, reason = @reason, updated_at_ms = @now " +
        "WHERE job_id = @job_id AND status = 'running'",
    ),
    finish: db.prepare(
      "UPDATE responder_jobs SET status = @status, reason = @reason, reply_chars = @chars, reply_chunks = @chunks, updated_at_ms = @now " +
        "WHERE job_id = @job_id AND status = 'running'",
    ),
    counts: db.prepare<[], { status: string; n: number }>(
      "SELECT status, COUNT(*) AS n FROM responder_jobs WHERE status IN ('queued', 'running') GROUP BY status",
    ),
    oldestOpen: db.prepare<[], { at: number | null }>(
      "SELECT MIN(created_at_ms) AS at FROM responder_jobs WHERE status IN ('queued', 'running')",
    ),
    finishedSince: db.prepare<[number, number], FinishedRow>(
      "SELECT responder, substr(conversation_key, 1, instr(conversation_key, ':') - 1) AS transport, reason, status, COUNT(*) AS jobs, " +
        "SUM(CASE WHEN reply_chars >= ? THEN 1 ELSE 0 END) AS records, SUM(reply_chars) AS chars, SUM(reply_chunks) AS chunks FROM responder_jobs " +
        "WHERE status IN ('done', 'failed') AND updated_at_ms >= ? GROUP BY responder, transport, reason, status ORDER BY responder, transport, reason",
    ),
    pruneJobs: db.prepare("DELETE FROM responder_jobs WHERE status IN ('done', 'failed') AND updated_at_ms < ?"),
    appendHistory: db.prepare(
      "INSERT INTO responder_history (session_key, conversation_key, principal, role, content, job_id, at_ms) " +
        "VALUES (@session_key, @conversation_key, @principal, @role, @content, @job_id, @at_ms)",
    ),
    recentHistory: db.prepare<[string, number, number], HistoryRow>(
      "SELECT role, content, at_ms FROM (SELECT seq, role, content, at_ms FROM responder_history WHERE session_key = ? AND at_ms >= ? " +
        "ORDER BY seq DESC LIMIT ?) AS recent ORDER BY seq",
    ),
    sessionsOf: db.prepare<[string, string, string], { session_key: string }>(
      "SELECT DISTINCT session_key FROM responder_history WHERE principal = ? AND substr(conversation_key, 1, length(?)) = ?",
    ),
    forgetSession: db.prepare("DELETE FROM responder_history WHERE session_key = ?"),
    pruneHistory: db.prepare("DELETE FROM responder_history WHERE at_ms < ?"),
    recordCall: db.prepare(
      "INSERT INTO responder_calls (job_id, responder, transport, provider, model, principal, input_tokens, output_tokens, cached_tokens, ttft_ms, latency_ms, reason, at_ms) " +
        "VALUES (@job_id, @responder, @transport, @provider, @model, @principal, @input_tokens, @output_tokens, @cached_tokens, @ttft_ms, @latency_ms, @reason, @at_ms)",
    ),
    // Jobs started per scope (`r:<responder>`, `p:<principal>`) and second (migration 020), kept as jobs are claimed:
    // a rate check sums at most the seconds of its window, however many jobs started in them.
    addStart: db.prepare<[string, number, number]>(
      "INSERT INTO responder_starts (scope, at_s, n) VALUES (?, ?, ?) ON CONFLICT(scope, at_s) DO UPDATE SET n = responder_starts.n + excluded.n",
    ),
    startsSince: db.prepare<[string, number], { n: number }>(
      "SELECT COALESCE(SUM(n), 0) AS n FROM responder_starts WHERE scope = ? AND at_s >= ?",
    ),
    pruneStarts: db.prepare<[number]>("DELETE FROM responder_starts WHERE at_s < ?"),
    // Tokens per responder and UTC day (migration 018), kept as calls are recorded: the daily budget reads one row.
    addDailyTokens: db.prepare(
      "INSERT INTO responder_usage_daily (responder, day_ms, tokens) VALUES (?, ?, ?) " +
        "ON CONFLICT(responder, day_ms) DO UPDATE SET tokens = responder_usage_daily.tokens + excluded.tokens",
    ),
    tokensOnDay: db.prepare<[string, number], { n: number }>(
      "SELECT tokens AS n FROM responder_usage_daily WHERE responder = ? AND day_ms = ?",
    ),
    pruneDailyTokens: db.prepare("DELETE FROM responder_usage_daily WHERE day_ms < ?"),
    usageSince: db.prepare<[number], UsageRow>(
      "SELECT responder, transport, provider, model, COUNT(*) AS calls, SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens, " +
        "SUM(cached_tokens) AS cached_tokens, COALESCE(SUM(ttft_ms), 0) AS ttft_ms_sum, COUNT(ttft_ms) AS ttft_count, " +
        "SUM(latency_ms) AS latency_ms_sum, MAX(latency_ms) AS latency_ms_max FROM responder_calls WHERE at_ms >= ? " +
        "GROUP BY responder, transport, provider, model ORDER BY responder, transport",
    ),
    errorsSince: db.prepare<[number], { responder: string; reason: string; n: number }>(
      "SELECT responder, reason, COUNT(*) AS n FROM responder_calls WHERE at_ms >= ? AND reason NOT IN ('responder_replied', 'responder_tool_calls') " +
        "GROUP BY responder, reason ORDER BY responder, reason",
    ),
    lastCall: db.prepare<[string], ResponderCallRow>("SELECT * FROM responder_calls WHERE provider = ? ORDER BY seq DESC LIMIT 1"),
    pruneCalls: db.prepare("DELETE FROM responder_calls WHERE at_ms < ?"),
    toolRun: db.prepare<[string, string], { result: string }>("SELECT result FROM responder_tool_runs WHERE job_id = ? AND call_key = ?"),
    putToolRun: db.prepare(
      "INSERT INTO responder_tool_runs (job_id, call_key, result, at_ms) VALUES (?, ?, ?, ?) ON CONFLICT(job_id, call_key) DO NOTHING",
    ),
    pruneToolRuns: db.prepare("DELETE FROM responder_tool_runs WHERE at_ms < ?"),
  };
  return {
    /** In the decision's unit of work; a replayed event inserts nothing (the id is derived from the event). */
    insertJob: (
      j: Omit<
        ResponderJobRow,
        "seq" | "status" | "attempts" | "not_before_ms" | "reason" | "reply_chars" | "reply_chunks" | "created_at_ms" | "updated_at_ms"
      >,
      now: number,
    ): boolean => q.insertJob.run({ ...j, now }).changes === 1,
    /** Queued, due jobs that head their conversation, oldest first. */
    runnable: (now: number, limit: number): ResponderJobRow[] => (q.anyDue.get(now) === undefined ? [] : q.runnable.all(now, limit)),
    job: (jobId: string): ResponderJobRow | undefined => q.job.get(jobId),
    jobsIn: (status: "queued" | "running" | "done" | "failed"): ResponderJobRow[] => q.jobsIn.all(status),
    /** True while an earlier job of `conversationKey` (lower `seq`) is queued or running: a later one must wait. */
    openBefore: (conversationKey: string, seq: number): boolean => q.openBefore.get(conversationKey, seq) !== undefined,
    /**
     * queued → running, counting the attempt — and the start, for its responder's rate limit and (a first attempt) its
     * principal's; true only for the caller that moved it.
     */
    claim: (jobId: string, now: number): boolean => {
      const r = q.claim.get({ job_id: jobId, now });
      if (!r) return false;
      const at = Math.floor(now / 1000);
      q.addStart.run(`r:${r.responder}`, at, 1);
      if (Number(r.attempts) === 1) q.addStart.run(`p:${r.principal}`, at, 1);
      return true;
    },
    /**
     * running → queued, due at `notBefore`; `attemptsDelta` -1 gives back an attempt that was cut off on purpose (kill
     * switch, a responder at its limit): its start no longer counts against the rate limits either.
     */
    release: (jobId: string, now: number, notBefore: number, reason: string | null, attemptsDelta = 0): boolean => {
      const before = attemptsDelta < 0 ? q.running.get(jobId) : undefined;
      if (q.release.run({ job_id: jobId, now, not_before: notBefore, reason, delta: attemptsDelta }).changes !== 1) return false;
      if (before && Number(before.attempts) > 0) {
        const at = Math.floor(Number(before.updated_at_ms) / 1000);
        q.addStart.run(`r:${before.responder}`, at, -1);
        if (Number(before.attempts) + attemptsDelta <= 0) q.addStart.run(`p:${before.principal}`, at, -1);
      }
      return true;
    },
    /** running → done | failed with the reply's size; true only for the caller that moved it. */
    finish: (jobId: string, status: "done" | "failed", reason: string, chars: number, chunks: number, now: number): boolean =>
      q.finish.run({ job_id: jobId, status, reason, chars, chunks, now }).changes === 1,
    openCounts(): { queued: number; running: number; oldest_created_at_ms: number | null } {
      const out = { queued: 0, running: 0, oldest_created_at_ms: q.oldestOpen.get()?.at ?? null };
      for (const r of q.counts.all()) out[r.status as "queued" | "running"] = r.n;
      return out;
    },
    /** Finished jobs since a time by responder, transport and reason; `records` counts replies of at least `minChars`. */
    finishedSince: (sinceMs: number, minChars: number): FinishedRow[] => q.finishedSince.all(minChars, sinceMs),
    appendHistory: (r: {
      session_key: string;
      conversation_key: string;
      principal: string;
      role: "user" | "assistant";
      content: string;
      job_id: string;
      at_ms: number;
    }) => void q.appendHistory.run(r),
    /** The last `limit` turns of a session no older than `sinceMs`, oldest first. */
    recentHistory: (sessionKey: string, limit: number, sinceMs: number): HistoryRow[] =>
      limit > 0 ? q.recentHistory.all(sessionKey, sinceMs, limit) : [],
    /**
     * Delete the history of every session this principal spoke in from this conversation (any thread of it); returns
     * the sessions cleared.
     */
    forget(principal: string, transport: string, conversationId: string): string[] {
      const sessions = q.sessionsOf
        .all(principal, `${transport}:${conversationId}:`, `${transport}:${conversationId}:`)
        .map((r) => r.session_key);
      for (const s of sessions) q.forgetSession.run(s);
      return sessions;
    },
    /** Record a call and add its tokens to its responder's day (call it inside the unit of work that holds the call). */
    recordCall: (r: ResponderCallRow): void => {
      q.recordCall.run(r);
      const tokens = r.input_tokens + r.output_tokens;
      if (tokens > 0) q.addDailyTokens.run(r.responder, r.at_ms - (r.at_ms % DAY_MS), tokens);
    },
    /**
     * First attempts of `principal`'s jobs started since a time (to the second: the second `sinceMs` falls in counts
     * whole), at most `cap` (a rate limit + 1 tells over from at).
     */
    startedByPrincipalSince: (principal: string, sinceMs: number, cap: number): number =>
      Math.min(cap, Number(q.startsSince.get(`p:${principal}`, Math.floor(sinceMs / 1000))?.n ?? 0)),
    /** Attempts of `responder`'s jobs started since a time (to the second), at most `cap`. */
    startedByResponderSince: (responder: string, sinceMs: number, cap: number): number =>
      Math.min(cap, Number(q.startsSince.get(`r:${responder}`, Math.floor(sinceMs / 1000))?.n ?? 0)),
    /** Forget per-second start totals before `beforeMs` (no rate window reaches them). */
    pruneStarts: (beforeMs: number): void => void q.pruneStarts.run(Math.floor(beforeMs / 1000)),
    /** Input + output tokens a responder used on the UTC day that holds `atMs` (the daily budget; the store picks the day). */
    tokensOnDay: (responder: string, atMs: number): number => Number(q.tokensOnDay.get(responder, atMs - (atMs % DAY_MS))?.n ?? 0),
    usageSince: (sinceMs: number): UsageRow[] => q.usageSince.all(sinceMs),
    errorsSince: (sinceMs: number) => q.errorsSince.all(sinceMs),
    lastCallOf: (provider: string): ResponderCallRow | undefined => q.lastCall.get(provider),
    toolRun: (jobId: string, callKey: string): string | null => q.toolRun.get(jobId, callKey)?.result ?? null,
    putToolRun: (jobId: string, callKey: string, result: string, now: number) => void q.putToolRun.run(jobId, callKey, result, now),
    /** Drop finished jobs, history, calls and tool runs older than `beforeMs`. */
    prune(beforeMs: number): void {
      q.pruneJobs.run(beforeMs);
      q.pruneHistory.run(beforeMs);
      q.pruneCalls.run(beforeMs);
      // A day's total stays while any of its calls may: kept from the day `beforeMs` falls in.
      q.pruneDailyTokens.run(beforeMs - (beforeMs % DAY_MS));
      q.pruneToolRuns.run(beforeMs);
    },
  };
}

export type ResponderStore = ReturnType<typeof createResponderStore>;
