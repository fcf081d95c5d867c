/**
 * Store contract, responders, media and calendars on every engine: responder jobs (one at a time per conversation, in
 * order; claim / release / finish by compare-and-set), conversation history bounded by count and age per session key,
 * usage from call rows, recorded tool runs, pruning; media records and the duplicate cache; calendar objects by span.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { ResponderCallRow, Store } from "../../../src/store/index.ts";
import { contractEngines, ENGINE_HOOK_TIMEOUT_MS } from "./engines.ts";

const job = (jobId: string, conversationKey: string, over: Record<string, string> = {}) => ({
  job_id: jobId,
  event_id: `ev:${jobId}`,
  responder: "assistant",
  conversation_key: conversationKey,
  session_key: `${conversationKey}:42`,
  principal: "telegram:42",
  role: "operator",
  envelope: "{}",
  route: "{}",
  reply_target: "{}",
  ...over,
});

const call = (over: Partial<ResponderCallRow>): ResponderCallRow => ({
  job_id: "j1",
  responder: "assistant",
  transport: "telegram",
  provider: "openai",
  model: "gpt-x",
  principal: "telegram:42",
  input_tokens: 100,
  output_tokens: 20,
  cached_tokens: 0,
  ttft_ms: null,
  latency_ms: 300,
  reason: "responder_replied",
  at_ms: 1000,
  ...over,
});

const say = (store: Store, sessionKey: string, content: string, at: number, over: Record<string, string> = {}) =>
  store.responders.appendHistory({
    session_key: sessionKey,
    conversation_key: "telegram:1001:",
    principal: "telegram:42",
    role: content.startsWith("A:") ? "assistant" : "user",
    content,
    job_id: "j1",
    at_ms: at,
    ...over,
  });

describe.each(contractEngines())("store contract: responders, media, calendars on $name", (engine) => {
  afterEach(() => engine.closeAll());
  afterAll(() => engine.stop(), ENGINE_HOOK_TIMEOUT_MS);

  it(
    "responder jobs run one at a time per conversation, in order; a replayed event inserts nothing",
    async () => {
      const { store } = await engine.open();
      expect(store.responders.insertJob(job("j1", "telegram:1001"), 1000)).toBe(true);
      expect(store.responders.insertJob(job("j1", "telegram:1001"), 1001)).toBe(false);
      store.responders.insertJob(job("j2", "telegram:1001"), 1002);
      store.responders.insertJob(job("j3", "telegram:2002"), 1003);
      expect(store.responders.runnable(5000, 10).map((j) => j.job_id)).toEqual(["j1", "j3"]);
      expect(store.responders.claim("j1", 1100)).toBe(true);
      expect(store.responders.claim("j1", 1101)).toBe(false);
      // The head is running: the next job of its conversation waits.
      expect(store.responders.runnable(5000, 10).map((j) => j.job_id)).toEqual(["j3"]);
      expect(store.responders.openCounts()).toEqual({ queued: 2, running: 1, oldest_created_at_ms: 1000 });
      expect(store.responders.finish("j1", "done", "responder_replied", 240, 1, 1200)).toBe(true);
      expect(store.responders.finish("j1", "failed", "x", 0, 0, 1201)).toBe(false);
      expect(store.responders.runnable(5000, 10).map((j) => j.job_id)).toEqual(["j2", "j3"]);
      expect(store.responders.job("j1")).toMatchObject({
        status: "done",
        attempts: 1,
        reply_chars: 240,
        reply_chunks: 1,
        reason: "responder_replied",
      });
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "a released job waits until its time; giving back an attempt never goes below zero",
    async () => {
      const { store } = await engine.open();
      store.responders.insertJob(job("j1", "telegram:1001"), 1000);
      store.responders.claim("j1", 1100);
      expect(store.responders.release("j1", 1200, 9000, "rate_limited")).toBe(true);
      expect(store.responders.release("j1", 1201, 9000, "rate_limited")).toBe(false);
      expect(store.responders.job("j1")).toMatchObject({ status: "queued", attempts: 1, not_before_ms: 9000, reason: "rate_limited" });
      expect(store.responders.runnable(5000, 10)).toEqual([]);
      expect(store.responders.runnable(9000, 10).map((j) => j.job_id)).toEqual(["j1"]);
      store.responders.claim("j1", 9100);
      store.responders.release("j1", 9200, 9200, "kill_switch", -1);
      expect(store.responders.job("j1")).toMatchObject({ attempts: 1 });
      store.responders.claim("j1", 9300);
      store.responders.release("j1", 9400, 9400, "kill_switch", -5);
      expect(store.responders.job("j1")).toMatchObject({ attempts: 0 });
      expect(store.responders.jobsIn("queued").map((j) => j.job_id)).toEqual(["j1"]);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "history is kept per session key and read back bounded by count and age, oldest first; forget clears a chat's sessions",
    async () => {
      const { store } = await engine.open();
      const s1 = "telegram:1001:42";
      say(store, s1, "U: one", 1000);
      say(store, s1, "A: two", 2000);
      say(store, s1, "U: three", 3000);
      say(store, s1, "A: four", 4000);
      say(store, "telegram:1001:43", "U: other person", 2500, { principal: "telegram:43" });
      say(store, "telegram:1001:42:t9", "U: a thread", 2550, { conversation_key: "telegram:1001:t9" });
      say(store, "telegram:10011:42", "U: other chat", 2600, { conversation_key: "telegram:10011:" });
      expect(store.responders.recentHistory(s1, 2, 0)).toEqual([
        { role: "user", content: "U: three", at_ms: 3000 },
        { role: "assistant", content: "A: four", at_ms: 4000 },
      ]);
      expect(store.responders.recentHistory(s1, 10, 2000).map((h) => h.content)).toEqual(["A: two", "U: three", "A: four"]);
      expect(store.responders.recentHistory(s1, 0, 0)).toEqual([]);
      expect(store.responders.forget("telegram:42", "telegram", "1001").sort()).toEqual([s1, "telegram:1001:42:t9"]);
      expect(store.responders.recentHistory(s1, 10, 0)).toEqual([]);
      expect(store.responders.recentHistory("telegram:1001:42:t9", 10, 0)).toEqual([]);
      expect(store.responders.recentHistory("telegram:1001:43", 10, 0)).toHaveLength(1);
      expect(store.responders.recentHistory("telegram:10011:42", 10, 0)).toHaveLength(1);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "usage, tokens, errors and rate-limit counts come from the call and job rows since a time",
    async () => {
      const { store } = await engine.open();
      store.responders.recordCall(call({ at_ms: 1000, ttft_ms: 50 }));
      store.responders.recordCall(call({ at_ms: 2000, input_tokens: 3_000_000_000, output_tokens: 5, latency_ms: 900 }));
      store.responders.recordCall(
        call({ at_ms: 3000, reason: "provider_429", input_tokens: 0, output_tokens: 0, provider: "anthropic", model: "c" }),
      );
      // The daily budget's total: every call of the UTC day, kept as calls are recorded (one row read, not a sum).
      expect(store.responders.tokensOnDay("assistant", 0)).toBe(3_000_000_125);
      expect(store.responders.tokensOnDay("nobody", 0)).toBe(0);
      expect(store.responders.usageSince(0).sort((a, b) => a.provider.localeCompare(b.provider))).toEqual([
        {
          responder: "assistant",
          transport: "telegram",
          provider: "anthropic",
          model: "c",
          calls: 1,
          input_tokens: 0,
          output_tokens: 0,
          cached_tokens: 0,
          ttft_ms_sum: 0,
          ttft_count: 0,
          latency_ms_sum: 300,
          latency_ms_max: 300,
        },
        {
          responder: "assistant",
          transport: "telegram",
          provider: "openai",
          model: "gpt-x",
          calls: 2,
          input_tokens: 3_000_000_100,
          output_tokens: 25,
          cached_tokens: 0,
          ttft_ms_sum: 50,
          ttft_count: 1,
          latency_ms_sum: 1200,
          latency_ms_max: 900,
        },
      ]);
      expect(store.responders.errorsSince(0)).toEqual([{ responder: "assistant", reason: "provider_429", n: 1 }]);
      expect(store.responders.lastCallOf("openai")).toMatchObject({ at_ms: 2000, latency_ms: 900 });
      store.responders.insertJob(job("j1", "telegram:1001"), 1000);
      store.responders.insertJob(job("j2", "telegram:2002"), 1000);
      store.responders.claim("j1", 5000);
      expect(store.responders.startedByPrincipalSince("telegram:42", 4000, 10)).toBe(1);
      expect(store.responders.startedByResponderSince("assistant", 6000, 10)).toBe(0);
      // Counted no further than the cap (a limit + 1 is all a rate check needs), from the index alone.
      store.responders.claim("j2", 5000);
      expect(store.responders.startedByResponderSince("assistant", 4000, 10)).toBe(2);
      expect(store.responders.startedByResponderSince("assistant", 4000, 1)).toBe(1);
      store.responders.finish("j1", "done", "responder_replied", 500, 2, 5100);
      expect(store.responders.finishedSince(0, 100)).toEqual([
        {
          responder: "assistant",
          transport: "telegram",
          reason: "responder_replied",
          status: "done",
          jobs: 1,
          records: 1,
          chars: 500,
          chunks: 2,
        },
      ]);
      // A start counts when it happened: finishing later does not count it again (it counted every job whose row changed).
      store.responders.finish("j2", "done", "responder_replied", 1, 1, 300_000);
      expect(store.responders.startedByResponderSince("assistant", 240_000, 10)).toBe(0);
      // An attempt given back (kill switch, a responder at its limit) no longer counts; the next one does.
      store.responders.insertJob(job("j3", "telegram:3003"), 400_000);
      store.responders.claim("j3", 400_000);
      expect(store.responders.startedByResponderSince("assistant", 350_000, 10)).toBe(1);
      expect(store.responders.startedByPrincipalSince("telegram:42", 350_000, 10)).toBe(1);
      store.responders.release("j3", 400_000, 401_000, "responder_rate_deferred", -1);
      expect(store.responders.startedByResponderSince("assistant", 350_000, 10)).toBe(0);
      expect(store.responders.startedByPrincipalSince("telegram:42", 350_000, 10)).toBe(0);
      store.responders.claim("j3", 401_000);
      expect(store.responders.startedByResponderSince("assistant", 350_000, 10)).toBe(1);
      // A start past the window's reach is forgotten by the prune.
      store.responders.pruneStarts(401_000);
      expect(store.responders.startedByResponderSince("assistant", 0, 10)).toBe(1);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "a tool run is recorded once per job and call; prune drops what is older than the cut-off",
    async () => {
      const { store } = await engine.open();
      store.responders.putToolRun("j1", "call_1", '{"ok":1}', 1000);
      store.responders.putToolRun("j1", "call_1", '{"ok":2}', 1001);
      expect(store.responders.toolRun("j1", "call_1")).toBe('{"ok":1}');
      expect(store.responders.toolRun("j1", "call_2")).toBeNull();
      store.responders.insertJob(job("j1", "telegram:1001"), 1000);
      store.responders.claim("j1", 1000);
      store.responders.finish("j1", "done", "responder_replied", 1, 1, 1000);
      store.responders.insertJob(job("j2", "telegram:1001"), 1000);
      say(store, "s", "U: old", 1000);
      say(store, "s", "U: new", 9000);
      store.responders.recordCall(call({ at_ms: 1000 }));
      store.responders.prune(5000);
      // A day's token total stays while calls of that day may.
      expect(store.responders.tokensOnDay("assistant", 0)).toBe(120);
      expect(store.responders.toolRun("j1", "call_1")).toBeNull();
      expect(store.responders.job("j1")).toBeUndefined();
      // An open job is kept whatever its age.
      expect(store.responders.job("j2")).toMatchObject({ status: "queued" });
      expect(store.responders.recentHistory("s", 10, 0).map((h) => h.content)).toEqual(["U: new"]);
      expect(store.responders.usageSince(0)).toEqual([]);
      store.responders.recordCall(call({ at_ms: 2 * 86_400_000 + 1000, input_tokens: 7, output_tokens: 1 }));
      store.responders.prune(86_400_000 + 5000);
      expect(store.responders.tokensOnDay("assistant", 0)).toBe(0);
      expect(store.responders.tokensOnDay("assistant", 2 * 86_400_000)).toBe(8);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "media: a record per attachment (a repeat replaces it), counts by reason, the first cached result wins",
    async () => {
      const { store } = await engine.open();
      const rec = {
        event_id: "ev1",
        idx: 0,
        kind: "image",
        status: "failed" as const,
        reason: "media_timeout",
        summary: null,
        file_identity: "tg:u1",
        detected_mime: null,
        bytes: null,
        at_ms: 1000,
      };
      store.media.putRecord(rec);
      store.media.putRecord({
        ...rec,
        status: "processed",
        reason: "media_described",
        summary: "a cat",
        detected_mime: "image/png",
        bytes: 5_000_000_000,
        at_ms: 1100,
      });
      store.media.putRecord({ ...rec, idx: 1, kind: "voice", status: "skipped", reason: "media_too_large", at_ms: 1200 });
      expect(store.media.recordsOf("ev1").map((r) => [r.idx, r.status, r.summary, r.bytes])).toEqual([
        [0, "processed", "a cat", 5_000_000_000],
        [1, "skipped", null, null],
      ]);
      expect(store.media.countsSince(0)).toEqual({ media_described: 1, media_too_large: 1 });
      store.media.cache({
        file_identity: "tg:u1",
        kind: "image",
        reason: "media_described",
        summary: "a cat",
        detected_mime: "image/png",
        at_ms: 1100,
      });
      store.media.cache({
        file_identity: "tg:u1",
        kind: "image",
        reason: "media_described",
        summary: "a dog",
        detected_mime: "image/png",
        at_ms: 1200,
      });
      expect(store.media.cached("tg:u1")?.summary).toBe("a cat");
      store.media.prune(1150);
      expect(store.media.recordsOf("ev1").map((r) => r.idx)).toEqual([1]);
      expect(store.media.cached("tg:u1")).toBeUndefined();
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "calendars: collections replaced by discovery, objects found by span overlap and uid, counts, plans by compare-and-set",
    async () => {
      const { store } = await engine.open();
      const acct = "https://dav.example|ann";
      const cal = "https://dav.example/ann/work/";
      store.calendar.replaceCollections(
        acct,
        "calendar",
        [
          { url: cal, display_name: "Work", supports_sync: true },
          { url: `${cal}old/`, display_name: "Old", supports_sync: false },
        ],
        1000,
      );
      store.calendar.replaceCollections(acct, "calendar", [{ url: cal, display_name: "Work", supports_sync: true }], 2000);
      expect(store.calendar.collections(acct, "calendar").map((c) => [c.url, c.supports_sync, c.discovered_at_ms])).toEqual([
        [cal, 1, 2000],
      ]);
      const obj = (href: string, start: number, end: number, uid: string | null) => ({
        href: `${cal}${href}`,
        etag: '"1"',
        uid,
        data: "BEGIN:VCALENDAR",
        span_start_ms: start,
        span_end_ms: end,
        invalid: null,
      });
      store.calendar.putObject(acct, cal, obj("a.ics", 100, 200, "u-a"));
      store.calendar.putObject(acct, cal, obj("b.ics", 300, 400, "u-b"));
      store.calendar.putObject(acct, cal, { ...obj("c.ics", 0, 0, null), invalid: "no_vevent" });
      store.calendar.putObject(acct, cal, obj("a.ics", 150, 250, "u-a"));
      expect(store.calendar.objectsInSpan(acct, cal, 200, 300).map((o) => o.href)).toEqual([`${cal}a.ics`]);
      expect(store.calendar.objectsInSpan(acct, cal, 250, 300)).toEqual([]);
      expect(store.calendar.objectsByUid(acct, cal, "u-b").map((o) => o.span_start_ms)).toEqual([300]);
      expect(store.calendar.objectCount(acct, cal)).toEqual({ n: 3, invalid: 1 });
      const plan = {
        plan_id: "pl_1",
        account: acct,
        calendar_url: cal,
        source_key: "src-1",
        source_label: "https://ics.example/f",
        source_sha256: "s",
        base_sync_token: null,
        base_ctag: "c1",
        actions: "[]",
        counts: "{}",
        requested_by: "cli:root",
        created_at_ms: 1000,
        expires_at_ms: 9000,
      };
      store.calendar.insertSyncPlan(plan);
      expect(store.calendar.transitionSyncPlan("pl_1", "ready", "executing", 2000)).toBe(true);
      expect(store.calendar.transitionSyncPlan("pl_1", "ready", "executing", 2001)).toBe(false);
      store.calendar.finishSyncPlan("pl_1", "executed", { created: 2 }, 2100);
      expect(store.calendar.syncPlan("pl_1")).toMatchObject({ status: "executed", result: '{"created":2}', executed_at_ms: 2100 });
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );
});
