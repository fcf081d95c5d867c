/**
 * @module What a browser principal does, through the one execute path of src/capabilities/execute.ts (surface
 * `web`): validate → RBAC → the gate (a `two_person` capability becomes an approval request a different principal
 * approves; submitting the form is the confirmation of a `confirm` one, as `--yes` is on the CLI) → run → audit.
 * Dead-letter replay is not a capability (as `tau deadletter replay`): the same role check, the same replay and
 * an audit row.
 */
import type { Role } from "../../contracts/decision.ts";
import { appendAudit, redactArgs } from "../../audit/audit-log.ts";
import type { FlagValue } from "../../capabilities/args.ts";
import type { CapabilityResult } from "../../capabilities/capability.ts";
import { authorize, executeCapability, gateFor, requestApproval, validateArgs } from "../../capabilities/execute.ts";
import type { Services } from "../../capabilities/services.ts";
import { listDeadLetters, replayDeadLetters } from "../../outbound/dead-letters.ts";

export interface WebCaller {
  principal: string;
  role: Role;
}

/** Run capability `capabilityId` with `flags` (form fields) as `who`, on surface `web`. Refusals are failed results. */
export async function runWebCapability(
  services: Services,
  capabilityId: string,
  flags: Record<string, FlagValue>,
  who: WebCaller,
): Promise<CapabilityResult> {
  const now = services.clock();
  const cap = services.registry.get(capabilityId);
  if (!cap) return { status: "failed", reason_code: "command_unknown", text: `Unknown capability ${capabilityId}.` };
  const refuse = (reason_code: string, text: string, args: Record<string, unknown>): CapabilityResult => {
    services.audit({ actor: who.principal, surface: "web", action: "command", target: cap.id, args, outcome: "refused", reason_code });
    return { status: "failed", reason_code, text };
  };
  const parsed = validateArgs(cap, [], flags);
  if (!parsed.ok) return refuse("command_args_invalid", `${cap.id}: ${parsed.detail}`, {});
  const args = parsed.args;
  const rbac = services.policies.current()?.rbac;
  const d = rbac ? authorize(cap, who.role, rbac) : null;
  if (!d || d.outcome === "deny")
    return refuse("command_rbac_denied", `${who.principal} is ${who.role}; ${cap.id} needs ${String(d?.detail?.need ?? cap.role)}.`, args);
  // The web form is an explicit submission: a `confirm` capability runs as with --yes; `two_person` asks a second person.
  if (gateFor(cap, "cli") === "request_approval") {
    const nonce = Buffer.from(services.randomBytes(8)).toString("hex");
    const r = requestApproval(services, {
      cap,
      args,
      principal: who.principal,
      role: who.role,
      surface: "web",
      replyTarget: null,
      now,
      seed: `${who.principal}\u0000${cap.id}\u0000${now}\u0000${nonce}`,
    });
    return {
      status: "reported",
      reason_code: "approval_requested",
      text: `${cap.id} needs a second person (two_person): recorded as ${r.id}; another operator approves it on the Approvals page.`,
      data: { approval_id: r.id, args_hash: r.hash, expires_at_ms: r.expires_at_ms },
    };
  }
  return executeCapability(cap, args, { principal: who.principal, role: who.role, surface: "web", now, services, origin: null });
}

/** Re-queue one dead letter (`only`) or all (up to 100); ambiguous rows only when asked. Operators and admins; audited. */
export function replayFromWeb(services: Services, who: WebCaller, opts: { only?: string; includeAmbiguous: boolean }): CapabilityResult {
  const now = services.clock();
  const all = listDeadLetters(services.store, { limit: 100_000 });
  const ids = replayDeadLetters(services.store, { limit: 100, now, includeAmbiguous: opts.includeAmbiguous, only: opts.only });
  const ambiguousLeft = opts.includeAmbiguous
    ? 0
    : all.filter((r) => r.kind === "ambiguous" && (!opts.only || r.outbox_id === opts.only)).length;
  appendAudit(
    services.store,
    {
      actor: who.principal,
      surface: "web",
      action: "deadletter.replay",
      target: `${ids.length} rows`,
      args: { ids, include_ambiguous: opts.includeAmbiguous, ambiguous_left: ambiguousLeft },
      outcome: ids.length ? "executed" : "nothing",
      reason_code: "deadletter_replayed",
    },
    now,
  );
  const left = ambiguousLeft ? `; left ${ambiguousLeft} ambiguous alone (tick "include ambiguous" to re-send)` : "";
  return ids.length
    ? { status: "reported", reason_code: "deadletter_replayed", text: `Re-queued ${ids.length}${left}.`, data: { ids } }
    : { status: "reported", reason_code: "deadletter_nothing", text: `Nothing to replay${left}.` };
}

// Not inside a word: an id such as `ap_013214862f` or a hash carries digit runs that are not phone numbers.
const PHONE = /(?<![\w+])\+?\d[\d ().-]{6,}\d(?!\w)/g;
const BODY_KEY = /^(text|body|message|content|phone|to|from|email|note)$/i;

/** Mask a phone-number-looking run of digits: keep the last two. */
export const maskPhones = (s: string) => s.replace(PHONE, (m) => `…${m.replace(/\D/g, "").slice(-2)}`);

/**
 * Arguments as a page shows them: secrets always "[redacted]" (as in the audit log); message bodies, phone numbers
 * and addresses masked as in logs unless `telemetry.include_identifiers` is on.
 */
export function displayArgs(args: unknown, includeIdentifiers: boolean): string {
  const mask = (v: unknown, key = ""): unknown => {
    if (Array.isArray(v)) return v.map((x) => mask(x, key));
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mask(x, k)]));
    if (includeIdentifiers || typeof v !== "string") return v;
    if (BODY_KEY.test(key) && v.length > 0) return `[${v.length} chars hidden]`;
    return maskPhones(v);
  };
  return JSON.stringify(mask(redactArgs(args)));
}
