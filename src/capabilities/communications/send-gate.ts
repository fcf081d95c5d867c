/**
 * @module The send gates, in order: template → recipient → rendering → consent → quiet hours → SMS length →
 * routing. Every gate's decision is kept; the first denial is the reason. Also the preview "basis": hashes of
 * everything a send depends on, so execute can tell a stale preview from a valid one. No I/O: facts come in.
 */
import type { Decision } from "../../contracts/decision.ts";
import { decideConsent, effectiveConsent, type ConsentFact } from "../../policy/consent.ts";
import { decideQuietHours } from "../../policy/quiet-hours.ts";
import { decideSmsLength, type SmsSegmentCount } from "../../policy/sms-segments.ts";
import { renderTemplate, validateRecipient } from "../../policy/templates.ts";
import type { CommsContracts, CommsTemplate } from "./contracts.ts";
import { sha256 } from "./context.ts";
import { decideRouting, type Route } from "./routing.ts";

/** Registry facts about one recipient on one channel. */
interface RecipientFacts {
  consent: ConsentFact[];
  /** From the recipient record; null → `policy.default_timezone`. */
  timezone: string | null;
}

interface SendRequest {
  templateId: string;
  /** When given, it must match the template's channel. */
  channel: "email" | "sms" | null;
  to: string;
  vars: Record<string, string>;
}

interface SendEvaluation {
  allowed: boolean;
  /** First denial's reason, or `preview_ready`. */
  reason: string;
  decisions: Decision[];
  template: CommsTemplate | null;
  channel: "email" | "sms" | null;
  messageType: string | null;
  recipient: string | null;
  timezone: string | null;
  subject: string | null;
  /** Final text: rendered body, plus the STOP footer for SMS. */
  body: string | null;
  segments: SmsSegmentCount | null;
  route: Route | null;
  basis: Record<string, string>;
  basisHash: string;
  varsHash: string;
}

/** Canonical JSON (sorted keys) so hashes do not depend on key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}
const h = (v: unknown) => sha256(canonical(v));

/** The rule that applies to this channel and type, or null when quiet hours do not apply. */
function quietRule(c: CommsContracts, channel: "email" | "sms", messageType: string) {
  const q = c.policy.quiet_hours;
  return q.channels.includes(channel) && !q.exempt_message_types.includes(messageType) ? { start: q.start, end: q.end } : null;
}

/** The exact message a preview will send. */
interface PreviewMessage {
  recipient: string;
  subject: string | null;
  body: string;
}

/**
 * What a send depends on, part by part: the message itself (so an edited preview row is caught), the template
 * definition, the consent rule, quiet hours, SMS rules, routing and the recipient's effective consent. A change
 * in any part makes a preview stale.
 */
function basisOf(
  c: CommsContracts,
  templateId: string,
  channel: "email" | "sms",
  messageType: string,
  route: Route,
  consent: ConsentFact[],
  message: PreviewMessage,
): Record<string, string> {
  const eff = effectiveConsent(consent, messageType);
  return {
    message: h(message),
    template: h(c.templates.templates[templateId] ?? null),
    consent_rule: h(c.policy.consent[messageType] ?? null),
    quiet_hours: h(c.policy.quiet_hours),
    sms: h(channel === "sms" ? { footer: c.policy.sms.stop_footer, max_segments: c.policy.sms.max_segments } : null),
    routing: h(route),
    consent: h(
      eff.fact
        ? { status: eff.status, type: eff.fact.message_type, at: eff.fact.updated_at_ms, source: eff.fact.source }
        : { status: eff.status },
    ),
  };
}

function consentGate(c: CommsContracts, channel: "email" | "sms", messageType: string, facts: RecipientFacts): Decision {
  const rule = c.policy.consent[messageType];
  return decideConsent({ channel, messageType, requirement: rule?.required ?? "opt_in", facts: facts.consent });
}

