/**
 * Store contract, runner family on every engine: dedupe (processed events), ingress cursors, quarantine, event
 * pruning, traces read back, runtime events, key/value state, counters, responder state and kill switches.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { EventRow } from "../../../src/store/index.ts";
import { contractEngines, ENGINE_HOOK_TIMEOUT_MS } from "./engines.ts";

const event = (id: string, processedAt: number, over: Partial<EventRow> = {}): EventRow => ({
  event_id: id,
  transport: "telegram",
  kind: "message",
  chat_type: "dm",
  conversation_id: "1001",
  actor_id: "42",
  occurred_at_ms: processedAt - 5,
  processed_at_ms: processedAt,
  outcome: "admitted",
  reason: "allow_allowlist",
  decisions: [{ stage: "access", outcome: "allow", reason: "allow_allowlist" }],
  route: null,
  ...over,
});

describe.each(contractEngines())("store contract: runner family on $name", (engine) => {
  afterEach(() => engine.closeAll());
  afterAll(() => engine.stop(), ENGINE_HOOK_TIMEOUT_MS);

  it(
    "an event id is processed once: hasEvent answers for it, a second insert of the same id is refused",
    async () => {
      const { store } = await engine.open();
      expect(store.runner.hasEvent("tg:1")).toBe(false);
      store.atomically(() => store.runner.insertEvent(event("tg:1", 1000)));
      expect(store.runner.hasEvent("tg:1")).toBe(true);
      expect(store.runner.hasEvent("tg:2")).toBe(false);
      expect(() => store.runner.insertEvent(event("tg:1", 1001))).toThrow();
      // The refused insert rolled back alone: the store still works and holds one row for the id.
      expect(store.inspect.trace("tg:1")).toHaveLength(1);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "a unit of work that throws leaves nothing behind; a nested unit joins the outer one",
    async () => {
      const { store } = await engine.open();
      expect(() =>
        store.atomically(() => {
          store.runner.insertEvent(event("tg:a", 1000));
          store.counters.bump("events_processed");
          throw new Error("cut off");
        }),
      ).toThrow("cut off");
      expect(store.runner.hasEvent("tg:a")).toBe(false);
      expect(store.counters.all()).toEqual({});
      store.atomically(() => {
        store.runner.insertEvent(event("tg:b", 1000));
        store.atomically(() => store.counters.bump("events_processed"));
      });
      expect(store.runner.hasEvent("tg:b")).toBe(true);
      expect(store.counters.all()).toEqual({ events_processed: 1 });
      // A rehearsal's writes are always rolled back; its result comes back.
      expect(store.rehearse(() => (store.kv.put("dry", "1"), store.kv.get("dry")))).toBe("1");
      expect(store.kv.get("dry")).toBeUndefined();
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "a failed nested unit of work is undone alone, a refused statement in it included; the outer one commits",
    async () => {
      // What the runner's batch needs for per-item refusal: one event's failure must not cost the batch. On PostgreSQL a
      // refused statement aborts the whole transaction, so the failure must be contained by a nested unit (a savepoint)
      // on every engine; a caller catching a bare statement error inside a unit of work is not portable.
      const { store } = await engine.open();
      store.atomically(() => store.runner.insertEvent(event("dup", 1000)));
      store.atomically(() => {
        store.runner.insertEvent(event("before", 1001));
        expect(() =>
          store.atomically(() => {
            store.kv.put("inner", "1");
            store.runner.insertEvent(event("dup", 1002));
          }),
        ).toThrow();
        expect(() =>
          store.atomically(() => {
            store.kv.put("inner", "2");
            throw new Error("inner failed");
          }),
        ).toThrow("inner failed");
        store.runner.insertEvent(event("after", 1003));
        store.counters.bump("events.processed", 2);
      });
      expect(["dup", "before", "after"].map((id) => store.runner.hasEvent(id))).toEqual([true, true, true]);
      expect(store.kv.get("inner")).toBeUndefined();
      expect(store.counters.all()).toEqual({ "events.processed": 2 });
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "a cursor is stored per transport and replaced by the next put",
    async () => {
      const { store } = await engine.open();
      expect(store.runner.cursor("telegram")).toBeUndefined();
      store.runner.putCursor({ transport: "telegram", file_ino: 77, byte_offset: 120, line_no: 3 }, 1000);
      store.runner.putCursor({ transport: "discord", file_ino: 78, byte_offset: 10, line_no: 1 }, 1000);
      store.runner.putCursor({ transport: "telegram", file_ino: 77, byte_offset: 4_000_000_000, line_no: 9 }, 2000);
      expect(store.runner.cursor("telegram")).toEqual({ transport: "telegram", file_ino: 77, byte_offset: 4_000_000_000, line_no: 9 });
      expect(store.runner.cursor("discord")).toEqual({ transport: "discord", file_ino: 78, byte_offset: 10, line_no: 1 });
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "quarantined lines are kept with their file, line, reason and detail",
    async () => {
      const { store, query } = await engine.open();
      store.runner.insertQuarantine("telegram", "ingress/telegram.ndjson", 7, "invalid_json", "Unexpected token", 1000);
      store.runner.insertQuarantine("telegram", "ingress/telegram.ndjson", 9, "schema_invalid", "missing event_id", 1001);
      expect(await query("SELECT transport, file, line_no, reason, detail, at_ms FROM quarantine ORDER BY id")).toEqual([
        {
          transport: "telegram",
          file: "ingress/telegram.ndjson",
          line_no: 7,
          reason: "invalid_json",
          detail: "Unexpected token",
          at_ms: 1000,
        },
        {
          transport: "telegram",
          file: "ingress/telegram.ndjson",
          line_no: 9,
          reason: "schema_invalid",
          detail: "missing event_id",
          at_ms: 1001,
        },
      ]);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "pruning drops the events processed before a time and keeps the rest (dedupe holds for those)",
    async () => {
      const { store } = await engine.open();
      store.atomically(() => {
        for (const [id, at] of [
          ["e1", 100],
          ["e2", 200],
          ["e3", 300],
          ["e4", 400],
        ] as const)
          store.runner.insertEvent(event(id, at));
      });
      expect(store.runner.pruneEvents(250)).toBe(2);
      expect(["e1", "e2", "e3", "e4"].map((id) => store.runner.hasEvent(id))).toEqual([false, false, true, true]);
      expect(store.runner.pruneEvents(250)).toBe(0);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "traces read back as the JSON written, in processing order, by id, after a sequence number and by time",
    async () => {
      const { store } = await engine.open();
      const route = { binding_id: "ops", session_key: "telegram:1001:42", phase: "general" };
      store.atomically(() => {
        store.runner.insertEvent(event("t1", 1000, { route: route as unknown as EventRow["route"] }));
        store.runner.insertEvent(event("t2", 2000, { outcome: "denied", reason: "deny_actor_not_allowlisted", actor_id: null }));
      });
      const [t1] = store.inspect.trace("t1");
      expect(JSON.parse(t1!.decisions)).toEqual([{ stage: "access", outcome: "allow", reason: "allow_allowlist" }]);
      expect(JSON.parse(t1!.route!)).toEqual(route);
      expect(store.inspect.recentTraces(10).map((t) => t.event_id)).toEqual(["t2", "t1"]);
      expect(store.inspect.tracesAfter(t1!.seq).map((t) => [t.event_id, t.actor_id, t.route])).toEqual([["t2", null, null]]);
      expect(store.inspect.tracesBetween(1500, 2500).map((t) => t.event_id)).toEqual(["t2"]);
      expect(store.inspect.deniedByReason()).toEqual({ deny_actor_not_allowlisted: 1 });
      // What /metrics reads (off the main thread on SQLite): the same totals.
      expect((await store.metricCounts()).deniedByReason).toEqual({ deny_actor_not_allowlisted: 1 });
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "runtime events come back newest first, after an id, by name and by time range",
    async () => {
      const { store } = await engine.open();
      store.runner.insertRuntimeEvent(1000, "runner_cycle", "ok", [], { events: 3 });
      store.runner.insertRuntimeEvent(2000, "health", "degraded", ["outbox_backlog"], { pending: 12 });
      store.runner.insertRuntimeEvent(3000, "runner_cycle", "ok", [], { events: 1 });
      const all = store.inspect.runtimeEvents({ sinceMs: 0, afterId: 0, limit: 10 });
      expect(all.map((e) => [e.event, e.at_ms])).toEqual([
        ["runner_cycle", 3000],
        ["health", 2000],
        ["runner_cycle", 1000],
      ]);
      expect(JSON.parse(all[1]!.reason_codes)).toEqual(["outbox_backlog"]);
      expect(JSON.parse(all[1]!.detail)).toEqual({ pending: 12 });
      const firstId = all[2]!.id;
      expect(store.ui.runtimeEventsAfter(firstId, 10).map((e) => e.at_ms)).toEqual([2000, 3000]);
      expect(store.ui.recentRuntimeEvents(2).map((e) => e.at_ms)).toEqual([2000, 3000]);
      expect(store.inspect.runtimeEventsNamed("runner_cycle", 0, 10).map((e) => e.at_ms)).toEqual([3000, 1000]);
      expect(store.inspect.runtimeEventsBetween(1000, 3000).map((e) => e.event)).toEqual(["runner_cycle", "health"]);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "kv: put replaces, get misses cleanly, a prefix lookup takes % and _ literally",
    async () => {
      const { store } = await engine.open();
      store.kv.put("lifecycle", "running");
      store.kv.put("lifecycle", "draining");
      store.kv.put("conn:telegram:bot_1", "ok");
      store.kv.put("conn:telegram:bot_2", "ok");
      store.kv.put("conn%x", "odd");
      store.kv.put("connXtelegram", "other");
      expect(store.kv.get("lifecycle")).toBe("draining");
      expect(store.kv.get("nope")).toBeUndefined();
      expect(
        store.kv
          .withPrefix("conn:telegram:bot_")
          .map((e) => e.key)
          .sort(),
      ).toEqual(["conn:telegram:bot_1", "conn:telegram:bot_2"]);
      expect(store.kv.withPrefix("conn%").map((e) => e.key)).toEqual(["conn%x"]);
      expect(store.kv.withPrefix("conn_").map((e) => e.key)).toEqual([]);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "counters add up by name, large values included",
    async () => {
      const { store } = await engine.open();
      store.counters.bump("events_processed");
      store.counters.bump("events_processed", 4);
      store.counters.bump("deliveries_sent", 3_000_000_000);
      store.counters.bump("deliveries_sent", 2);
      expect(store.counters.all()).toEqual({ deliveries_sent: 3_000_000_002, events_processed: 5 });
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "the last responder time per conversation is replaced by the next one",
    async () => {
      const { store } = await engine.open();
      expect(store.runner.lastResponderAt("telegram:1001")).toBeUndefined();
      store.runner.putResponderAt("telegram:1001", 1000);
      store.runner.putResponderAt("telegram:1001", 2000);
      expect(store.runner.lastResponderAt("telegram:1001")).toBe(2000);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "kill switches: one row per scope, turning off keeps who and why, active scopes in order",
    async () => {
      const { store } = await engine.open();
      expect(store.killswitches.isOn("outbound")).toBeUndefined();
      store.killswitches.put({ scope: "outbound", is_on: true, reason: "incident", changed_by: "cli:root", at_ms: 1000 });
      store.killswitches.put({ scope: "transport:discord", is_on: true, reason: "spam", changed_by: "cli:root", at_ms: 1001 });
      store.killswitches.put({ scope: "responders", is_on: false, reason: "resolved", changed_by: "telegram:42", at_ms: 1002 });
      expect(store.killswitches.activeScopes()).toEqual(["outbound", "transport:discord"]);
      store.killswitches.put({ scope: "outbound", is_on: false, reason: "recovered", changed_by: "cli:root", at_ms: 2000 });
      expect(store.killswitches.isOn("outbound")).toBe(false);
      expect(store.killswitches.isOn("transport:discord")).toBe(true);
      expect(store.killswitches.list()).toEqual([
        { scope: "outbound", is_on: false, reason: "recovered", changed_by: "cli:root", at_ms: 2000 },
        { scope: "responders", is_on: false, reason: "resolved", changed_by: "telegram:42", at_ms: 1002 },
        { scope: "transport:discord", is_on: true, reason: "spam", changed_by: "cli:root", at_ms: 1001 },
      ]);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "a read-only store reads what was committed and refuses to write",
    async () => {
      const opened = await engine.open();
      opened.store.atomically(() => {
        opened.store.runner.insertEvent(event("ro:1", 1000));
        opened.store.kv.put("lifecycle", "running");
      });
      const ro = engine.reopen(opened, { readonly: true });
      expect(ro.runner.hasEvent("ro:1")).toBe(true);
      expect(ro.inspect.trace("ro:1").map((t) => t.event_id)).toEqual(["ro:1"]);
      expect(() => ro.kv.put("lifecycle", "stopped")).toThrow();
      expect(() => ro.atomically(() => ro.runner.insertEvent(event("ro:2", 2000)))).toThrow();
      expect(opened.store.kv.get("lifecycle")).toBe("running");
      expect(opened.store.runner.hasEvent("ro:2")).toBe(false);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "a second store on the same database sees what the first committed",
    async () => {
      const opened = await engine.open();
      const other = engine.reopen(opened);
      opened.store.atomically(() => {
        opened.store.runner.insertEvent(event("shared:1", 1000));
        opened.store.kv.put("policy_version", "7");
      });
      expect(other.runner.hasEvent("shared:1")).toBe(true);
      expect(other.kv.get("policy_version")).toBe("7");
      other.killswitches.put({ scope: "outbound", is_on: true, reason: "x", changed_by: "cli:root", at_ms: 1 });
      expect(opened.store.killswitches.isOn("outbound")).toBe(true);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );
});
