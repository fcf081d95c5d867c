/**
 * @module `tau connectors run [--once]` (the connectors alone: they only write ingress; webhook connectors
 * get the HTTP server) and `tau connectors status [--json]` (per connector, from state, so it works while
 * another process runs them).
 */
import type { Command } from "commander";
import type { ConnectorStatus } from "../contracts/connector.ts";
import { readConnectorStatuses, startConnectors } from "../app/connectors-runtime.ts";
import type { HttpRuntime } from "../app/http-runtime.ts";
import { healthFor, type App } from "../app/index.ts";
import { appFor, globals } from "./context.ts";
import { emit, table } from "./output.ts";
import { armHardExit, SHUTDOWN_HARD_CAP_MS, waitForStopSignal } from "./shutdown.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function statusTable(rows: ConnectorStatus[]): string {
  return table([
    [
      "transport",
      "mode",
      "liveness",
      "ingested",
      "duplicates",
      "retries",
      "auth_fail",
      "parse_fail",
      "provider_fail",
      "last_error",
      "last_success",
      "last_error_at",
    ],
    ...rows.map((s) => [
      s.transport,
      s.mode,
      s.liveness,
      s.events_ingested,
      s.duplicates_skipped,
      s.retry_attempts,
      s.auth_failures,
      s.parse_failures,
      s.provider_failures,
      s.last_error_code,
      iso(s.last_success_unix_ms),
      iso(s.last_error_unix_ms),
    ]),
  ]);
}

/** Run the enabled connectors until SIGTERM/SIGINT: stop intake first, then the server, then exit 0. */
async function runUntilSignal(app: App): Promise<void> {
  const running = await startConnectors(app);
  if (running.connectors.size === 0) {
    process.stderr.write("tau: no connector is enabled (connectors.<transport>.mode in tau.yaml)\n");
    process.exitCode = 1;
    await running.stop();
    return;
  }
  let http: HttpRuntime | null = null;
  try {
    // Hono and prom-client load only when a server is needed.
    if (running.routes.length > 0)
      http = await (await import("../app/http-runtime.ts")).startHttpServer(app, running, { health: () => healthFor(app) });
    const sig = await waitForStopSignal();
    app.logger.info({ event: "connectors.stopping", signal: sig }, "stopping connectors");
  } finally {
    armHardExit(SHUTDOWN_HARD_CAP_MS, () =>
      app.logger.warn({ event: "shutdown.forced", after_ms: SHUTDOWN_HARD_CAP_MS }, "shutdown took too long"),
    );
    await running.stop();
    await http?.server.close(3000);
  }
}

export function registerConnectors(program: Command): void {
  const group = program.command("connectors").description("inbound connectors (they only write ingress)");

  group
    .command("run")
    .description("run the enabled connectors alone until SIGTERM/SIGINT (webhook connectors get the HTTP server)")
    .option("--once", "one poll round for each polling connector, then exit (webhook connectors are skipped)")
    .option("--json", "machine-readable summary (with --once)")
    .action(async (o: { once?: boolean }, cmd: Command) => {
      const app = appFor(cmd);
      try {
        if (!o.once) return await runUntilSignal(app);
        const running = await startConnectors(app, { start: false });
        const results = await running.pollOnce();
        await running.stop();
        emit(
          globals(cmd).json,
          results,
          () =>
            Object.entries(results)
              .map(([t, r]) => `${t}: ${r.ok ? "ok" : "failed"}, appended ${r.appended}${r.code ? ` (${r.code})` : ""}`)
              .join("\n") || "no polling connector is enabled",
        );
        process.exitCode = Object.values(results).every((r) => r.ok) ? 0 : 1;
      } finally {
        app.close();
      }
    });

  group
    .command("status")
    .description("per connector: liveness, events ingested, duplicates, retries, auth/parse/provider failures, last error code and times")
    .option("--json", "machine-readable (array of connector statuses)")
    .action((_o, cmd: Command) => {
      const app = appFor(cmd);
      try {
        const rows = readConnectorStatuses(app);
        emit(globals(cmd).json, rows, () => statusTable(rows));
      } finally {
        app.close();
      }
    });
}
