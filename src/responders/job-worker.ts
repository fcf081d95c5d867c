/**
 * @module The responder worker: runs responder jobs after their decision committed. Per conversation one job at a
 * time, in order; conversations concurrently up to `responder_concurrency`. A job is marked running (attempt + 1,
 * committed) before its model or webhook call, and its reply, history and status commit together — so a reply is
 * written exactly once, and a kill -9 mid-call repeats that call at most once (a job found running at startup with
 * two attempts behind it fails `responder_interrupted`). The `responders` kill switch holds jobs and aborts calls in
 * flight within a second; they go back to the queue with the attempt given back. Dry-run makes no call: it records the
 * exact request. Typing indicators run while a job works.
 */
import type { Envelope } from "../contracts/envelope.ts";
import type { RouteInfo } from "../contracts/event-context.ts";
import type { Role } from "../contracts/decision.ts";
import type { OutboundMode, ReplyIntent, ReplyTarget } from "../contracts/outbound.ts";
import { runnerStateKey, type LlmResponderConfig, type ResponderConfig } from "../config/index.ts";
import type { Services } from "../capabilities/services.ts";
import type { Logger } from "../log.ts";
import type { DryRunBatch } from "../outbound/deliver.ts";
import { outboxIdFor, queueReplies, type QueuedReply } from "../outbound/outbox.ts";
import { chunkText, effectiveLimit } from "../outbound/render.ts";
import type { ResponderJobRow } from "../store/index.ts";
import type { ModelClient } from "./llm/model-client.ts";
import { failureText, firstRequest, runModelTurn, type CallRecord } from "./llm/model-turn.ts";
import { toolSpecsFor } from "./llm/tools.ts";
import { callWebhook, webhookRequest, type WebhookResult } from "./webhook.ts";
import { responderUsage } from "../health/responder-usage.ts";

/** A typing indicator for one conversation (best effort; its outcome only counts). */
export type TypingPort = (target: ReplyTarget, inboundMessageId: string | null) => Promise<{ ok: boolean }>;

export interface ResponderWorkerDeps {
  services: Services;
  /** Configured asynchronous responders by name. */
  responders: ReadonlyMap<string, ResponderConfig>;
  /** The model client of an llm responder (created once, SDK loaded on first use). */
  clientFor(name: string): Promise<ModelClient>;
  /** The HMAC key of a webhook responder; null when missing (the job fails `responder_webhook_key_missing`). */
  webhookKey(name: string): string | null;
  mode: OutboundMode;
  /** Dry-run replies and request records written with the job's commit. */
  dryRunBatch?: () => DryRunBatch;
  typing?: { send: TypingPort; refreshMs(transport: string): number | null; blocked?(transport: string): string | null };
  /**
   * Understand the attachments of a message before the model answers (media understanding, wired by the app); returns
   * context lines for the model. Aborted with the job (kill switch, shutdown).
   */
  understandMedia?(
    env: Envelope,
    ctx: {
      client: ModelClient;
      model: string;
      signal: AbortSignal;
      onCall(r: { usage: CallRecord["usage"]; latency_ms: number; reason: string }): void;
    },
  ): Promise<{ context: string }>;
  /** True while the `responders` kill switch is on. */
  silenced(): boolean;
  /** Replies were queued: wake whoever delivers the outbox. */
  onReplies?(): void;
  /**
   * Provider mode: deliver a finished job's replies at once, right after its commit (`Delivery.deliverNow`), instead
   * of waiting for the runner's next pass; resolves true when some were left to that pass (`onReplies` then wakes it).
   */
  deliverNow?(outboxIds: readonly string[]): Promise<boolean>;
  logger: Logger;
  concurrency: number;
  /** Backoff of retryable failures without a server-given wait. */
  backoff?: { baseMs: number; maxMs: number };
}

