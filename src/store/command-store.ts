/**
 * @module Approvals (pending requests with argument hashes and expiry) and capability jobs (queued → running →
 * done/failed/interrupted), so a command's side effect runs at most once even across crashes.
 */
import type { Db } from "./db.ts";

export interface ApprovalRow {
  id: string;
  capability_id: string;
  command: string;
  args: string;
  args_hash: string;
  requester: string;
  requester_role: string;
  surface: string;
  approval: string;
  status: string;
  reply_target: string | null;
  created_at_ms: number;
  expires_at_ms: number;
  decided_by: string | null;
  decided_at_ms: number | null;
}

export interface JobRow {
  job_id: string;
  event_id: string | null;
  capability_id: string;
  command: string;
  args: string;
  principal: string;
  role: string;
  approval_id: string | null;
  status: string;
  reply_target: string | null;
  result: string | null;
  created_at_ms: number;
  updated_at_ms: number;
}

export function createCommandStore(db: Db) {
  const q = {
    insertApproval: db.prepare(
      "INSERT INTO approvals (id, capability_id, command, args, args_hash, requester, requester_role, surface, approval, status, reply_target, created_at_ms, expires_at_ms) " +
        "VALUES (@id, @capability_id, @command, @args, @args_hash, @requester, @requester_role, @surface, @approval, 'pending', @reply_target, @created_at_ms, @expires_at_ms)",
    ),
    approval: db.prepare<[string], ApprovalRow>("SELECT * FROM approvals WHERE id = ?"),
    listApprovals: db.prepare<[], ApprovalRow>("SELECT * FROM approvals ORDER BY created_at_ms DESC LIMIT 200"),
    transition: db.prepare("UPDATE approvals SET status = @to, decided_by = @by, decided_at_ms = @now WHERE id = @id AND status = @from"),
    insertJob: db.prepare(
      "INSERT INTO jobs (job_id, event_id, capability_id, command, args, principal, role, approval_id, status, reply_target, created_at_ms, updated_at_ms) " +
        "VALUES (@job_id, @event_id, @capability_id, @command, @args, @principal, @role, @approval_id, 'queued', @reply_target, @now, @now) ON CONFLICT(job_id) DO NOTHING",
    ),
    insertFinishedJob: db.prepare(
      "INSERT INTO jobs (job_id, event_id, capability_id, command, args, principal, role, approval_id, status, reply_target, result, created_at_ms, updated_at_ms) " +
        "VALUES (@job_id, @event_id, @capability_id, @command, @args, @principal, @role, @approval_id, @status, @reply_target, @result, @now, @now) ON CONFLICT(job_id) DO NOTHING",
    ),
    jobsIn: db.prepare<[string], JobRow>("SELECT * FROM jobs WHERE status = ? ORDER BY id"),
    setJob: db.prepare(
      "UPDATE jobs SET status = @to, result = COALESCE(@result, result), updated_at_ms = @now WHERE job_id = @job_id AND status = @from",
    ),
  };
  return {
    insertApproval: (a: Omit<ApprovalRow, "status" | "decided_by" | "decided_at_ms">) => void q.insertApproval.run(a),
    approval: (id: string): ApprovalRow | undefined => q.approval.get(id),
    listApprovals: (): ApprovalRow[] => q.listApprovals.all(),
    /** Compare-and-set; true only for the one caller that moved it. */
    transitionApproval: (id: string, from: string, to: string, by: string, now: number): boolean =>
      q.transition.run({ id, from, to, by, now }).changes === 1,
    insertJob: (j: Omit<JobRow, "status" | "result" | "created_at_ms" | "updated_at_ms">, now: number): boolean =>
      q.insertJob.run({ ...j, now }).changes === 1,
    /** As `insertJob`, without asking whether the row was new: on PostgreSQL the write then waits for the commit's round trip. */
    queueJob: (j: Omit<JobRow, "status" | "result" | "created_at_ms" | "updated_at_ms">, now: number): void =>
      void q.insertJob.run({ ...j, now }),
    /** A job that already ran (an inline capability, in the decision's unit of work): recorded `done` or `failed` with its result. */
    recordFinishedJob: (
      j: Omit<JobRow, "status" | "result" | "created_at_ms" | "updated_at_ms">,
      status: "done" | "failed",
      result: string,
      now: number,
    ): void => void q.insertFinishedJob.run({ ...j, status, result, now }),
    jobsIn: (status: string): JobRow[] => q.jobsIn.all(status),
    /** Compare-and-set on the job status. */
    setJob: (jobId: string, from: string, to: string, now: number, result: string | null = null): boolean =>
      q.setJob.run({ job_id: jobId, from, to, now, result }).changes === 1,
  };
}

export type CommandStore = ReturnType<typeof createCommandStore>;