/** Evaluate a new send under every gate (the preview). */
export function evaluateSend(
  c: CommsContracts,
  req: SendRequest,
  factsFor: (recipient: string, channel: "email" | "sms") => RecipientFacts,
  now: number,
): SendEvaluation {
  const decisions: Decision[] = [];
  const varsHash = h(req.vars);
  const out: SendEvaluation = {
    allowed: false,
    reason: "",
    decisions,
    template: null,
    channel: req.channel,
    messageType: null,
    recipient: null,
    timezone: null,
    subject: null,
    body: null,
    segments: null,
    route: null,
    basis: {},
    basisHash: "",
    varsHash,
  };
  const finish = (): SendEvaluation => {
    const deny = decisions.find((d) => d.outcome === "deny");
    out.allowed = deny === undefined;
    out.reason = deny?.reason ?? "preview_ready";
    out.basisHash = h(out.basis);
    return out;
  };
  const template = c.templates.templates[req.templateId];
  if (!template) {
    decisions.push({ stage: "template", outcome: "deny", reason: "template_unknown", detail: { template: req.templateId } });
    return finish();
  }
  out.template = template;
  out.channel = template.channel;
  out.messageType = template.message_type;
  if (req.channel !== null && req.channel !== template.channel) {
    decisions.push({
      stage: "template",
      outcome: "deny",
      reason: "template_channel_mismatch",
      detail: { template: req.templateId, template_channel: template.channel, channel: req.channel },
    });
    return finish();
  }
  const recipient = validateRecipient(template.channel, req.to);
  decisions.push(recipient.decision);
  const rendered = renderTemplate(template, req.vars);
  decisions.push(rendered.decision);
  if (recipient.normalized === null) return finish();
  out.recipient = recipient.normalized;
  const facts = factsFor(recipient.normalized, template.channel);
  out.timezone = facts.timezone ?? c.policy.default_timezone;
  decisions.push(consentGate(c, template.channel, template.message_type, facts));
  decisions.push(decideQuietHours({ rule: quietRule(c, template.channel, template.message_type), timeZone: out.timezone, now }));
  if (rendered.ok) {
    out.subject = rendered.subject;
    out.body = rendered.body;
    if (template.channel === "sms") {
      const sms = decideSmsLength({ body: rendered.body, footer: c.policy.sms.stop_footer, maxSegments: c.policy.sms.max_segments });
      decisions.push(sms.decision);
      out.body = sms.text;
      out.segments = sms.count;
    }
  }
  const routing = decideRouting(c, template.channel, recipient.normalized);
  decisions.push(routing.decision);
  out.route = routing.route;
  out.basis = basisOf(c, req.templateId, template.channel, template.message_type, routing.route, facts.consent, {
    recipient: recipient.normalized,
    subject: out.subject,
    body: out.body ?? "",
  });
  return finish();
}

interface Revalidation {
  /** Basis parts that differ from the preview's (`template` also when the template was removed). */
  changed: string[];
  decisions: Decision[];
  /** The first denial among consent, quiet hours and routing now; null when all pass. */
  denied: Decision | null;
  route: Route | null;
}

/** Re-check a stored preview at execute time: current contracts, consent, clock and routing. */
export function revalidatePreview(
  c: CommsContracts,
  p: {
    template_id: string;
    channel: "email" | "sms";
    message_type: string;
    recipient: string;
    subject: string | null;
    body: string;
    basis: Record<string, string>;
  },
  facts: RecipientFacts,
  now: number,
): Revalidation {
  const template = c.templates.templates[p.template_id];
  if (!template || template.channel !== p.channel || template.message_type !== p.message_type) {
    return { changed: ["template"], decisions: [], denied: null, route: null };
  }
  const routing = decideRouting(c, p.channel, p.recipient);
  const basis = basisOf(c, p.template_id, p.channel, p.message_type, routing.route, facts.consent, {
    recipient: p.recipient,
    subject: p.subject,
    body: p.body,
  });
  const changed = Object.keys(basis).filter((k) => basis[k] !== p.basis[k]);
  const decisions = [
    consentGate(c, p.channel, p.message_type, facts),
    decideQuietHours({ rule: quietRule(c, p.channel, p.message_type), timeZone: facts.timezone ?? c.policy.default_timezone, now }),
    routing.decision,
  ];
  return { changed, decisions, denied: decisions.find((d) => d.outcome === "deny") ?? null, route: routing.route };
}