const RATE_WINDOW_MS = 60_000;
/** How often running jobs look at the kill switch (the gate caches it for 500 ms: off → stopped well within 1 s). */
const SWITCH_POLL_MS = 200;
/** Usage and lifecycle runtime events at most this often while responders are busy (and when a drain ends). */
const TELEMETRY_EVERY_MS = 60_000;
/**
 * Direct deliveries of finished jobs' replies out at once, at most (each is one `sending` and one result commit for the
 * replies it carries); past it, replies go to the runner's pass, which sends many per commit (backlogs, bursts).
 */
const DIRECT_MAX_OUT = 2;
/** Retention pruning runs this often in a long-running worker. */
const PRUNE_EVERY_MS = 3_600_000;

interface Running {
  job: ResponderJobRow;
  abort: AbortController;
  /** Why it was aborted on purpose (kill switch, shutdown), so the job goes back to the queue. */
  held: string | null;
  done: Promise<void>;
}

export function createResponderWorker(deps: ResponderWorkerDeps) {
  const { services } = deps;
  const { store, config, clock } = services;
  const running = new Map<string, Running>();
  const busyConversations = new Set<string>();
  const backoff = deps.backoff ?? { baseMs: 1000, maxMs: 60_000 };
  let wakeLoop: (() => void) | null = null;
  let switchTimer: ReturnType<typeof setInterval> | null = null;
  /** Typing calls still out: waited for when a drain or run ends, so none outlives the store. */
  const typingOut = new Set<Promise<void>>();
  /** Direct deliveries of finished jobs' replies still out (`deps.deliverNow`): waited for like typing calls. */
  const deliveriesOut = new Set<Promise<void>>();
  /**
   * Jobs claimed inside a runner batch's unit of work (`claimInBatch`) and their conversations, started by `kick()`
   * once that batch committed.
   */
  const claimedInBatch = new Map<string, ResponderJobRow>();
  const claimedConversations = new Set<string>();
  let lastTelemetryAt = clock();
  let finishedSinceTelemetry = 0;

  /**
   * `telemetry_usage_summary_emitted` (usage since the last one; `telemetry.usage_summary`) and
   * `telemetry_lifecycle_emitted` (typing indicators, jobs waiting) as runtime events, when jobs finished since.
   */
  function emitTelemetry(force: boolean): void {
    const now = clock();
    if (finishedSinceTelemetry === 0 || (!force && now - lastTelemetryAt < TELEMETRY_EVERY_MS)) return;
    store.atomically(flushPending);
    const summary = responderUsage(store, config, lastTelemetryAt, now);
    const health = (JSON.parse(store.kv.get(runnerStateKey(config)) ?? "{}") as { health?: string }).health ?? "unknown";
    store.atomically(() => {
      if (config.telemetry.usage_summary)
        store.runner.insertRuntimeEvent(now, "responder.usage", health, ["telemetry_usage_summary_emitted"], { ...summary });
      store.runner.insertRuntimeEvent(now, "responder.lifecycle", health, ["telemetry_lifecycle_emitted"], {
        typing_presence: config.telemetry.typing_presence,
        typing: summary.typing,
        jobs: summary.jobs,
        finished: finishedSinceTelemetry,
      });
    });
    lastTelemetryAt = now;
    finishedSinceTelemetry = 0;
  }

  const parse = <T>(s: string): T => JSON.parse(s) as T;

  /** Finish a running job in one unit of work: status, history, replies (exactly once: the status move guards it). */
  function finish(
    job: ResponderJobRow,
    status: "done" | "failed",
    reason: string,
    text: string,
    notices: string[],
    opts: { history?: boolean; record?: (outboxId: string) => Parameters<DryRunBatch["addRecord"]>[0] } = {},
  ): void {
    const now = clock();
    const target = parse<ReplyTarget>(job.reply_target);
    const intents: ReplyIntent[] = [];
    if (text) intents.push({ purpose: "responder", text });
    for (const n of notices) intents.push({ purpose: "approval", text: n });
    const limit = effectiveLimit(target.transport, config.outbound.max_chars);
    const chars = text ? [...text].length : 0;
    const chunks = text ? chunkText(text, limit).length : 0;
    const dryRun = deps.mode === "dry-run" ? deps.dryRunBatch?.() : undefined;
    const queued: QueuedReply[] = [];
    let wrote = false;
    try {
      store.atomically(() => {
        flushPending();
        if (!store.responders.finish(job.job_id, status, reason, chars, chunks, now)) return;
        wrote = true;
        finishedSinceTelemetry += 1;
        if (opts.history && text) {
          const env = parse<Envelope>(job.envelope);
          const row = {
            session_key: job.session_key,
            conversation_key: job.conversation_key,
            principal: job.principal,
            job_id: job.job_id,
          };
          store.responders.appendHistory({ ...row, role: "user", content: env.text, at_ms: now });
          store.responders.appendHistory({ ...row, role: "assistant", content: text, at_ms: now });
        }
        const idFor = (i: number) => outboxIdFor(`responder:${job.job_id}`, i, now);
        if (opts.record && dryRun) dryRun.addRecord(opts.record(idFor(0)));
        if (intents.length)
          queueReplies(
            store,
            job.event_id,
            target,
            intents,
            { mode: deps.mode, maxChars: config.outbound.max_chars, now, dryRun },
            idFor,
            queued,
          );
        store.counters.bump(`responders.${reason}`);
        dryRun?.write();
      });
    } catch (err) {
      dryRun?.abort();
      throw err;
    }
    if (!wrote || !intents.length) return;
    // Under a burst (direct deliveries already out) the runner's pass sends them: it batches many replies per commit.
    if (deps.mode === "provider" && deps.deliverNow && queued.length && (directIds.length > 0 || deliveriesOut.size < DIRECT_MAX_OUT))
      deliverDirectly(queued.map((q) => q.outbox_id));
    else deps.onReplies?.();
  }

  /** Replies of jobs finished since the last direct delivery began (sent together at the next `setImmediate`). */
  let directIds: string[] = [];

  /**
   * Send a finished job's replies now, from here, not after a wake-up and a full runner cycle. At the next
   * `setImmediate`: the jobs that finish in one turn of the event loop go out together (one `sending` commit and one
   * result commit for all of them, as in a runner pass), and a refusal that finishes inside `pump()`'s unit of work is
   * sent only after that unit ended (a row whose unit of work rolled back is not found). Rows the delivery cannot take
   * now (an earlier reply of the conversation pending, a runner pass sending in that conversation) and failures go to
   * the runner.
   */
  function deliverDirectly(ids: string[]): void {
    const first = directIds.length === 0;
    directIds.push(...ids);
    if (!first) return;
    const p: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => {
        const batch = directIds;
        directIds = [];
        return deps.deliverNow!(batch);
      })
      .then(
        (leftSome) => {
          if (leftSome) deps.onReplies?.();
        },
        (err: unknown) => {
          deps.logger.warn(
            { event: "responder.deliver_failed", err: (err as Error)?.message },
            "direct delivery failed; the runner delivers",
          );
          deps.onReplies?.();
        },
      )
      .finally(() => deliveriesOut.delete(p));
    deliveriesOut.add(p);
  }

  /** Refuse before any call (rate limit, budget): a short reply and an audit record. */
  function refuse(job: ResponderJobRow, reason: string, text: string, detail: Record<string, unknown>): void {
    finish(job, "failed", reason, text, []);
    services.audit({
      actor: job.principal,
      surface: "agent",
      action: "responder",
      target: job.responder,
      args: { job_id: job.job_id, ...detail },
      outcome: "denied",
      reason_code: reason,
    });
  }

  /**
   * Call records and typing counts wait in memory and are written with the next unit of work of the worker (a job's
   * finish or release): a commit is an fsync, and one per model call or typing refresh would stall the reply path.
   */
  const pendingCalls: Parameters<typeof store.responders.recordCall>[0][] = [];
  const pendingCounters = new Map<string, number>();
  function flushPending(): void {
    for (const c of pendingCalls.splice(0)) store.responders.recordCall(c);
    for (const [k, n] of pendingCounters) store.counters.bump(k, n);
    pendingCounters.clear();
  }
  /** Release a running job back to the queue, with what waits in memory, in one unit of work. */
  function release(jobId: string, notBefore: number, reason: string | null, attemptsDelta = 0): boolean {
    return store.atomically(() => {
      flushPending();
      return store.responders.release(jobId, clock(), notBefore, reason, attemptsDelta);
    });
  }

  function recordCall(job: ResponderJobRow, cfg: ResponderConfig, r: CallRecord): void {
    const target = parse<ReplyTarget>(job.reply_target);
    pendingCalls.push({
      job_id: job.job_id,
      responder: job.responder,
      transport: target.transport,
      provider: cfg.kind === "llm" ? cfg.provider : "webhook",
      model: cfg.kind === "llm" ? cfg.model : cfg.url,
      principal: job.principal,
      input_tokens: r.usage.inputTokens,
      output_tokens: r.usage.outputTokens,
      cached_tokens: r.usage.cachedInputTokens,
      ttft_ms: r.ttft_ms,
      latency_ms: Math.max(0, Math.round(r.latency_ms)),
      reason: r.reason,
      at_ms: clock(),
    });
  }

  /** Keep a typing indicator up while `work` runs (provider mode only; `telemetry.typing_presence`). */
  async function withTyping<T>(job: ResponderJobRow, work: () => Promise<T>): Promise<T> {
    const t = deps.typing;
    if (!t || deps.mode !== "provider" || !config.telemetry.typing_presence) return work();
    const target = parse<ReplyTarget>(job.reply_target);
    const count = (outcome: "sent" | "failed" | "held") => {
      const k = `typing.${target.transport}.${outcome}`;
      pendingCounters.set(k, (pendingCounters.get(k) ?? 0) + 1);
    };
    const send = () => {
      // Typing is output too: held with the replies while the outbound or transport switch is on, or logged out.
      if (t.blocked?.(target.transport)) return count("held");
      const p: Promise<void> = t
        .send(target, target.reply_to)
        .then(
          (o) => count(o.ok ? "sent" : "failed"),
          () => count("failed"),
        )
        .finally(() => typingOut.delete(p));
      typingOut.add(p);
    };
    // The work (the model or webhook request) starts first and typing right after it, on the next turn of the event
    // loop: building the typing request costs the thread about a millisecond, which the user's answer need not wait for.
    const first = setImmediate(send);
    const every = t.refreshMs(target.transport);
    const timer = every ? setInterval(send, every) : null;
    try {
      return await work();
    } finally {
      clearImmediate(first);
      if (timer) clearInterval(timer);
    }
  }

  function describeRecord(job: ResponderJobRow, request: { url: string; headers: Record<string, string>; body: unknown }) {
    return (outboxId: string) => ({
      receipt_id: `dryrun:${outboxId}:request`,
      outbox_id: outboxId,
      event_id: job.event_id,
      chunk: -1 as const,
      kind: "responder_request" as const,
      responder: job.responder,
      job_id: job.job_id,
      transport: parse<ReplyTarget>(job.reply_target).transport,
      status: "dry_run" as const,
      reason: "responder_dry_run" as const,
      request: { method: "POST" as const, url: request.url, headers: request.headers, body: request.body },
    });
  }

  async function runLlm(job: ResponderJobRow, cfg: LlmResponderConfig, r: Running): Promise<void> {
    const env = parse<Envelope>(job.envelope);
    const now = clock();
    const history = store.responders.recentHistory(job.session_key, cfg.history_messages, now - cfg.history_max_age_ms);
    const tools = toolSpecsFor(cfg.tools, (id) => services.registry.get(id));
    const userText = userTextOf(env);
    const client = await deps.clientFor(job.responder);
    if (deps.mode === "dry-run") {
      const described = client.describe(firstRequest(cfg, tools, history, userText));
      const text = `(dry-run) ${job.responder} would ask ${cfg.provider} ${cfg.model} (the question${history.length ? ` and ${history.length} earlier message(s)` : ""}; ${cfg.max_tool_steps > 0 ? tools.length : 0} tool(s)); no model call was made.`;
      finish(job, "done", "responder_dry_run", text, [], { record: describeRecord(job, described) });
      return;
    }
    const target = parse<ReplyTarget>(job.reply_target);
    const result = await withTyping(job, async () => {
      let text = userText;
      if (env.attachments.length > 0 && deps.understandMedia) {
        const media = await deps.understandMedia(env, {
          client,
          model: cfg.model,
          signal: r.abort.signal,
          onCall: (c) => recordCall(job, cfg, { usage: c.usage, ttft_ms: null, latency_ms: c.latency_ms, reason: c.reason }),
        });
        text = `${env.text}${env.text ? "\n\n" : ""}${media.context}`;
      }
      return runModelTurn({
        config: cfg,
        client,
        tools,
        history,
        userText: text,
        actor: {
          principal: job.principal,
          role: job.role as Role,
          origin: { transport: target.transport, conversation_id: target.conversation_id },
          replyTarget: job.reply_target,
          responder: job.responder,
          model: cfg.model,
          jobId: job.job_id,
        },
        services,
        signal: r.abort.signal,
        clock,
        onCall: (c) => recordCall(job, cfg, c),
      });
    });
    settle(job, cfg, r, result);
  }

  async function runWebhook(job: ResponderJobRow, cfg: Extract<ResponderConfig, { kind: "webhook" }>, r: Running): Promise<void> {
    const env = parse<Envelope>(job.envelope);
    const route = parse<RouteInfo>(job.route);
    if (deps.mode === "dry-run") {
      const req = webhookRequest(cfg, job, env, route, null);
      const text = `(dry-run) ${job.responder} would POST this message to ${cfg.url}; no call was made.`;
      finish(job, "done", "responder_dry_run", text, [], { record: describeRecord(job, { ...req, body: JSON.parse(req.body) }) });
      return;
    }
    const key = deps.webhookKey(job.responder);
    if (key === null)
      return refuse(job, "responder_webhook_key_missing", failureText("responder_webhook_key_missing"), { secret: cfg.signing_secret });
    const started = clock();
    const res: WebhookResult = await withTyping(job, () =>
      callWebhook(webhookRequest(cfg, job, env, route, key), cfg.timeout_ms, r.abort.signal),
    );
    recordCall(job, cfg, {
      usage: { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 },
      ttft_ms: null,
      latency_ms: clock() - started,
      reason: res.reason,
    });
    settle(job, cfg, r, {
      ok: res.ok,
      reason: res.reason,
      text: res.ok ? res.text : failureText(res.reason),
      notices: [],
      retryable: res.retryable,
      retryAfterMs: res.retryAfterMs,
    });
  }

  /** Done, back to the queue (held or retryable with attempts left), or failed with a short reply. */
  function settle(
    job: ResponderJobRow,
    cfg: ResponderConfig,
    r: Running,
    res: { ok: boolean; reason: string; text: string; notices: string[]; retryable: boolean; retryAfterMs: number | null },
  ): void {
    if (res.ok) return finish(job, "done", res.reason, res.text, res.notices, { history: true });
    if (r.held) {
      // Stopped on purpose (kill switch, shutdown): the call did not finish; it runs again later, attempt given back.
      release(job.job_id, 0, r.held, -1);
      return;
    }
    if (res.retryable && job.attempts < cfg.max_attempts) {
      const wait = res.retryAfterMs ?? Math.min(backoff.maxMs, backoff.baseMs * 2 ** (job.attempts - 1));
      release(job.job_id, clock() + Math.min(wait, backoff.maxMs), res.reason);
      return;
    }
    deps.logger.warn(
      { event: "responder.failed", job_id: job.job_id, responder: job.responder, reason: res.reason },
      "responder job failed",
    );
    finish(job, "failed", res.reason, res.text, res.notices);
  }

  /** Checks before a job may start; false when it was refused or deferred. Runs synchronously, before the claim. */
  function admit(job: ResponderJobRow, cfg: ResponderConfig, now: number): "run" | "deferred" | "refused" {
    const limits = cfg.rate_limit;
    if (!store.responders.claim(job.job_id, now)) return "deferred";
    if (
      store.responders.startedByResponderSince(job.responder, now - RATE_WINDOW_MS, limits.per_responder_per_minute + 1) >
      limits.per_responder_per_minute
    ) {
      // The responder as a whole is at its limit: the job waits (not refused), its attempt given back.
      store.responders.release(
        job.job_id,
        now,
        now + 1000,
        job.reason === "responder_interrupted" ? job.reason : "responder_rate_deferred",
        -1,
      );
      return "deferred";
    }
    job.attempts += 1;
    if (
      job.attempts === 1 &&
      store.responders.startedByPrincipalSince(job.principal, now - RATE_WINDOW_MS, limits.per_actor_per_minute + 1) >
        limits.per_actor_per_minute
    ) {
      refuse(job, "responder_rate_limited", "You are sending messages faster than I can answer. Please wait a minute.", {
        per_actor_per_minute: limits.per_actor_per_minute,
      });
      return "refused";
    }
    if (cfg.kind === "llm" && cfg.daily_token_budget > 0) {
      const used = store.responders.tokensOnDay(job.responder, now);
      if (used >= cfg.daily_token_budget) {
        refuse(
          job,
          "responder_budget_exceeded",
          "I have used up today's answer budget. An operator can raise it; please try again tomorrow.",
          {
            daily_token_budget: cfg.daily_token_budget,
            used,
          },
        );
        return "refused";
      }
    }
    return "run";
  }

  /**
   * Whether a queued job (not claimed yet) would pass `admit` untouched: the same limits, read before the claim (so
   * `>=`: the job itself is not counted yet). False only means "let `pump()` decide" (defer or refuse).
   */
  function withinLimits(job: ResponderJobRow, cfg: ResponderConfig, now: number): boolean {
    const limits = cfg.rate_limit;
    if (
      store.responders.startedByResponderSince(job.responder, now - RATE_WINDOW_MS, limits.per_responder_per_minute + 1) >=
      limits.per_responder_per_minute
    )
      return false;
    if (
      job.attempts === 0 &&
      store.responders.startedByPrincipalSince(job.principal, now - RATE_WINDOW_MS, limits.per_actor_per_minute + 1) >=
        limits.per_actor_per_minute
    )
      return false;
    if (cfg.kind === "llm" && cfg.daily_token_budget > 0) return store.responders.tokensOnDay(job.responder, now) < cfg.daily_token_budget;
    return true;
  }

  function start(job: ResponderJobRow): void {
    const cfg = deps.responders.get(job.responder);
    const now = clock();
    if (!cfg) {
      if (store.responders.claim(job.job_id, now)) finish(job, "failed", "responder_unknown", "", []);
      return;
    }
    if (admit(job, cfg, now) !== "run") return;
    launch(job, cfg);
  }

  /** Run a claimed job (its attempt committed): the model or webhook call, then its finish or release. */
  function launch(job: ResponderJobRow, cfg: ResponderConfig): void {
    const r: Running = { job, abort: new AbortController(), held: null, done: Promise.resolve() };
    running.set(job.job_id, r);
    busyConversations.add(job.conversation_key);
    r.done = (async () => {
      try {
        if (cfg.kind === "llm") await runLlm(job, cfg, r);
        else await runWebhook(job, cfg, r);
      } catch (err) {
        deps.logger.error({ event: "responder.crashed", job_id: job.job_id, err: (err as Error).message }, "responder job threw");
        if (r.held) release(job.job_id, 0, r.held, -1);
        else finish(job, "failed", "responder_failed", failureText("responder_failed"), []);
      } finally {
        running.delete(job.job_id);
        busyConversations.delete(job.conversation_key);
        wakeLoop?.();
      }
    })();
  }

  /** Start the jobs claimed in a committed batch, then as many runnable jobs as there are free slots; returns how many. */
  function pump(): number {
    startClaimed();
    if (deps.silenced()) return 0;
    const free = deps.concurrency - running.size;
    if (free <= 0) return 0;
    // Read first: most pumps find nothing (jobs are claimed in their batch), and need no write lock.
    const runnable = store.responders
      .runnable(clock(), free + busyConversations.size)
      .filter((job) => !busyConversations.has(job.conversation_key) && !running.has(job.job_id) && !claimedInBatch.has(job.job_id));
    if (runnable.length === 0) return 0;
    // One unit of work for every claim of this round (each job's async part starts after its first await; a claim
    // moves only a job still queued).
    return store.atomically(() => {
      let started = 0;
      for (const job of runnable) {
        if (started >= free) break;
        if (busyConversations.has(job.conversation_key)) continue;
        start(job);
        if (running.has(job.job_id)) started += 1;
      }
      return started;
    });
  }

  /**
   * Start the jobs a runner batch claimed (`claimInBatch`) once it committed: no claim commit, no loop turn. A claim
   * whose batch rolled back (the row is missing, queued, or holds another attempt) is dropped; the job, if its event is
   * processed again, is claimed again then.
   */
  function startClaimed(): void {
    if (claimedInBatch.size === 0) return;
    const claimed = [...claimedInBatch.values()];
    claimedInBatch.clear();
    claimedConversations.clear();
    for (const job of claimed) {
      if (running.has(job.job_id)) continue;
      const row = store.responders.job(job.job_id);
      const cfg = deps.responders.get(job.responder);
      if (!row || !cfg || row.status !== "running" || row.attempts !== job.attempts) continue;
      // The kill switch came on since the batch: held, its attempt given back (no call made).
      if (deps.silenced()) release(row.job_id, 0, "responders_kill_switch", -1);
      else launch(row, cfg);
    }
  }

  /** Abort every call in flight; their jobs go back to the queue with `reason`. */
  function holdAll(reason: string): void {
    for (const r of running.values()) {
      if (r.held) continue;
      r.held = reason;
      r.abort.abort(new Error(reason));
    }
  }

  function watchSwitch(): void {
    switchTimer ??= setInterval(() => {
      if (running.size > 0 && deps.silenced()) holdAll("responders_kill_switch");
    }, SWITCH_POLL_MS);
    switchTimer.unref?.();
  }

  /** Finished jobs, calls, tool runs, media records and history past their retention (bounded tables). */
  function prune(): void {
    const keep = Math.max(
      config.runner.dedupe_retention_ms,
      ...[...deps.responders.values()].map((r) => (r.kind === "llm" ? r.history_max_age_ms : 0)),
    );
    const before = clock() - keep;
    store.atomically(() => {
      store.responders.prune(before);
      store.responders.pruneStarts(clock() - 2 * RATE_WINDOW_MS);
      store.media.prune(before);
    });
  }

  function stopWatching(): void {
    if (switchTimer) clearInterval(switchTimer);
    switchTimer = null;
  }

  function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal?.removeEventListener("abort", done);
        wakeLoop = null;
        resolve();
      }
      wakeLoop = done;
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  return {
    /** At startup: a job left running was cut off by a crash. It runs again once; after two cut-off attempts it fails. */
    recover(): { requeued: number; failed: number } {
      let requeued = 0;
      let failed = 0;
      for (const job of store.responders.jobsIn("running")) {
        // Cut off once already (recovered with this reason): this was the one repeat; never a third call.
        if (job.reason === "responder_interrupted") {
          finish(job, "failed", "responder_interrupted", "I was interrupted twice while answering this; please ask again.", []);
          failed += 1;
        } else if (store.responders.release(job.job_id, clock(), 0, "responder_interrupted")) requeued += 1;
      }
      return { requeued, failed };
    },
    /**
     * Inside the runner batch's unit of work, right after a job was inserted: claim it there (queued → running, its
     * first attempt counted in the batch's own commit) when it could start at once — the kill switch off, a free slot,
     * nothing earlier open in its conversation, within the rate limits and budget — so `kick()` after that commit
     * starts its call with no claim commit of its own. Otherwise it stays queued for `pump()` (which defers or refuses).
     * A kill -9 before the call leaves it running: `recover()` runs it again, as any cut-off attempt.
     */
    claimInBatch(jobId: string, now: number): boolean {
      if (deps.silenced() || running.size + claimedInBatch.size >= deps.concurrency) return false;
      const job = store.responders.job(jobId);
      if (!job || job.status !== "queued" || job.not_before_ms > now) return false;
      const cfg = deps.responders.get(job.responder);
      if (!cfg || busyConversations.has(job.conversation_key) || claimedConversations.has(job.conversation_key)) return false;
      if (store.responders.openBefore(job.conversation_key, job.seq) || !withinLimits(job, cfg, now)) return false;
      if (!store.responders.claim(job.job_id, now)) return false;
      job.status = "running";
      job.attempts += 1;
      job.updated_at_ms = now;
      claimedInBatch.set(job.job_id, job);
      claimedConversations.add(job.conversation_key);
      return true;
    },
    /** New jobs may be queued (after a runner commit): start those claimed in it, then what else can start now. */
    kick(): void {
      pump();
      wakeLoop?.();
    },
    /** `tau process --once`: run until no job can run (held ones stay queued; retries due within `maxWaitMs` are waited for). */
    async drain(maxWaitMs = 30_000): Promise<void> {
      watchSwitch();
      try {
        for (;;) {
          pump();
          if (running.size > 0) {
            await Promise.race([...running.values()].map((r) => r.done));
            continue;
          }
          if (deps.silenced()) return;
          const next = store.responders
            .jobsIn("queued")
            .reduce<number | null>((m, j) => (m === null ? j.not_before_ms : Math.min(m, j.not_before_ms)), null);
          if (next === null) return;
          const wait = next - clock();
          if (wait > maxWaitMs) return;
          await sleep(Math.max(10, wait));
        }
      } finally {
        stopWatching();
        await Promise.allSettled([...typingOut, ...deliveriesOut]);
        store.atomically(flushPending);
        emitTelemetry(true);
      }
    },
    /** Until `signal` aborts: start jobs as slots free up, look again every `pollMs`; on abort, hold what runs. */
    async run(signal: AbortSignal, pollMs = 250): Promise<void> {
      watchSwitch();
      let lastPrune = 0;
      while (!signal.aborted) {
        pump();
        emitTelemetry(false);
        if (clock() - lastPrune > PRUNE_EVERY_MS) {
          prune();
          lastPrune = clock();
        }
        await sleep(pollMs, signal);
      }
      holdAll("responder_shutdown");
      await Promise.allSettled([...running.values()].map((r) => r.done));
      stopWatching();
      await Promise.allSettled([...typingOut, ...deliveriesOut]);
      store.atomically(flushPending);
      emitTelemetry(true);
    },
    /** Jobs in flight now. */
    inFlight: (): number => running.size,
  };
}

export type ResponderWorker = ReturnType<typeof createResponderWorker>;

/** The user's message as the model sees it: the text, and a note for attachments it cannot see (media is a later step). */
export function userTextOf(env: Envelope): string {
  const n = env.attachments.length;
  if (n === 0) return env.text;
  const kinds = [...new Set(env.attachments.map((a) => a.kind))].join(", ");
  return `${env.text}${env.text ? "\n\n" : ""}[${n} attachment${n === 1 ? "" : "s"} (${kinds}) not shown to you]`;
}
