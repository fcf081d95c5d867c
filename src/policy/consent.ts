/**
 * @module Consent for communications (PRODUCT.md §9): its own registry per recipient, channel and message type,
 * never inferred from the chat allowlist or pairing. Also the SMS keyword classifier (STOP/START/HELP). Pure.
 */
import type { Decision } from "../contracts/decision.ts";

export type ConsentStatus = "opted_in" | "opted_out" | "unknown";
type ConsentRequirement = "opt_in" | "not_required";

/** One registry row for this recipient and channel: `message_type` is a type name or `*` (all types). */
export interface ConsentFact {
  message_type: string;
  status: ConsentStatus;
  updated_at_ms: number;
  source: string;
}

interface EffectiveConsent {
  status: ConsentStatus;
  matched_by: "message_type" | "wildcard" | "none";
  fact: ConsentFact | null;
}

/**
 * The consent that applies to `messageType`: the most recent row for that type or `*` (a STOP after an opt-in
 * wins, and so does a START after a STOP). On equal times `opted_out` beats `opted_in` beats `unknown`, then the specific row wins.
 */
export function effectiveConsent(facts: readonly ConsentFact[], messageType: string): EffectiveConsent {
  const statusRank: Record<ConsentStatus, number> = { unknown: 0, opted_in: 1, opted_out: 2 };
  const rank = (f: ConsentFact) => [f.updated_at_ms, statusRank[f.status], f.message_type === "*" ? 0 : 1];
  const newer = (a: number[], b: number[]) => {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
    return false;
  };
  let best: ConsentFact | null = null;
  for (const f of facts) {
    if (f.message_type !== messageType && f.message_type !== "*") continue;
    if (!best || newer(rank(f), rank(best))) best = f;
  }
  if (!best) return { status: "unknown", matched_by: "none", fact: null };
  return { status: best.status, matched_by: best.message_type === "*" ? "wildcard" : "message_type", fact: best };
}

/**
 * Stage `consent`. An opt-out always blocks (`consent_opted_out`), whatever the requirement. With `opt_in`
 * required, only an opt-in passes (`consent_opted_in`; else `consent_unknown`). With `not_required`, anything
 * but an opt-out passes (`consent_opted_in` when there is one, else `consent_not_required`).
 */
export function decideConsent(input: {
  channel: string;
  messageType: string;
  requirement: ConsentRequirement;
  facts: readonly ConsentFact[];
}): Decision {
  const eff = effectiveConsent(input.facts, input.messageType);
  const detail = {
    channel: input.channel,
    message_type: input.messageType,
    required: input.requirement,
    status: eff.status,
    source: eff.fact?.source ?? null,
  };
  const decision = (outcome: "allow" | "deny", reason: string): Decision => ({
    stage: "consent",
    outcome,
    reason,
    matched_by: eff.matched_by,
    detail,
  });
  if (eff.status === "opted_out") return decision("deny", "consent_opted_out");
  if (eff.status === "opted_in") return decision("allow", "consent_opted_in");
  return input.requirement === "opt_in" ? decision("deny", "consent_unknown") : decision("allow", "consent_not_required");
}

export type SmsKeyword = "opt_out" | "opt_in" | "help";

interface SmsKeywords {
  opt_out: readonly string[];
  opt_in: readonly string[];
  help: readonly string[];
}

/**
 * The keyword an inbound SMS is, or null. Like carriers and Twilio, the whole message must be the keyword:
 * case-insensitive, surrounding whitespace and trailing punctuation ignored ("Stop." is STOP; "stop it" is not).
 */
export function classifySmsKeyword(body: string, keywords: SmsKeywords): SmsKeyword | null {
  const word = body
    .trim()
    .replace(/[.!?]+$/u, "")
    .trim()
    .toUpperCase();
  if (word === "") return null;
  const has = (list: readonly string[]) => list.some((k) => k.toUpperCase() === word);
  if (has(keywords.opt_out)) return "opt_out";
  if (has(keywords.opt_in)) return "opt_in";
  if (has(keywords.help)) return "help";
  return null;
}
