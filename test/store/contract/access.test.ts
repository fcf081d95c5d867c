/**
 * Store contract, access family on every engine: the allowlist, pairing codes (pending → approved/denied → revoked,
 * per-transport counts, attempts), admissions remembered within a hold and refreshed after another store's commit,
 * actor aliases, one-shot button tokens, and the web page's sign-in links and sessions.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { AllowlistRow } from "../../../src/store/index.ts";
import { contractEngines, ENGINE_HOOK_TIMEOUT_MS } from "./engines.ts";

const allow = (actorKey: string, over: Partial<AllowlistRow> = {}): AllowlistRow => {
  const [transport, actorId] = actorKey.split(":") as [string, string];
  return { actor_key: actorKey, transport, actor_id: actorId, note: "", added_by: "cli:root", added_at_ms: 1000, ...over };
};

describe.each(contractEngines())("store contract: access on $name", (engine) => {
  afterEach(() => engine.closeAll());
  afterAll(() => engine.stop(), ENGINE_HOOK_TIMEOUT_MS);

  it(
    "allowlist: an add is idempotent (the first entry stays), removal says whether there was one, listing by key",
    async () => {
      const { store } = await engine.open();
      expect(store.access.addAllowlist(allow("telegram:42", { note: "on call" }))).toBe(true);
      expect(store.access.addAllowlist(allow("telegram:42", { note: "again" }))).toBe(false);
      expect(store.access.addAllowlist(allow("discord:7"))).toBe(true);
      expect(store.access.listAllowlist()).toEqual([
        { actor_key: "discord:7", transport: "discord", actor_id: "7", note: "", added_by: "cli:root", added_at_ms: 1000 },
        { actor_key: "telegram:42", transport: "telegram", actor_id: "42", note: "on call", added_by: "cli:root", added_at_ms: 1000 },
      ]);
      expect(store.access.isAllowlisted("telegram:42")).toBe(true);
      expect(store.access.removeAllowlist("telegram:42")).toBe(true);
      expect(store.access.removeAllowlist("telegram:42")).toBe(false);
      expect(store.access.isAllowlisted("telegram:42")).toBe(false);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "pairing: a pending code is found per actor until it expires, counted per transport, decided once, and revoked",
    async () => {
      const { store } = await engine.open();
      store.access.insertPairing(
        { code: "ABC123", actor_key: "telegram:42", channel_key: "telegram:1001", display: "Ann", expires_at_ms: 5000 },
        1000,
      );
      store.access.insertPairing(
        { code: "DEF456", actor_key: "telegram:43", channel_key: "telegram:1002", display: null, expires_at_ms: 3000 },
        1001,
      );
      store.access.insertPairing(
        { code: "GHI789", actor_key: "discord:9", channel_key: "discord:55", display: null, expires_at_ms: 5000 },
        1002,
      );
      expect(store.access.pendingForActor("telegram:42", 2000)).toMatchObject({
        code: "ABC123",
        status: "pending",
        display: "Ann",
        created_at_ms: 1000,
      });
      expect(store.access.pendingForActor("telegram:42", 5000)).toBeUndefined();
      expect(store.access.pendingForTransport("telegram", 2000)).toBe(2);
      expect(store.access.pendingForTransport("telegram", 3500)).toBe(1);
      expect(store.access.pendingForTransport("discord", 2000)).toBe(1);
      expect(store.access.pendingForTransport("whatsapp", 2000)).toBe(0);
      expect(store.access.isPaired("telegram:42")).toBe(false);
      store.access.decidePairing("ABC123", "approved", "telegram:1", 2500);
      expect(store.access.pairingByCode("ABC123")).toMatchObject({ status: "approved", decided_by: "telegram:1", decided_at_ms: 2500 });
      expect(store.access.isPaired("telegram:42")).toBe(true);
      expect(store.access.admission("telegram:42")).toEqual({ allowlisted: false, paired: true });
      expect(store.access.revokePairing("telegram:42", "cli:root", 3000)).toBe(true);
      expect(store.access.revokePairing("telegram:42", "cli:root", 3001)).toBe(false);
      expect(store.access.admission("telegram:42")).toEqual({ allowlisted: false, paired: false });
      expect(store.access.listPairings().map((p) => [p.code, p.status])).toEqual([
        ["GHI789", "pending"],
        ["DEF456", "pending"],
        ["ABC123", "revoked"],
      ]);
      expect(store.access.pairingByCode("NOPE")).toBeUndefined();
      // Pruning: the approved pairing of telegram:43 stays whatever its age; the revoked one and the denied one go once
      // decided before the cut-off, an undecided code once expired before it.
      store.access.insertPairing(
        { code: "JKL012", actor_key: "telegram:43", channel_key: "telegram:dm:43", display: null, expires_at_ms: 1500 },
        500,
      );
      store.access.decidePairing("JKL012", "approved", "telegram:1", 600);
      store.access.decidePairing("DEF456", "denied", "telegram:1", 3200);
      expect(store.access.prunePairings(3100)).toBe(1); // ABC123, revoked at 3000
      expect(store.access.listPairings().map((p) => p.code)).toEqual(["GHI789", "DEF456", "JKL012"]);
      expect(store.access.prunePairings(1_000_000)).toBe(2); // DEF456 denied at 3200, GHI789 expired undecided
      expect(store.access.listPairings().map((p) => [p.code, p.status])).toEqual([["JKL012", "approved"]]);
      expect(store.access.admission("telegram:43")).toEqual({ allowlisted: false, paired: true });
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "pairing attempts are counted per actor since a time",
    async () => {
      const { store } = await engine.open();
      for (const at of [1000, 2000, 3000]) store.access.recordAttempt("telegram:42", at);
      store.access.recordAttempt("telegram:43", 3000);
      expect(store.access.attemptsSince("telegram:42", 1500)).toBe(2);
      expect(store.access.attemptsSince("telegram:42", 0)).toBe(3);
      expect(store.access.attemptsSince("telegram:44", 0)).toBe(0);
      // Attempts no window counts any more are pruned; the rest stay.
      expect(store.access.pruneAttempts(2000)).toBe(2);
      expect(store.access.attemptsSince("telegram:42", 0)).toBe(1);
      expect(store.access.attemptsSince("telegram:43", 0)).toBe(1);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "admissions: another store's allowlist change is seen on the next call, and at the next hold when one is held",
    async () => {
      const opened = await engine.open();
      const { store } = opened;
      const other = engine.reopen(opened);
      expect(store.access.admission("telegram:42")).toEqual({ allowlisted: false, paired: false });
      other.access.addAllowlist(allow("telegram:42"));
      expect(store.access.admission("telegram:42")).toEqual({ allowlisted: true, paired: false });
      store.access.holdAdmissions();
      try {
        other.access.removeAllowlist("telegram:42");
        // Within the hold (the runner's batch) the answer is the one looked up when it began.
        expect(store.access.admission("telegram:42")).toEqual({ allowlisted: true, paired: false });
      } finally {
        store.access.releaseAdmissions();
      }
      expect(store.access.admission("telegram:42")).toEqual({ allowlisted: false, paired: false });
      store.access.holdAdmissions();
      try {
        expect(store.access.admission("telegram:42")).toEqual({ allowlisted: false, paired: false });
      } finally {
        store.access.releaseAdmissions();
      }
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "actor aliases: recorded once, followed transitively nearest first, loops end",
    async () => {
      const { store } = await engine.open();
      expect(store.actorAliases.record("whatsapp:old", "whatsapp:mid", "ev1", 1000)).toBe(true);
      expect(store.actorAliases.record("whatsapp:old", "whatsapp:mid", "ev1", 1000)).toBe(true);
      expect(store.actorAliases.record("whatsapp:mid", "whatsapp:new", "ev2", 2000)).toBe(true);
      expect(store.actorAliases.record("whatsapp:new", "whatsapp:new", null, 3000)).toBe(false);
      expect(store.actorAliases.predecessors("whatsapp:new")).toEqual(["whatsapp:mid", "whatsapp:old"]);
      store.actorAliases.record("whatsapp:new", "whatsapp:old", null, 4000);
      expect(store.actorAliases.predecessors("whatsapp:old")).toEqual(["whatsapp:new", "whatsapp:mid"]);
      expect(store.actorAliases.predecessors("whatsapp:none")).toEqual([]);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "button tokens are one-shot: retiring a target marks its unused tokens once; expired tokens are pruned",
    async () => {
      const { store } = await engine.open();
      const base = { target_hash: "05c7de8e", transport: "telegram", conversation_id: "-100", created_at_ms: 1000, expires_at_ms: 5000 };
      store.buttons.insert({ token: "tau:a", action: "approve", target_id: "ap_1", ...base });
      store.buttons.insert({ token: "tau:b", action: "deny", target_id: "ap_1", ...base });
      store.buttons.insert({ token: "tau:c", action: "pair_approve", target_id: "ABC123", ...base, target_hash: null, expires_at_ms: 900 });
      expect(() => store.buttons.insert({ token: "tau:a", action: "deny", target_id: "ap_2", ...base })).toThrow();
      expect(store.buttons.get("tau:a")).toEqual({
        token: "tau:a",
        action: "approve",
        target_id: "ap_1",
        ...base,
        used_at_ms: null,
        used_by: null,
      });
      expect(store.buttons.retire("ap_1", "telegram:1002", 2000)).toBe(2);
      expect(store.buttons.retire("ap_1", "telegram:1003", 3000)).toBe(0);
      expect(store.buttons.forTarget("ap_1").map((t) => [t.action, t.used_by, t.used_at_ms])).toEqual([
        ["approve", "telegram:1002", 2000],
        ["deny", "telegram:1002", 2000],
      ]);
      expect(store.buttons.prune(1000)).toBe(1);
      expect(store.buttons.get("tau:c")).toBeUndefined();
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "ui: a sign-in link is spent once and never after expiry; a session lives until revoked or expired",
    async () => {
      const { store, query } = await engine.open();
      store.ui.addLoginToken({ token_hash: "h_old", principal: "admin:ann", now: 1000, expires_at_ms: 2000 });
      store.ui.addLoginToken({ token_hash: "h_link", principal: "admin:ann", now: 100_000_000, expires_at_ms: 100_600_000 });
      // Adding a link prunes links expired for more than a day.
      expect(await query("SELECT token_hash FROM ui_login_tokens ORDER BY token_hash")).toEqual([{ token_hash: "h_link" }]);
      expect(store.ui.useLoginToken("h_link", 100_000_001)).toBe("admin:ann");
      expect(store.ui.useLoginToken("h_link", 100_000_002)).toBeUndefined();
      store.ui.addLoginToken({ token_hash: "h_late", principal: "admin:bob", now: 100_000_000, expires_at_ms: 100_000_010 });
      expect(store.ui.useLoginToken("h_late", 100_000_010)).toBeUndefined();
      expect(store.ui.useLoginToken("h_unknown", 100_000_000)).toBeUndefined();
      store.ui.addSession({ session_hash: "s1", principal: "admin:ann", now: 1000, expires_at_ms: 9000 });
      expect(store.ui.session("s1", 2000)).toEqual({
        session_hash: "s1",
        principal: "admin:ann",
        created_at_ms: 1000,
        expires_at_ms: 9000,
        revoked_at_ms: null,
      });
      expect(store.ui.session("s1", 9000)).toBeUndefined();
      store.ui.revokeSession("s1", 3000);
      expect(store.ui.session("s1", 3001)).toBeUndefined();
      expect(store.ui.session("nope", 3001)).toBeUndefined();
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );
});
