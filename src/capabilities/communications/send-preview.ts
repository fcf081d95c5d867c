/**
 * @module `communications.send.preview` (`/tau send preview <template> <to> --vars '{…}'`): render a template
 * under every policy gate and store a preview receipt with its `preview_id` — blocked previews too, with the
 * reason — for `send execute`.
 */
import { z } from "zod";
import { commandHint, defineCapability, failed, reported } from "../capability.ts";
import { newId, withContracts } from "./context.ts";
import { evaluateSend } from "./send-gate.ts";
import { maskRecipient } from "./recipients.ts";

const Args = z
  .object({
    template: z.string().min(1),
    to: z.string().min(1),
    channel: z.enum(["email", "sms"]).optional(),
    /** One `name=value` (chat/CLI), or several as a list (JSON callers). */
    var: z.union([z.string(), z.array(z.string())]).optional(),
    /** A JSON object of variables, or the object itself. */
    vars: z.union([z.string(), z.record(z.string(), z.union([z.string(), z.number()]))]).optional(),
  })
  .strict();

/** Merge `--vars` JSON and `--var k=v` into one string map, or say what is wrong. */
function parseVars(args: {
  var?: string | string[] | undefined;
  vars?: string | Record<string, string | number> | undefined;
}): { ok: true; vars: Record<string, string> } | { ok: false; detail: string } {
  const out: Record<string, string> = {};
  if (args.vars !== undefined) {
    let obj: unknown = args.vars;
    if (typeof obj === "string") {
      try {
        obj = JSON.parse(obj);
      } catch {
        return { ok: false, detail: '--vars must be a JSON object like \'{"customer_name":"Ana"}\'' };
      }
    }
    if (!obj || typeof obj !== "object" || Array.isArray(obj)) return { ok: false, detail: "--vars must be a JSON object" };
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
      if (typeof v !== "string" && typeof v !== "number") return { ok: false, detail: `--vars ${k}: values must be strings or numbers` };
      out[k] = String(v);
    }
  }
  for (const kv of args.var === undefined ? [] : Array.isArray(args.var) ? args.var : [args.var]) {
    const eq = kv.indexOf("=");
    if (eq <= 0) return { ok: false, detail: `--var ${kv}: expected name=value` };
    out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return { ok: true, vars: out };
}

export const sendPreviewCapability = defineCapability({
  id: "communications.send.preview",
  alias: ["send", "preview"],
  summary: "render a template under consent, quiet-hours and routing policy; returns a preview_id",
  args: Args,
  positional: ["template", "to"],
  role: "operator",
  // Only a receipt in tau's own state (like the audit log): nothing leaves tau, so the CLI asks no confirmation
  // and `preview_id=$(tau cap run communications.send.preview … --json | jq …)` works as in the runbook.
  sideEffect: "read",
  approval: "none",
  run: (args, ctx) =>
    withContracts(ctx, (c) => {
      const s = ctx.services;
      const parsed = parseVars(args);
      if (!parsed.ok) return failed("template_vars_invalid", parsed.detail);
      const store = s.store.comms;
      const ev = evaluateSend(
        c,
        { templateId: args.template, channel: args.channel ?? null, to: args.to, vars: parsed.vars },
        (recipient, channel) => ({ consent: store.consentFacts(recipient, channel), timezone: store.recipientTimezone(recipient) }),
        ctx.now,
      );
      const previewId = newId(s, "pv");
      const expires = ctx.now + c.policy.previews.ttl_minutes * 60_000;
      const routing = ev.route ? { ...ev.route, reason: ev.decisions.find((d) => d.stage === "routing")?.reason ?? null } : null;
      s.store.atomically(() => {
        store.insertPreview({
          preview_id: previewId,
          template_id: args.template,
          channel: ev.channel ?? args.channel ?? "unknown",
          message_type: ev.messageType ?? "unknown",
          recipient: ev.recipient ?? args.to,
          subject: ev.subject,
          body: ev.body ?? "",
          vars_hash: ev.varsHash,
          basis_hash: ev.basisHash,
          basis: JSON.stringify(ev.basis),
          decision: JSON.stringify(ev.decisions),
          routing: JSON.stringify(routing),
          reason_code: ev.reason,
          requested_by: ctx.principal,
          status: ev.allowed ? "ready" : "blocked",
          created_at_ms: ctx.now,
          expires_at_ms: expires,
        });
        s.audit({
          actor: ctx.principal,
          surface: ctx.surface,
          action: "comms.send.preview",
          target: previewId,
          args: { template: args.template, channel: ev.channel, vars_hash: ev.varsHash },
          outcome: ev.allowed ? "ready" : "blocked",
          reason_code: ev.reason,
        });
      });
      const masked = ev.recipient ? maskRecipient(ev.recipient) : "(invalid recipient)";
      const data = {
        preview_id: previewId,
        status: ev.allowed ? "ready" : "blocked",
        reason_code: ev.reason,
        template: args.template,
        channel: ev.channel,
        message_type: ev.messageType,
        recipient: masked,
        timezone: ev.timezone,
        subject: ev.subject,
        body: ev.body,
        segments: ev.segments,
        routing,
        decisions: ev.decisions,
        expires_at_ms: expires,
      };
      if (!ev.allowed) {
        const why = ev.decisions.find((d) => d.outcome === "deny");
        const detail = why?.detail
          ? ` (${Object.entries(why.detail)
              .map(([k, v]) => `${k} ${v}`)
              .join(", ")})`
          : "";
        return failed(ev.reason, `Preview ${previewId} is blocked: ${ev.reason}${detail}. Nothing can be sent from it.`, data);
      }
      const how = ev.route!.live ? `LIVE via ${ev.route!.provider}` : `simulated via ${ev.route!.provider} (${routing?.reason})`;
      const seg = ev.segments ? `, ${ev.segments.segments} segment(s) ${ev.segments.encoding}` : "";
      return reported(
        "preview_ready",
        [
          `Preview ${previewId}: ${ev.channel} ${args.template} to ${masked}, ${how}${seg}.`,
          ...(ev.subject !== null ? [`Subject: ${ev.subject}`] : []),
          "---",
          ev.body ?? "",
          "---",
          `Send it: ${commandHint(ctx, "communications.send.execute", [previewId])} (expires in ${c.policy.previews.ttl_minutes} min).`,
        ].join("\n"),
        data,
      );
    }),
});
