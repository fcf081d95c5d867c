/**
 * @module `tau run`: the service in one process — enabled connectors, the HTTP server (webhooks, /healthz,
 * /readyz, /metrics), the runner and the watchdog (alerts to the ops chats). At start it records its effective
 * configuration, so health read from any shell judges by what this process runs. SIGTERM/SIGINT stop intake
 * (connectors, then the server), let the runner finish its cycle, and exit 0 within a hard cap; SIGHUP reloads
 * policies, communications contracts and tau.yaml (last known good kept, rejections audited).
 */
import type { Command } from "commander";
import { describeError } from "../contracts/errors.ts";
import { startConnectors, type RunningConnectors } from "../app/connectors-runtime.ts";
import type { HttpRuntime } from "../app/http-runtime.ts";
import type { IngressWriter } from "../ingress/index.ts";
import { createAppRunner, healthFor, openIngressWriter } from "../app/index.ts";
import { appFor } from "./context.ts";
import { armHardExit, SHUTDOWN_HARD_CAP_MS, waitForStopSignal } from "./shutdown.ts";
import { recordService, recordServiceStopped } from "../app/record-service.ts";
import { createWatchdog } from "../app/watchdog.ts";
import { reloadConfig } from "./reload-config.ts";
import { watchPolicyGeneration } from "../config/policy-manager.ts";

export function registerRun(program: Command): void {
  program
    .command("run")
    .description("the service: enabled connectors + webhook server + runner; SIGTERM/SIGINT drain and exit, SIGHUP reloads policies")
    .action(async (_o, cmd: Command) => {
      // Commits do not each wait for the disk; every send, ack and answer does (src/store/durability.ts).
      const app = appFor(cmd, { durability: "before-effects" });
      const startedAt = app.clock();
      const { runner, services, close } = createAppRunner(app);
      const watchdog = app.config.alerts.enabled ? createWatchdog(app, services, { startedAt }) : null;
      // What this process runs with, before anything starts: health in any other shell judges by it.
      recordService(app, services, startedAt, watchdog?.targets().length ?? 0);
      const ac = new AbortController();
      const watchdogStop = new AbortController();
      let watchdogLoop: Promise<void> = Promise.resolve();
      let running: RunningConnectors | null = null;
      let ingress: IngressWriter | null = null;
      let http: HttpRuntime | null = null;
      let runLoop: Promise<void> = Promise.resolve();
      let runnerError: unknown = null;
      const onHup = () => {
        const outcome = reloadConfig(app, services, "sighup");
        const status = services.policies.status();
        app.logger.info(
          { event: "policy.reloaded", state: status.state, active_sha256: status.active_sha256, tau_yaml: outcome.tau_yaml },
          "policies reloaded on SIGHUP",
        );
      };
      process.on("SIGHUP", onHup);
      // Nodes sharing a store: a reload published by another node (or `tau policy apply`) is applied here within 1 s.
      const stopPolicySync = watchPolicyGeneration(
        services.policies,
        (o) =>
          app.logger[o.status.state === "ok" ? "info" : "warn"](
            { event: "policy.synced", generation: o.generation, set_by: o.set_by, trigger: o.trigger, state: o.status.state },
            "policies published by a node applied",
          ),
        { onError: (err) => app.logger.warn({ event: "policy.sync_failed", error: describeError(err) }, "policy generation check failed") },
      );
      try {
        // One durable writer for every connector; each acknowledged append wakes the runner, so a webhook is
        // answered without waiting for the idle poll tick.
        const writer = openIngressWriter(app, true);
        ingress = {
          append: (t, e) => writer.append(t, e).then(() => runner.wake()),
          stats: () => writer.stats(),
          ...(writer.readiness ? { readiness: () => writer.readiness!() } : {}),
          close: () => writer.close(),
        };
        running = await startConnectors(app, { ingress });
        const { startHttpServer } = await import("../app/http-runtime.ts");
        http = await startHttpServer(app, running, {
          health: () => healthFor(app),
          ready: () => [{ key: "runner", code: runnerError ? "runner_failed" : "ready", ok: runnerError === null }],
        });
        app.logger.info({ event: "service.started", connectors: [...running.connectors.keys()], url: http.server.url }, "tau is running");
        runLoop = runner.run(ac.signal).catch((err: unknown) => {
          runnerError = err;
        });
        if (watchdog) watchdogLoop = watchdog.run(watchdogStop.signal);
        const stop = await Promise.race([waitForStopSignal(), runLoop.then(() => "runner_stopped" as const)]);
        app.logger.info({ event: "service.stopping", reason: stop }, "stopping");
      } finally {
        armHardExit(SHUTDOWN_HARD_CAP_MS, () =>
          app.logger.warn({ event: "shutdown.forced", after_ms: SHUTDOWN_HARD_CAP_MS }, "shutdown took too long"),
        );
        // The watchdog first: a clean shutdown stops connectors on purpose, which is not an alert.
        watchdogStop.abort();
        await watchdogLoop;
        // Intake first: connectors stop (in-flight appends finish), then the server stops accepting.
        await running?.stop();
        await http?.server.close(3000);
        await ingress?.close();
        // The runner finishes the cycle in progress; what is still queued stays in ingress for the next start.
        ac.abort();
        await runLoop;
        process.off("SIGHUP", onHup);
        stopPolicySync();
        recordServiceStopped(app);
        close();
        app.close();
      }
      if (runnerError) {
        process.stderr.write(`tau: runner failed: ${describeError(runnerError)}\n`);
        process.exitCode = 1;
      } else app.logger.info({ event: "service.stopped" }, "stopped");
    });
}
