/**
 * @module Read-only views of the contracts: `communications.provider.status` (routes, mode, cutover phase,
 * live or simulated, credentials present), `communications.policy.status` (consent rules, quiet hours, STOP
 * footer, keywords, registry counts) and `communications.templates.list` (`--channel`).
 */
import { z } from "zod";
import { defineCapability, reported } from "../capability.ts";
import { templatePlaceholders } from "../../policy/templates.ts";
import { withContracts } from "./context.ts";
import { credentialIds, credentialStatus } from "./providers.ts";
import { decideRouting } from "./routing.ts";

export const providerStatusCapability = defineCapability({
  id: "communications.provider.status",
  alias: ["provider", "status"],
  summary: "provider routes, mode, cutover phase, and whether sends would be live",
  args: z.object({}).strict(),
  role: "viewer",
  sideEffect: "read",
  approval: "none",
  run: (_args, ctx) =>
    withContracts(ctx, (c) => {
      const rows = (["email", "sms"] as const).map((channel) => {
        const { route, decision } = decideRouting(c, channel, "");
        const creds = credentialIds(route.provider === "smtp" ? "smtp" : route.provider, c).map((x) =>
          credentialStatus(ctx.services, x.id, x.purpose),
        );
        return {
          channel,
          provider: route.provider,
          mode: route.mode,
          cutover_phase: route.phase,
          live: route.live,
          reason: decision.reason,
          credentials: creds.map(({ id, state, source }) => ({ id, state, source })),
          ready_for_live: creds.every((x) => x.state === "present" || x.id.endsWith("webhook-secret")),
        };
      });
      const text = [
        `Stack mode: ${c.stack.mode}.`,
        ...rows.map(
          (r) =>
            `${r.channel} → ${r.provider}: mode ${r.mode}, phase ${r.cutover_phase}, ${r.live ? "LIVE" : `simulated (${r.reason})`}; credentials ${r.credentials.map((x) => `${x.id} ${x.state}`).join(", ")}.`,
        ),
      ].join("\n");
      return reported("provider_status", text, { stack_mode: c.stack.mode, routes: rows });
    }),
});

export const policyStatusCapability = defineCapability({
  id: "communications.policy.status",
  alias: ["policy", "status"],
  summary: "consent rules, quiet hours, STOP footer and keywords, consent registry counts",
  args: z.object({}).strict(),
  role: "viewer",
  sideEffect: "read",
  approval: "none",
  run: (_args, ctx) =>
    withContracts(ctx, (c) => {
      const p = c.policy;
      const counts = ctx.services.store.comms.consentCounts();
      const text = [
        `Consent: ${Object.entries(p.consent)
          .map(([t, r]) => `${t} ${r.required}`)
          .join(", ")} (never from the chat allowlist).`,
        `Quiet hours: ${p.quiet_hours.start}–${p.quiet_hours.end} in the recipient's time zone (default ${p.default_timezone}) on ${p.quiet_hours.channels.join(", ")}; exempt: ${p.quiet_hours.exempt_message_types.join(", ") || "none"}.`,
        `SMS footer: "${p.sms.stop_footer}" (counted in segments, max ${p.sms.max_segments}). Keywords: out ${p.sms.keywords.opt_out.join("/")}, in ${p.sms.keywords.opt_in.join("/")}, help ${p.sms.keywords.help.join("/")}.`,
        `Registry: ${counts.length ? counts.map((r) => `${r.channel} ${r.status} ${r.n}`).join(", ") : "empty"}. Previews expire after ${p.previews.ttl_minutes} min.`,
      ].join("\n");
      return reported("policy_status", text, { ...p, registry: counts });
    }),
});

export const templatesListCapability = defineCapability({
  id: "communications.templates.list",
  alias: ["templates", "list"],
  summary: "templates by channel and message type, with their variables",
  args: z.object({ channel: z.enum(["email", "sms"]).optional() }).strict(),
  positional: ["channel"],
  role: "viewer",
  sideEffect: "read",
  approval: "none",
  run: (args, ctx) =>
    withContracts(ctx, (c) => {
      const list = Object.entries(c.templates.templates)
        .filter(([, t]) => !args.channel || t.channel === args.channel)
        .map(([id, t]) => ({
          id,
          channel: t.channel,
          message_type: t.message_type,
          description: t.description,
          required: t.required,
          optional: t.optional,
          placeholders: templatePlaceholders(`${t.subject ?? ""}\n${t.body}`),
        }));
      const text = list.length
        ? list
            .map(
              (t) =>
                `${t.id} (${t.channel}, ${t.message_type}): ${t.required.join(", ") || "no variables"}${t.optional.length ? ` [optional ${t.optional.join(", ")}]` : ""}`,
            )
            .join("\n")
        : `No ${args.channel ?? ""} templates.`.replace("  ", " ");
      return reported("templates_listed", text, { templates: list });
    }),
});
