/**
 * @module `communications.consent.set` (`/tau consent set <recipient> <opted_in|opted_out|unknown> [--type T]
 * [--timezone Area/City]`, confirm): record consent an operator holds evidence for (source `cli`), and the
 * recipient's time zone for quiet hours. Audited with the recipient masked. The only manual way into the
 * registry besides Twilio STOP/START; the chat allowlist never is one.
 */
import { z } from "zod";
import { defineCapability, failed, reported } from "../capability.ts";
import { isValidTimeZone } from "../../policy/quiet-hours.ts";
import { validateRecipient } from "../../policy/templates.ts";
import { withContracts } from "./context.ts";
import { maskRecipient, recipientHash } from "./recipients.ts";

export const consentSetCapability = defineCapability({
  id: "communications.consent.set",
  alias: ["consent", "set"],
  summary: "record a recipient's consent (source cli) and time zone, with audit",
  args: z
    .object({
      recipient: z.string().min(1),
      status: z.enum(["opted_in", "opted_out", "unknown"]),
      type: z.string().default("*"),
      timezone: z.string().optional(),
    })
    .strict(),
  positional: ["recipient", "status"],
  role: "operator",
  sideEffect: "write",
  approval: "confirm",
  run: (args, ctx) =>
    withContracts(ctx, (c) => {
      const channel = args.recipient.includes("@") ? "email" : "sms";
      const r = validateRecipient(channel, args.recipient);
      if (r.normalized === null)
        return failed(r.decision.reason, `${args.recipient} is not a valid ${channel === "sms" ? "E.164 number" : "email address"}.`);
      if (args.type !== "*" && !Object.hasOwn(c.policy.consent, args.type)) {
        return failed(
          "consent_message_type_unknown",
          `Unknown message type ${args.type}; policy.yaml declares ${Object.keys(c.policy.consent).join(", ")} (or * for all).`,
        );
      }
      if (args.timezone !== undefined && !isValidTimeZone(args.timezone))
        return failed("recipient_invalid_timezone", `${args.timezone} is not an IANA time zone (e.g. America/New_York).`);
      const s = ctx.services;
      const store = s.store.comms;
      const recipient = r.normalized;
      s.store.atomically(() => {
        store.setConsent({ recipient, channel, message_type: args.type, status: args.status, source: "cli" }, ctx.now);
        if (args.timezone !== undefined) store.setRecipientTimezone(recipient, args.timezone, ctx.now);
        s.audit({
          actor: ctx.principal,
          surface: ctx.surface,
          action: "comms.consent.set",
          target: "comms_consent",
          args: {
            recipient: maskRecipient(recipient),
            recipient_hash: recipientHash(recipient),
            channel,
            type: args.type,
            status: args.status,
            timezone: args.timezone ?? null,
          },
          outcome: args.status,
          reason_code: "consent_recorded",
        });
      });
      const tz = args.timezone ? `; time zone ${args.timezone}` : "";
      return reported(
        "consent_recorded",
        `Recorded ${channel} consent for ${maskRecipient(recipient)}: ${args.type} ${args.status} (source cli)${tz}.`,
        { recipient: maskRecipient(recipient), channel, type: args.type, status: args.status, timezone: args.timezone ?? null },
      );
    }),
});
