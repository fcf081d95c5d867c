/**
 * @module `tau preflight [--online] [--json]`: the readiness gate over enabled transports, state, policy and responders.
 * Prints `key:code` lines (`telegram.token:ready`, `policy.strict_mode:strict_mode_open_dm`); exit 1 on any failure.
 */
import type { Command } from "commander";
import { preflightFor } from "../app/index.ts";
import { formatChecks } from "../lifecycle/index.ts";
import { summarize } from "../lifecycle/readiness.ts";
import { globals } from "./context.ts";
import { servicesFor } from "./services-for.ts";
import { emit } from "./output.ts";

export function registerPreflight(program: Command): void {
  program
    .command("preflight")
    .description("readiness gate over enabled transports: key:code lines, non-zero exit on any failure")
    .option("--online", "also probe each enabled provider")
    .option("--json", "machine-readable")
    .action(async (o: { online?: boolean }, cmd: Command) => {
      const { app, services } = servicesFor(cmd);
      try {
        const report = await preflightFor(app, services.policies.current(), { online: o.online ?? false });
        // Responders: configuration (tools, keys, bindings) and, online, an authenticated probe of each model provider.
        report.checks.push(...services.responders.checks());
        if (o.online)
          for (const [name, r] of Object.entries(app.config.responders)) {
            if (r.kind !== "llm") continue;
            const p = await services.responders.probe(name);
            report.checks.push({ key: `responder.${name}.online`, code: p.ok ? "ready" : p.reason, ok: p.ok, detail: p.detail });
          }
        Object.assign(report, summarize(report.checks));
        emit(
          globals(cmd).json,
          report,
          () => `${formatChecks(report.checks)}\npreflight: ${report.ok ? "pass" : `fail (${report.reason})`}`,
        );
        if (!report.ok) process.exitCode = 1;
      } finally {
        app.close();
      }
    });
}
