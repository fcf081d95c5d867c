/** @module The runner with the standard pipeline, job execution and delivery, holding the one-runner-per-state lock. */
import { tokenSealOf } from "./token-seal.ts";
import type { App } from "./open-app.ts";
import { createServices, lookupSecret } from "./services.ts";
import { createDecisionPipeline } from "./pipeline.ts";
import { createRequestBuilders } from "./transports.ts";
import path from "node:path";
import { createDelivery } from "../outbound/deliver.ts";
import { buildPipeline } from "../router/pipeline.ts";
import { sha256Hex } from "../outbound/sha256-hex.ts";
import type { Services } from "../capabilities/services.ts";
import { createJobRunner } from "../commands/job-runner.ts";
import { createProviderDelivery } from "../outbound/provider.ts";
import { createProviderSenders } from "./provider-senders.ts";
import { createPacer } from "../outbound/pacing.ts";
import { createPacedSenders, createPacingGate } from "../outbound/pacing-senders.ts";
import { createOperationalGate } from "../capabilities/killswitch/index.ts";
import { createRunner } from "../runner/runner.ts";
import { jetStreamSourceFor, type JetStreamSource } from "../runner/jetstream-source.ts";
import { replyTargetOf } from "../contracts/reply-target.ts";
import { acquireLifetimeLock } from "../store/index.ts";
import { createResponderRuntime } from "./responders.ts";
import type { CycleReport } from "../runner/runner-state.ts";
import { nodeIdOf } from "./cluster.ts";

/**
 * The runner with the standard pipeline and job execution, holding the one-runner-per-state lock. `opts.stream`: the
 * JetStream source to read instead of the one `ingress.driver: nats` opens (a test wraps the real one).
 */
export function createAppRunner(app: App, opts: { services?: Services; stream?: JetStreamSource } = {}) {
  const lock = acquireLifetimeLock(path.join(app.stateDir, "runner.lock"), "tau runner");
  const { config, store } = app;
  const services = opts.services ?? createServices(app);
  const commands = app.store.commands;
  const gate = createOperationalGate(app.store, app.clock);
  const providerSenders = createProviderSenders(config, (id) => lookupSecret(app, id), app.loaded.policiesDir, tokenSealOf(app));
  const pacing = config.outbound.pacing;
  const pacer = createPacer({ clock: app.clock, maxWaitMs: pacing.max_wait_ms });
  const delivery = createDelivery({
    store,
    senders: createRequestBuilders(config),
    dryRunFile: path.join(app.stateDir, "outbox", "dry-run.ndjson"),
    provider: createProviderDelivery({
      store,
      senders: createPacedSenders(providerSenders, pacer, pacing, app.clock),
      retry: config.outbound,
      clock: app.clock,
      logger: app.logger,
    }),
    blocked: (t) => gate.deliveryBlock(t),
    pacing: createPacingGate(pacer, pacing),
    clock: app.clock,
    node: nodeIdOf(config),
  });
  const jobs = createJobRunner(services, commands, { dryRunBatch: () => delivery.dryRunBatch() });
  /**
   * Queued capability jobs are looked for after a batch that queued one (or one recovered at start), and at most once a
   * second otherwise — for jobs another node queued and could not run (it died) — not after every cycle: on PostgreSQL
   * each look is a round trip.
   */
  const JOBS_POLL_MS = 1000;
  let jobsDue = true;
  let jobsLookedAt = -Infinity;
  // Late-bound: the worker wakes the runner (to deliver its replies) and the runner kicks the worker after commits.
  let wakeRunner = () => {};
  const responders = createResponderRuntime(app, services, {
    dryRunBatch: () => delivery.dryRunBatch(),
    senders: providerSenders,
    silenced: () => gate.respondersSilenced(),
    deliveryBlock: (t) => gate.deliveryBlock(t),
    onReplies: () => wakeRunner(),
    deliverNow: (ids) => delivery.deliverNow(ids),
  });
  const runner = createRunner({
    config,
    stateDir: app.stateDir,
    store,
    clock: app.clock,
    logger: app.logger,
    delivery,
    // `ingress.driver: nats`: the cluster's durable JetStream consumer instead of this node's ingress files.
    stream: config.ingress.driver === "nats" ? (opts.stream ?? jetStreamSourceFor(config)) : undefined,
    buildPipeline: (seen) => createDecisionPipeline(services, seen, gate),
    persistExtras: (ctx) => {
      const rj = ctx.responderJob;
      const jobId = rj ? "rj_" + sha256Hex(ctx.env.event_id).slice(0, 24) : "";
      if (rj)
        store.responders.insertJob(
          {
            job_id: jobId,
            event_id: ctx.env.event_id,
            responder: rj.responder,
            conversation_key: rj.conversation_key,
            session_key: rj.session_key,
            principal: rj.principal,
            role: rj.role,
            envelope: JSON.stringify(ctx.env),
            route: JSON.stringify(ctx.route),
            reply_target: JSON.stringify(replyTargetOf(ctx.env)),
          },
          ctx.now,
        );
      // Claimed in this same commit when it can start at once: the worker starts it right after (no claim commit).
      if (rj) responders?.claimInBatch(jobId, ctx.now);
      ctx.jobs.forEach((j, i) => {
        const row = {
          job_id: "job_" + sha256Hex(`${ctx.env.event_id}\u0000${i}`).slice(0, 24),
          event_id: ctx.env.event_id,
          capability_id: j.capability_id,
          command: j.command,
          args: JSON.stringify(j.args),
          principal: j.principal,
          role: j.role,
          approval_id: j.approval_id,
          reply_target: JSON.stringify(replyTargetOf(ctx.env)),
        };
        // An inline capability already ran (its reply and audit record are the event's): record the job finished.
        if (!j.result) {
          jobsDue = true;
          return commands.queueJob(row, ctx.now);
        }
        commands.recordFinishedJob(row, j.result.status === "reported" ? "done" : "failed", JSON.stringify(j.result), ctx.now);
        store.counters.bump(`commands.${j.result.reason_code}`);
      });
    },
    afterCommit: async (fresh) => {
      responders?.kick();
      const now = app.clock();
      if (!jobsDue && now - jobsLookedAt < JOBS_POLL_MS) return 0;
      jobsDue = false;
      jobsLookedAt = now;
      try {
        return (await jobs.runQueued(fresh)).written;
      } catch (err) {
        jobsDue = true;
        throw err;
      }
    },
    onStart: () => {
      jobs.recover();
    },
  });
  wakeRunner = () => runner.wake();
  let recovered = false;
  const recoverResponders = () => {
    if (recovered || !responders) return;
    recovered = true;
    responders.recover();
  };
  return {
    /**
     * The runner with the responder worker: `drain` (`tau process --once`) also runs responder jobs to the end and
     * delivers their replies; `run` runs both until the signal aborts.
     */
    runner: {
      ...runner,
      async drain(maxCycles?: number): Promise<CycleReport[]> {
        recoverResponders();
        const reports = await runner.drain(maxCycles);
        if (!responders) return reports;
        await responders.drain();
        reports.push(...(await runner.drain(maxCycles)));
        return reports;
      },
      async run(signal: AbortSignal): Promise<void> {
        recoverResponders();
        await Promise.all([runner.run(signal), responders?.run(signal)]);
      },
    },
    responders,
    services,
    close() {
      runner.close();
      lock.release();
    },
  };
}
