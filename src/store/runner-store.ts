/**
 * @module Prepared statements for the runner: cursors, processed events (dedupe + traces), counters, key/value
 * state and runtime events (the outbox is `outbox-store.ts`). Callers group them into transactions. A trace's
 * decisions and route are stored compactly (`encodeTrace`) and read back as the same JSON (`readableTrace`).
 */
import type { Decision } from "../contracts/decision.ts";
import type { RouteInfo } from "../contracts/event-context.ts";
import { dialectOf, type Db } from "./db.ts";

export type { ChunkRow, DeadLetterRow, OutboxRow } from "./outbox-store.ts";

export interface CursorRow {
  transport: string;
  file_ino: number;
  byte_offset: number;
  line_no: number;
}

export interface EventRow {
  event_id: string;
  transport: string;
  kind: string;
  chat_type: string;
  conversation_id: string;
  actor_id: string | null;
  occurred_at_ms: number;
  processed_at_ms: number;
  outcome: string;
  reason: string;
  /** The event's trace, stored compactly (see `encodeTrace`). */
  decisions: readonly Decision[];
  route: RouteInfo | null;
}

/** Build the runner's statements once; every method is a single prepared statement. */
export function createRunnerStore(db: Db) {
  const s = {
    getCursor: db.prepare<[string], CursorRow>("SELECT transport, file_ino, byte_offset, line_no FROM ingress_cursors WHERE transport = ?"),
    putCursor: db.prepare(
      "INSERT INTO ingress_cursors (transport, file_ino, byte_offset, line_no, updated_at_ms) VALUES (@transport, @file_ino, @byte_offset, @line_no, @now) " +
        "ON CONFLICT(transport) DO UPDATE SET file_ino = excluded.file_ino, byte_offset = excluded.byte_offset, line_no = excluded.line_no, updated_at_ms = excluded.updated_at_ms",
    ),
    hasEvent: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM events WHERE event_id = ?").pluck(),
    insertEvent: db.prepare(
      "INSERT INTO events (event_id, transport, kind, chat_type, conversation_id, actor_id, occurred_at_ms, processed_at_ms, outcome, reason, decisions, route) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    // seq grows with processing time, so the oldest rows are a prefix of the table: no index on time needed.
    pruneEvents: db.prepare(
      "DELETE FROM events WHERE seq < (SELECT COALESCE(MIN(seq), 0) FROM (SELECT seq FROM events WHERE processed_at_ms >= ? ORDER BY seq LIMIT 1) AS first_kept)",
    ),
    bumpCounter: db.prepare(
      "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = counters.value + excluded.value",
    ),
    counters: db.prepare<[], { name: string; value: number }>("SELECT name, value FROM counters ORDER BY name"),
    getKv: db.prepare<[string], string>("SELECT value FROM kv WHERE key = ?").pluck(),
    kvWithPrefix: db.prepare<[string], { key: string; value: string }>("SELECT key, value FROM kv WHERE key LIKE ? ESCAPE '\\'"),
    putKv: db.prepare("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
    insertRuntimeEvent: db.prepare("INSERT INTO runtime_events (at_ms, event, health, reason_codes, detail) VALUES (?, ?, ?, ?, ?)"),
    lastResponder: db.prepare<[string], number>("SELECT last_responder_at_ms FROM conversation_state WHERE conversation_key = ?").pluck(),
    putResponder: db.prepare(
      "INSERT INTO conversation_state (conversation_key, last_responder_at_ms) VALUES (?, ?) ON CONFLICT(conversation_key) DO UPDATE SET last_responder_at_ms = excluded.last_responder_at_ms",
    ),
    insertQuarantine: db.prepare("INSERT INTO quarantine (transport, file, line_no, reason, detail, at_ms) VALUES (?, ?, ?, ?, ?, ?)"),
  };
  return {
    /** Ingress cursors, processed events (dedupe + traces), quarantine, runtime events, responder state. */
    runner: {
      cursor: (transport: string): CursorRow | undefined => s.getCursor.get(transport),
      putCursor: (c: CursorRow, now: number) => void s.putCursor.run({ ...c, now }),
      hasEvent: (eventId: string): boolean => s.hasEvent.get(eventId) !== undefined,
      insertEvent: (r: EventRow) =>
        void s.insertEvent.run(
          r.event_id,
          r.transport,
          r.kind,
          r.chat_type,
          r.conversation_id,
          r.actor_id,
          r.occurred_at_ms,
          r.processed_at_ms,
          r.outcome,
          r.reason,
          encodeTrace(r.decisions),
          r.route ? encodeTrace(r.route) : null,
        ),
      pruneEvents: (beforeMs: number): number => s.pruneEvents.run(beforeMs).changes,
      insertRuntimeEvent: (atMs: number, event: string, health: string, reasonCodes: string[], detail: Record<string, unknown>) =>
        void s.insertRuntimeEvent.run(atMs, event, health, JSON.stringify(reasonCodes), JSON.stringify(detail)),
      lastResponderAt: (key: string): number | undefined => s.lastResponder.get(key),
      putResponderAt: (key: string, atMs: number) => void s.putResponder.run(key, atMs),
      insertQuarantine: (transport: string, file: string, line: number, reason: string, detail: string, atMs: number) =>
        void s.insertQuarantine.run(transport, file, line, reason, detail, atMs),
    },
    /** Named counters (events processed, deliveries by reason, commands by reason). */
    counters: {
      bump: (name: string, by = 1) => void s.bumpCounter.run(name, by),
      all: (): Record<string, number> => Object.fromEntries(s.counters.all().map((r) => [r.name, r.value])),
    },
    /** Key-value state: runner state, connector status, lifecycle, policy versions. */
    kv: {
      get: (key: string): string | undefined => s.getKv.get(key),
      put: (key: string, value: string) => void s.putKv.run(key, value),
      /** Every entry whose key starts with `prefix`. */
      withPrefix: (prefix: string): { key: string; value: string }[] =>
        s.kvWithPrefix.all(prefix.replace(/[\\%_]/g, (c) => "\\" + c) + "%"),
    },
  };
}

export type RunnerStore = ReturnType<typeof createRunnerStore>;

/*
 * Trace codec. A trace (decisions, route) is JSON whose strings are mostly a small vocabulary: keys, stage names,
 * outcomes, reason codes, policy values. Stored, each such string is two characters (a lead byte 0x02–0x08 and one
 * printable character), which JSON text never contains raw (JSON escapes control characters); everything else is
 * written exactly as JSON.stringify writes it. Reading replaces the pairs back, giving JSON.stringify's text of the
 * same value, byte for byte. The stored text starts with 0x01 (JSON text never does), so rows written before the
 * codec read as they are. TRACE_WORDS is append-only: a word's position is its code in rows already stored.
 */
const TRACE_WORDS: readonly string[] = Object.freeze([
  // Decision keys and outcomes.
  "stage",
  "outcome",
  "reason",
  "matched_by",
  "detail",
  "allow",
  "deny",
  "skip",
  "info",
  // Stages.
  "dedupe",
  "transport_gate",
  "self_bot_filter",
  "event_kind",
  "receipt",
  "channel_policy",
  "access",
  "pairing",
  "route",
  "command",
  "rbac",
  "approval",
  "responders_gate",
  "responder",
  "runner",
  "policy",
  // Channel policy and access.
  "channel_policy_allow",
  "deny_channel_policy_dm",
  "deny_channel_policy_group",
  "deny_channel_policy_mention_required",
  "deny_channel_policy_load_error",
  "defaultPolicy",
  "allowFrom",
  "chat_type",
  "rule_source",
  "default",
  "channel",
  "global_wildcard",
  "transport_wildcard",
  "dm",
  "group",
  "any",
  "allowlist",
  "allowlist_or_pairing",
  "allow_allowlist",
  "allow_pairing",
  "allow_allowlist_and_pairing",
  "allow_channel_policy_allow_from_any",
  "deny_actor_not_paired_or_allowlisted",
  "deny_actor_not_allowlisted",
  "deny_actor_id_missing",
  "allowlist+pairing",
  "allowFrom:any",
  "allowFrom:allowlist",
  "allowFrom:pairing",
  "allowFrom:allowlist_or_pairing",
  "pairing_eligible",
  "role",
  "viewer",
  "operator",
  "admin",
  // Pairing challenges.
  "pairing_challenge_issued",
  "pairing_rate_limited",
  "pairing_channel_full",
  "action",
  "issue",
  "reuse",
  "expires_at_ms",
  "reply",
  "attempts_last_hour",
  "max",
  "pending",
  // Routes.
  "route_default",
  "route_binding_matched",
  "binding_id",
  "phase",
  "category_hint",
  "session_key",
  "forward_to",
  "delegated_step",
  "planner",
  "review",
  "general",
  "ack",
  "none",
  "forward",
  "binding.actor",
  "binding.conversation",
  "binding.account",
  "binding.transport",
  "binding.wildcard",
  // Responders.
  "responder_replied",
  "responder_no_reply",
  "responder_coalesced",
  "responder_unknown",
  "window_ms",
  // Commands, RBAC, approvals.
  "command_rbac_allowed",
  "command_rbac_denied",
  "capability.declared",
  "rbac.capabilities",
  "capability",
  "need",
  "have",
  "command_queued",
  "command_unknown",
  "command_parse_error",
  "command_args_invalid",
  "command_forwarded_ignored",
  "command_addressed_to_other_bot",
  "approval_requested",
  "id",
  "kind",
  "confirm",
  "two_person",
  "target",
  "tau.whoami",
  "tau.status",
  "tau.help",
  // Non-message kinds and delivery receipts.
  "recorded_edit",
  "recorded_callback",
  "recorded_reaction",
  "recorded_status",
  "recorded_membership",
  "recorded_system",
  "receipt_applied",
  "receipt_stale",
  "receipt_after_failed",
  "receipt_unknown_message",
  "receipt_unknown_status",
  "status",
  "sent",
  "delivered",
  "read",
  "failed",
  // Gates, filters, failures.
  "transport_kill_switch",
  "logout_requested",
  "responders_kill_switch",
  "transport",
  "telegram",
  "discord",
  "whatsapp",
  "email",
  "ignored_self",
  "ignored_bot",
  "duplicate_event_skipped",
  "event_processing_failed",
  "error",
]);

const TRACE_MARK = "\u0001";
const WORD_SPAN = 95; // second characters 0x20–0x7e
const WORD_CODE = new Map(TRACE_WORDS.map((w, i) => [w, String.fromCharCode(2 + Math.floor(i / WORD_SPAN), 0x20 + (i % WORD_SPAN))]));
const WORD_PAIR = /[\u0002-\u0008][\u0020-\u007e]/g;

/** JSON.stringify's text for `v`, with vocabulary strings as their two-character codes; undefined where JSON.stringify omits. */
function compact(v: unknown): string | undefined {
  switch (typeof v) {
    case "string":
      return WORD_CODE.get(v) ?? JSON.stringify(v);
    case "number":
      return Number.isFinite(v) ? String(v) : "null";
    case "boolean":
      return v ? "true" : "false";
    case "bigint":
      return JSON.stringify(v); // throws, as JSON.stringify does
    case "object": {
      if (v === null) return "null";
      if (typeof (v as { toJSON?: unknown }).toJSON === "function") return JSON.stringify(v);
      if (Array.isArray(v)) {
        let out = "[";
        for (let i = 0; i < v.length; i++) out += (i === 0 ? "" : ",") + (compact(v[i]) ?? "null");
        return out + "]";
      }
      let out = "{";
      let first = true;
      for (const k of Object.keys(v)) {
        const e = compact((v as Record<string, unknown>)[k]);
        if (e === undefined) continue;
        out += (first ? "" : ",") + (WORD_CODE.get(k) ?? JSON.stringify(k)) + ":" + e;
        first = false;
      }
      return out + "}";
    }
    default:
      return undefined; // undefined, functions, symbols: left out, as JSON.stringify does
  }
}

/**
 * Encodings of frozen objects, by identity. The policy stages hand out shared frozen decisions (one per rule and
 * outcome, not one per event), so each is walked once, not once per event.
 */
const ENCODED = new WeakMap<object, string>();

/** `compact(v)`; remembered for frozen objects (they cannot change after being encoded). */
function compactShared(v: unknown): string | undefined {
  if (typeof v !== "object" || v === null || !Object.isFrozen(v)) return compact(v);
  let e = ENCODED.get(v);
  if (e === undefined) {
    e = compact(v) ?? "null";
    ENCODED.set(v, e);
  }
  return e;
}

/** The stored form of a trace value (decisions, route). */
export function encodeTrace(value: unknown): string {
  if (!Array.isArray(value)) return TRACE_MARK + (compactShared(value) ?? "null");
  let out = TRACE_MARK + "[";
  for (let i = 0; i < value.length; i++) out += (i === 0 ? "" : ",") + (compactShared(value[i]) ?? "null");
  return out + "]";
}

/** The JSON text of a stored trace value: what JSON.stringify gave for it. Text stored before the codec is returned as is. */
export function decodeTrace(stored: string): string {
  if (!stored.startsWith(TRACE_MARK)) return stored;
  return stored
    .slice(1)
    .replace(WORD_PAIR, (pair) => JSON.stringify(TRACE_WORDS[(pair.charCodeAt(0) - 2) * WORD_SPAN + pair.charCodeAt(1) - 0x20]));
}

/** A stored trace row with its decisions and route as JSON text (for the readers of traces). */
export function readableTrace<R extends { decisions: string; route: string | null }>(row: R): R {
  return { ...row, decisions: decodeTrace(row.decisions), route: row.route === null ? null : decodeTrace(row.route) };
}
