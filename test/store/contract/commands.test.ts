/**
 * Store contract, commands family on every engine: approvals and capability jobs (compare-and-set transitions, a job
 * inserted once), the append-only audit log (edits and deletes refused by the database itself), incidents with their
 * action log, and the watchdog's alert state and log.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { AuditRecord } from "../../../src/store/index.ts";
import { contractEngines, ENGINE_HOOK_TIMEOUT_MS } from "./engines.ts";

const approval = (id: string, createdAt: number) => ({
  id,
  capability_id: "deploy",
  command: "deploy",
  args: '{"env":"prod"}',
  args_hash: "05c7de8e",
  requester: "telegram:42",
  requester_role: "operator",
  surface: "telegram",
  approval: "two_person",
  reply_target: '{"transport":"telegram","conversation_id":"1001"}',
  created_at_ms: createdAt,
  expires_at_ms: createdAt + 600_000,
});

const job = (jobId: string) => ({
  job_id: jobId,
  event_id: `ev:${jobId}`,
  capability_id: "deploy",
  command: "deploy",
  args: "{}",
  principal: "telegram:42",
  role: "operator",
  approval_id: null,
  reply_target: null,
});

const audit = (seq: number, prevHash: string): AuditRecord => ({
  seq,
  at_ms: 1000 * seq,
  actor: "cli:root",
  surface: "cli",
  action: "killswitch.on",
  target: "outbound",
  args: '{"reason":"incident"}',
  outcome: "ok",
  reason_code: "killswitch_on",
  prev_hash: prevHash,
  hash: `h${seq}`,
});

describe.each(contractEngines())("store contract: commands, audit, incidents on $name", (engine) => {
  afterEach(() => engine.closeAll());
  afterAll(() => engine.stop(), ENGINE_HOOK_TIMEOUT_MS);

  it(
    "an approval moves by compare-and-set: only the caller that saw the expected status moves it",
    async () => {
      const { store } = await engine.open();
      store.commands.insertApproval(approval("ap_1", 1000));
      store.commands.insertApproval(approval("ap_2", 2000));
      expect(store.commands.approval("ap_1")).toMatchObject({
        status: "pending",
        decided_by: null,
        decided_at_ms: null,
        args_hash: "05c7de8e",
      });
      expect(store.commands.transitionApproval("ap_1", "pending", "approved", "telegram:7", 1500)).toBe(true);
      expect(store.commands.transitionApproval("ap_1", "pending", "denied", "telegram:8", 1501)).toBe(false);
      expect(store.commands.approval("ap_1")).toMatchObject({ status: "approved", decided_by: "telegram:7", decided_at_ms: 1500 });
      expect(store.commands.listApprovals().map((a) => a.id)).toEqual(["ap_2", "ap_1"]);
      expect(store.commands.approval("ap_3")).toBeUndefined();
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "a job is inserted once per id; its status moves by compare-and-set, keeping a result once given",
    async () => {
      const { store } = await engine.open();
      expect(store.commands.insertJob(job("j1"), 1000)).toBe(true);
      expect(store.commands.insertJob(job("j1"), 1001)).toBe(false);
      expect(store.commands.insertJob(job("j2"), 1002)).toBe(true);
      expect(store.commands.jobsIn("queued").map((j) => j.job_id)).toEqual(["j1", "j2"]);
      expect(store.commands.setJob("j1", "queued", "running", 1100)).toBe(true);
      expect(store.commands.setJob("j1", "queued", "running", 1101)).toBe(false);
      expect(store.commands.setJob("j1", "running", "done", 1200, '{"ok":true}')).toBe(true);
      expect(store.commands.jobsIn("done")).toEqual([
        { ...job("j1"), id: expect.any(Number), status: "done", result: '{"ok":true}', created_at_ms: 1000, updated_at_ms: 1200 },
      ]);
      expect(store.commands.setJob("j2", "queued", "interrupted", 1300)).toBe(true);
      expect(store.commands.jobsIn("interrupted")[0]!.result).toBeNull();
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "audit: rows append in sequence with the head kept apart; the database refuses to change or delete one",
    async () => {
      const { store, query } = await engine.open();
      expect(store.audit.tip()).toBeUndefined();
      store.atomically(() => store.audit.append(audit(1, "genesis")));
      store.atomically(() => store.audit.append(audit(2, "h1")));
      store.atomically(() => store.audit.append(audit(3, "h2")));
      expect(store.audit.tip()).toEqual({ seq: 3, hash: "h3" });
      expect(JSON.parse(store.audit.storedHead()!)).toEqual({ seq: 3, hash: "h3" });
      expect(store.audit.all().map((r) => r.seq)).toEqual([1, 2, 3]);
      expect(store.audit.all()[0]).toEqual(audit(1, "genesis"));
      expect(store.audit.between(2000, 3000).map((r) => r.seq)).toEqual([2]);
      expect(store.audit.recent(2).map((r) => r.seq)).toEqual([2, 3]);
      expect(() => store.audit.append(audit(3, "h2"))).toThrow();

      await expect(query("UPDATE audit SET outcome = 'denied' WHERE seq = 2")).rejects.toThrow(/audit is append-only/);
      await expect(query("DELETE FROM audit WHERE seq = 3")).rejects.toThrow(/audit is append-only/);
      await expect(query("DELETE FROM audit")).rejects.toThrow(/audit is append-only/);
      expect(await query("SELECT seq, outcome FROM audit ORDER BY seq")).toEqual([
        { seq: 1, outcome: "ok" },
        { seq: 2, outcome: "ok" },
        { seq: 3, outcome: "ok" },
      ]);
      // The unit of work that tried it through the store is rolled back whole.
      expect(() =>
        store.atomically(() => {
          store.kv.put("audit_probe", "1");
          store.audit.append(audit(2, "forged"));
        }),
      ).toThrow();
      expect(store.kv.get("audit_probe")).toBeUndefined();
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "incidents: open ones listed oldest first, fields written back, ids counted by prefix, actions logged in order",
    async () => {
      const { store } = await engine.open();
      const open = (id: string, at: number) =>
        store.incidents.insert({
          incident_id: id,
          severity: "sev2",
          scope: "outbound",
          trigger_source: "watchdog",
          failure_mode: "stuck",
          owner: "ann",
          follow_up: null,
          at_ms: at,
        });
      open("INC-20261206-1", 1000);
      open("INC-20261206-2", 2000);
      open("INC-20261207-1", 3000);
      expect(store.incidents.countWithPrefix("INC-20261206-")).toBe(2);
      expect(store.incidents.countWithPrefix("INC-2026120_-")).toBe(0);
      const first = store.incidents.get("INC-20261206-1")!;
      expect(first).toMatchObject({ status: "open", containment: null, opened_at_ms: 1000, updated_at_ms: 1000, closed_at_ms: null });
      store.incidents.update({
        ...first,
        status: "closed",
        containment: "kill switch outbound",
        verification_result: "ok",
        updated_at_ms: 5000,
        closed_at_ms: 5000,
      });
      expect(store.incidents.open().map((i) => i.incident_id)).toEqual(["INC-20261206-2", "INC-20261207-1"]);
      expect(store.incidents.recent(2).map((i) => i.incident_id)).toEqual(["INC-20261207-1", "INC-20261206-2"]);
      expect(store.incidents.between(4000, 6000).map((i) => i.incident_id)).toEqual(["INC-20261206-1"]);
      store.incidents.log({
        incident_id: "INC-20261206-1",
        at_ms: 1000,
        actor: "ann",
        action: "open",
        detail: "{}",
        audit_seq: 1,
        audit_hash: "h1",
      });
      store.incidents.log({
        incident_id: "INC-20261206-1",
        at_ms: 5000,
        actor: "ann",
        action: "close",
        detail: '{"note":"done"}',
        audit_seq: 2,
        audit_hash: "h2",
      });
      expect(store.incidents.logOf("INC-20261206-1").map((l) => [l.action, l.audit_seq])).toEqual([
        ["open", 1],
        ["close", 2],
      ]);
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );

  it(
    "alerts: one state row per key (booleans back as booleans), the log newest first, counts per severity and transition",
    async () => {
      const { store } = await engine.open();
      store.alerts.putState({
        alert_key: "runner_stale",
        kind: "runner",
        severity: "critical",
        firing: true,
        since_ms: 1000,
        notified: false,
        last_notified_at_ms: 0,
        summary: "stale",
      });
      store.alerts.putState({
        alert_key: "runner_stale",
        kind: "runner",
        severity: "critical",
        firing: true,
        since_ms: 1000,
        notified: true,
        last_notified_at_ms: 1500,
        summary: "stale 5m",
      });
      expect(store.alerts.states()).toEqual([
        {
          alert_key: "runner_stale",
          kind: "runner",
          severity: "critical",
          firing: true,
          since_ms: 1000,
          notified: true,
          last_notified_at_ms: 1500,
          summary: "stale 5m",
        },
      ]);
      const entry = {
        alert_key: "runner_stale",
        kind: "runner",
        severity: "critical",
        health: "degraded",
        text: "runner stale",
        outbox_ids: '["oa_1"]',
      };
      store.alerts.insert({ ...entry, at_ms: 1500, transition: "firing" });
      store.alerts.insert({ ...entry, at_ms: 2500, transition: "recovered" });
      expect(store.alerts.recent(10).map((a) => a.transition)).toEqual(["recovered", "firing"]);
      expect(store.alerts.between(2000, 3000).map((a) => a.at_ms)).toEqual([2500]);
      expect(store.alerts.counts().sort((a, b) => a.transition.localeCompare(b.transition))).toEqual([
        { severity: "critical", transition: "firing", n: 1 },
        { severity: "critical", transition: "recovered", n: 1 },
      ]);
      // The CHECK on transition holds on every engine.
      expect(() => store.alerts.insert({ ...entry, at_ms: 3000, transition: "exploded" as "firing" })).toThrow();
    },
    ENGINE_HOOK_TIMEOUT_MS,
  );
});
