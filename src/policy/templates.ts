/**
 * @module Template rendering with declared variables (`{{name}}` placeholders, one pass, values inserted
 * literally) and recipient address checks (E.164 phone numbers, email addresses). Pure.
 */
import type { Decision } from "../contracts/decision.ts";

/** `{{ name }}`: letters, digits and `_`, not starting with a digit; inner spaces allowed. */
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
/** A variable name as templates declare it. */
export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What rendering needs from a template: texts and the variables it declares. */
export interface TemplateSpec {
  subject: string | null;
  body: string;
  required: readonly string[];
  optional: readonly string[];
}

/** Placeholder names in `text`, in order of first use, without repeats. */
export function templatePlaceholders(text: string): string[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]!))];
}

type RenderResult =
  { ok: true; subject: string | null; body: string; decision: Decision } | { ok: false; decision: Decision; variables: string[] };

function fill(text: string, vars: Readonly<Record<string, string>>): string {
  // A replacer function: `$&` or `{{x}}` inside a value is inserted as-is, never expanded again.
  return text.replace(PLACEHOLDER, (_m, name: string) => vars[name] ?? "");
}

/**
 * Stage `template`: a required variable that is absent or empty, or a placeholder with no value that is not
 * optional, is `template_variable_missing`; a given variable the template does not declare is
 * `template_variable_unknown` (a typo would otherwise be dropped silently). Missing is reported first.
 */
export function renderTemplate(spec: TemplateSpec, vars: Readonly<Record<string, string>>): RenderResult {
  const declared = new Set([...spec.required, ...spec.optional]);
  const used = templatePlaceholders(`${spec.subject ?? ""}\n${spec.body}`);
  const given = (n: string) => Object.hasOwn(vars, n) && vars[n] !== "";
  const missing = [...new Set([...spec.required.filter((n) => !given(n)), ...used.filter((n) => !given(n) && !spec.optional.includes(n))])];
  if (missing.length > 0) {
    return {
      ok: false,
      variables: missing,
      decision: { stage: "template", outcome: "deny", reason: "template_variable_missing", detail: { variables: missing.join(",") } },
    };
  }
  const unknown = Object.keys(vars).filter((n) => !declared.has(n) && !used.includes(n));
  if (unknown.length > 0) {
    return {
      ok: false,
      variables: unknown,
      decision: { stage: "template", outcome: "deny", reason: "template_variable_unknown", detail: { variables: unknown.join(",") } },
    };
  }
  return {
    ok: true,
    subject: spec.subject === null ? null : fill(spec.subject, vars),
    body: fill(spec.body, vars),
    decision: { stage: "template", outcome: "allow", reason: "template_rendered", detail: { variables: Object.keys(vars).length } },
  };
}

/** E.164: `+`, a non-zero country digit, at most 15 digits in all, nothing else (no spaces, dashes or brackets). */
export const E164 = /^\+[1-9]\d{1,14}$/;
// Deliberately simple: one @, no spaces or brackets, a dotted domain of letters, digits and hyphens.
const EMAIL =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/**
 * Stage `recipient`: SMS needs E.164 (`recipient_invalid_phone`); email needs one plain address of at most 254
 * characters (`recipient_invalid_email`). The normalized form (email lower-cased) is the consent registry key.
 */
export function validateRecipient(channel: "email" | "sms", to: string): { decision: Decision; normalized: string | null } {
  const deny = (reason: string) => ({
    decision: { stage: "recipient", outcome: "deny" as const, reason, detail: { channel } },
    normalized: null,
  });
  if (channel === "sms") {
    if (!E164.test(to)) return deny("recipient_invalid_phone");
    return { decision: { stage: "recipient", outcome: "allow", reason: "recipient_valid", detail: { channel } }, normalized: to };
  }
  const local = to.split("@")[0] ?? "";
  if (to.length > 254 || local.length > 64 || !EMAIL.test(to) || local.startsWith(".") || local.endsWith(".") || local.includes("..")) {
    return deny("recipient_invalid_email");
  }
  return {
    decision: { stage: "recipient", outcome: "allow", reason: "recipient_valid", detail: { channel } },
    normalized: to.toLowerCase(),
  };
}
