/**
 * @module `communications.inbox.poll` (`/tau inbox poll`): one catch-up round of the email connector: new mail
 * since each watched mailbox's cursor becomes `email` envelopes in ingress (fsynced before the cursor moves).
 * Works whether or not the connector runs; a round racing the running connector can append an event twice,
 * which the runner's event-id dedupe absorbs.
 */
import { z } from "zod";
import type { ConnectorDeps } from "../../contracts/connector.ts";
import { defineCapability, failed, reported, type Capability } from "../capability.ts";
import type { Services } from "../services.ts";
import { openConfiguredIngressWriter } from "../../ingress/index.ts";
import { createLogger } from "../../log.ts";
import { loadStackFor, type MailRuntime } from "./mail-context.ts";

/**
 * The kv prefix the connectors runtime puts before connector cursor keys (`CURSOR_PREFIX` in
 * src/app/connectors-runtime.ts, not imported here to keep capabilities free of the runtime): a poll round and the
 * running connector share one cursor per mailbox.
 */
export const CONNECTOR_CURSOR_PREFIX = "connector:";

function depsOf(services: Services, ingress: ConnectorDeps["ingress"]): ConnectorDeps {
  return {
    ingress,
    cursors: {
      get: (k) => services.store.kv.get(CONNECTOR_CURSOR_PREFIX + k),
      put: (k, v) => services.store.kv.put(CONNECTOR_CURSOR_PREFIX + k, v),
    },
    identity: services.config.identity,
    logger: createLogger({ level: services.config.log.level, includeIdentifiers: services.config.telemetry.include_identifiers }),
    clock: services.clock,
    secret: (id) => services.secret(id),
  };
}

export function createPollInboxCapability(rt: MailRuntime): Capability<Record<string, never>> {
  return defineCapability({
    id: "communications.inbox.poll",
    alias: ["inbox", "poll"],
    summary: "one catch-up round: new mail since the cursor → email envelopes in ingress",
    args: z.object({}).strict() as z.ZodType<Record<string, never>>,
    role: "operator",
    sideEffect: "write",
    approval: "none",
    run: async (_args, ctx) => {
      const services = ctx.services;
      const loaded = loadStackFor(services);
      if (!loaded.ok) return loaded.result;
      if (loaded.stack.mode === "simulation") {
        return reported("inbox_poll_simulation", "Simulation mode: no IMAP server is polled; nothing was ingested.", {
          mode: "simulation",
          appended: 0,
        });
      }
      // Files or JetStream, as `ingress.driver` says (the same writer webhooks and pollers use).
      const writer = openConfiguredIngressWriter(services.config, services.stateDir);
      try {
        const built = services.emailConnector(depsOf(services, writer), {
          adapters: rt.adapters,
          timeoutMs: rt.timeoutMs,
          ignoreMode: true,
        });
        if (!built.connector) return failed(built.reason, `Inbox poll: ${built.detail}`, { mode: loaded.stack.mode, appended: 0 });
        const round = await built.connector.pollOnce();
        const data = { mode: loaded.stack.mode, appended: round.appended, reason_code: round.code };
        if (!round.ok)
          return failed(
            round.code ?? "email_drain_failed",
            `Inbox poll failed: ${round.code} (${round.appended} new message(s) ingested before the failure).`,
            data,
          );
        return reported("inbox_poll_ok", `Inbox poll: ${round.appended} new message${round.appended === 1 ? "" : "s"} ingested.`, data);
      } finally {
        await writer.close();
      }
    },
  });
}
