/**
 * @module Run queued capability jobs after their decision committed. queued → running is committed before a
 * capability with side effects runs; its result, reply and audit record commit together. A job found `running` at
 * startup was cut off by a crash: it is marked `interrupted` and reported, never silently re-run (its side effect may
 * have happened). A read-only capability (`sideEffect: "read"`) runs straight from `queued`: a crash before its finish
 * leaves it queued, and running it again after the restart repeats nothing but a read (one commit per group, not two).
 */
import type { ReplyTarget } from "../contracts/outbound.ts";
import type { Role } from "../contracts/decision.ts";
import type { DryRunBatch } from "../outbound/deliver.ts";
import { outboxIdFor, queueReplies, type QueuedReply } from "../outbound/outbox.ts";
import type { CommandStore, JobRow } from "../store/index.ts";
import { commandReply } from "./chat-reply.ts";
import { pressReplies, retireButtons } from "./press-result.ts";
import type { CapabilityResult } from "../capabilities/capability.ts";
import { auditEntryFor, runCapability } from "../capabilities/execute.ts";
import type { Services } from "../capabilities/services.ts";

export interface JobRunnerOptions {
  /** Dry-run replies written with the group's commit (stored sent, receipts fsynced just before it), as the runner does. */
  dryRunBatch?: () => DryRunBatch;
}

/** A job that ran, its result, and the status it finishes from (`running` when it was claimed first, else `queued`). */
interface Finished {
  job: JobRow;
  result: CapabilityResult;
  from: "running" | "queued";
}

export function createJobRunner(services: Services, commands: CommandStore, opts: JobRunnerOptions = {}) {
  const { store, config } = services;
  /**
   * One unit of work for a group of finished jobs: statuses, replies, audit records and dry-run receipts. Returns
   * the dry-run reply chunks written with its commit.
   */
  function finishAll(items: Finished[], now: number, fresh?: QueuedReply[]): number {
    if (items.length === 0) return 0;
    const dryRun = opts.dryRunBatch?.();
    try {
      return store.atomically(() => {
        for (const item of items) finish(item, now, fresh, dryRun);
        return dryRun?.write() ?? 0;
      });
    } catch (err) {
      dryRun?.abort();
      throw err;
    }
  }

  /** One job's status, reply, audit record and counter; runs inside `finishAll`'s unit of work. */
  function finish({ job, result, from }: Finished, now: number, fresh?: QueuedReply[], dryRun?: DryRunBatch): void {
    if (!commands.setJob(job.job_id, from, result.status === "reported" ? "done" : "failed", now, JSON.stringify(result))) return;
    const args = JSON.parse(job.args) as Record<string, unknown>;
    // A decided approval or pairing: its buttons (wherever they are) now answer "already decided".
    if (result.status === "reported") retireButtons(store, job.capability_id, args, job.principal, now);
    if (job.reply_target) {
      const target = JSON.parse(job.reply_target) as ReplyTarget;
      const prefix = config.commands.prefix;
      // A button press is answered as one (a Discord slash command's interaction is answered like any command).
      const replies =
        target.interaction && !target.interaction.deferred_command
          ? pressReplies(target, result, prefix, job.principal)
          : [commandReply({ prefix, footer: config.outbound.footer, command: job.command }, result)];
      queueReplies(
        store,
        job.event_id,
        target,
        replies,
        { mode: config.outbound.mode, maxChars: config.outbound.max_chars, now, dryRun },
        // Time-ordered ids (see outboxIdFor): a job's replies land at the outbox indexes' right edge, not on random pages.
        (i) => outboxIdFor(job.job_id, i, job.created_at_ms),
        fresh,
      );
    }
    services.audit(
      auditEntryFor({ id: job.capability_id }, args, { principal: job.principal, surface: job.reply_target ? "chat" : "cli" }, result),
    );
    store.counters.bump(`commands.${result.reason_code}`);
  }

  return {
    /** Mark jobs a crash cut off; their reply says so. */
    recover(): number {
      const now = services.clock();
      const stuck = commands.jobsIn("running");
      finishAll(
        stuck.map((job) => ({
          job,
          from: "running" as const,
          result: {
            status: "failed" as const,
            reason_code: "command_interrupted",
            text: "This command was interrupted by a restart before it finished; check its effect before running it again.",
          },
        })),
        now,
      );
      return stuck.length;
    },
    /**
     * Run every queued job once, in order. Jobs move to `running` in one transaction and finish in groups, so a
     * burst of commands costs a few commits, not two per command. Returns the jobs run and the dry-run reply chunks
     * written with their commits (the runner counts those as delivered).
     */
    async runQueued(fresh?: QueuedReply[]): Promise<{ jobs: number; written: number }> {
      const queued = commands.jobsIn("queued");
      let n = 0;
      let written = 0;
      for (let i = 0; i < queued.length; i += 200) {
        const group = queued.slice(i, i + 200);
        const now = services.clock();
        // Jobs with side effects are marked running first (committed); read-only ones run from `queued` (see the module).
        const readOnly = (job: JobRow) => services.registry.get(job.capability_id)?.sideEffect === "read";
        const toClaim = group.filter((job) => !readOnly(job));
        const claimed = new Set(
          toClaim.length === 0
            ? []
            : store.atomically(() => toClaim.filter((job) => commands.setJob(job.job_id, "queued", "running", now))).map((j) => j.job_id),
        );
        const started = group.filter((job) => claimed.has(job.job_id) || readOnly(job));
        const done: Finished[] = [];
        for (const job of started) {
          const cap = services.registry.get(job.capability_id);
          let result: CapabilityResult;
          if (!cap)
            result = { status: "failed", reason_code: "command_unknown", text: `Capability ${job.capability_id} is no longer available.` };
          else {
            const target = job.reply_target ? (JSON.parse(job.reply_target) as ReplyTarget) : null;
            result = await runCapability(cap, JSON.parse(job.args) as Record<string, unknown>, {
              principal: job.principal,
              role: job.role as Role,
              surface: "chat",
              now,
              services,
              origin: target ? { transport: target.transport, conversation_id: target.conversation_id } : null,
            });
          }
          done.push({ job, result, from: claimed.has(job.job_id) ? "running" : "queued" });
          // A capability with side effects commits its outcome at once; read-only ones finish with the group.
          if (cap && cap.sideEffect !== "read") written += finishAll(done.splice(0), services.clock(), fresh);
        }
        written += finishAll(done, services.clock(), fresh);
        n += started.length;
      }
      return { jobs: n, written };
    },
  };
}

export type JobRunner = ReturnType<typeof createJobRunner>;
