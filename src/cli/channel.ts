/**
 * @module `tau channel login|logout|status|probe <transport> [--online] [--json]`: per-transport lifecycle.
 * Output: a state line then `key:code` checks; `--json` gives the report. Exit 1 when a check fails.
 */
import type { Command } from "commander";
import { lifecycleDepsFor, nativeCommandPlanFor } from "../app/index.ts";
import { appendAudit } from "../audit/audit-log.ts";
import { TRANSPORTS, TransportSchema, type Transport } from "../contracts/envelope.ts";
import { TauError } from "../contracts/errors.ts";
import {
  channelLogin,
  channelLogout,
  channelProbe,
  channelStatus,
  formatChecks,
  type ChannelDeps,
  type ChannelReport,
} from "../lifecycle/index.ts";
import type { App } from "../app/index.ts";
import { appFor, globals } from "./context.ts";
import { emit } from "./output.ts";
import { cliPrincipal } from "./run-capability.ts";

/** Validate a transport argument (usage error otherwise). */
function parseTransport(raw: string): Transport {
  const r = TransportSchema.safeParse(raw.trim().toLowerCase());
  if (!r.success) throw new TauError("USAGE_TRANSPORT", `unknown transport "${raw}"`, { hint: `use one of ${TRANSPORTS.join(", ")}` });
  return r.data;
}

/** The lifecycle dependencies over an open app. */
function channelDeps(app: App): ChannelDeps {
  return {
    ...lifecycleDepsFor(app),
    audit: (e) => void appendAudit(app.store, e, app.clock()),
    actor: cliPrincipal(),
    nativeCommands: () => nativeCommandPlanFor(app),
  };
}

function human(r: ChannelReport): string {
  return [
    `${r.transport}: ${r.state} (${r.reason})${r.mode === "disabled" ? "  [connector mode: disabled]" : ""}`,
    formatChecks(r.checks),
  ].join("\n");
}

function print(cmd: Command, reports: ChannelReport[], single: boolean): void {
  emit(globals(cmd).json, single ? reports[0] : reports, () => reports.map(human).join("\n"));
  if (reports.some((r) => !r.ok)) process.exitCode = 1;
}

export function registerChannel(program: Command): void {
  const ch = program.command("channel").description("per-transport lifecycle: login, logout, status, probe");
  ch.command("login")
    .description("check credentials, create the ingress file, set the Telegram webhook (webhook mode), then mark logged in")
    .argument("<transport>", TRANSPORTS.join(" | "))
    .option("--online", "also probe the provider and register the command menus (Telegram, Discord)")
    .option("--json", "machine-readable")
    .action(async (t: string, o: { online?: boolean }, cmd: Command) => {
      const transport = parseTransport(t);
      const app = appFor(cmd);
      try {
        print(cmd, [await channelLogin(transport, channelDeps(app), { online: o.online ?? false })], true);
      } finally {
        app.close();
      }
    });
  ch.command("logout")
    .description("stop ingest and delivery for a transport (events are recorded, replies held) until the next login")
    .argument("<transport>", TRANSPORTS.join(" | "))
    .option("--json", "machine-readable")
    .action(async (t: string, _o, cmd: Command) => {
      const transport = parseTransport(t);
      const app = appFor(cmd);
      try {
        print(cmd, [await channelLogout(transport, channelDeps(app))], true);
      } finally {
        app.close();
      }
    });
  ch.command("status")
    .description("lifecycle state and offline readiness (all transports when none is given)")
    .argument("[transport]", TRANSPORTS.join(" | "))
    .option("--json", "one JSON array of reports")
    .action((t: string | undefined, _o, cmd: Command) => {
      const transports = t ? [parseTransport(t)] : [...TRANSPORTS];
      const app = appFor(cmd);
      try {
        const deps = channelDeps(app);
        const reports = transports.map((x) => channelStatus(x, deps));
        // `status` reports; it fails only for an explicitly named transport that is not ready. A list command: --json is
        // always an array (of one when a transport is named), so scripts parse one shape.
        emit(globals(cmd).json, reports, () => reports.map(human).join("\n"));
        if (t && !reports[0]!.ok) process.exitCode = 1;
      } finally {
        app.close();
      }
    });
  ch.command("probe")
    .description("readiness of one transport; --online also calls getMe / GET /users/@me / GET /{phone_number_id}")
    .argument("<transport>", TRANSPORTS.join(" | "))
    .option("--online", "call the provider")
    .option("--json", "machine-readable")
    .action(async (t: string, o: { online?: boolean }, cmd: Command) => {
      const transport = parseTransport(t);
      const app = appFor(cmd);
      try {
        print(cmd, [await channelProbe(transport, channelDeps(app), { online: o.online ?? false })], true);
      } finally {
        app.close();
      }
    });
}
