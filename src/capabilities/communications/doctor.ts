/**
 * @module `/tau auth status [provider]` and `/tau doctor [--online]` (operator): which credentials are present
 * (never their values: `present`/`missing` and env or store), whether the contracts load, what blocks live
 * sends and webhooks, and — online — whether Resend and Twilio accept the credentials at the configured API
 * roots. Every failing check says what to fix.
 */
import { z } from "zod";
import { defineCapability, failed, reported } from "../capability.ts";
import type { Services } from "../services.ts";
import { describeError } from "../../contracts/errors.ts";
import { loadCommsContracts, type CommsContracts } from "./contracts.ts";
import { commsDirOf, flag } from "./context.ts";
import { CREDENTIAL_TARGETS, credentialIds, credentialStatus, emailSenderFor, smsSenderFor, type CredentialTarget } from "./providers.ts";
import { calendarDoctorChecks } from "../calendar/index.ts";
import { decideRouting } from "./routing.ts";

function fixFor(id: string, env: string | null): string {
  return env ? `export ${env}=… or \`echo … | tau secrets set ${id}\`` : `\`echo … | tau secrets set ${id}\``;
}

export const authStatusCapability = defineCapability({
  id: "communications.auth.status",
  alias: ["auth", "status"],
  summary: "which provider credentials are present (never their values) and where they come from",
  args: z.object({ provider: z.enum(CREDENTIAL_TARGETS as [CredentialTarget, ...CredentialTarget[]]).optional() }).strict(),
  positional: ["provider"],
  role: "operator",
  sideEffect: "read",
  approval: "none",
  run: (args, ctx) => {
    let c: CommsContracts | null = null;
    try {
      c = loadCommsContracts(commsDirOf(ctx.services));
    } catch {
      // Invalid contracts: the IMAP/SMTP secret ids fall back to their defaults; `doctor` reports the error.
      c = null;
    }
    // Model providers are listed when a responder uses them (or when asked for by name).
    const llmInUse = new Set(Object.values(ctx.services.config.responders).flatMap((r) => (r.kind === "llm" ? [r.provider] : [])));
    const targets = args.provider
      ? [args.provider]
      : CREDENTIAL_TARGETS.filter((t) => !["openai", "anthropic", "gemini"].includes(t) || llmInUse.has(t as "openai"));
    const rows = targets.flatMap((t) =>
      credentialIds(t, c, ctx.services.config).map((x) => ({ provider: t, ...credentialStatus(ctx.services, x.id, x.purpose) })),
    );
    const text = rows
      .map(
        (r) =>
          `${r.provider} ${r.id}: ${r.state}${r.source ? ` (${r.source}${r.source === "env" && r.env ? ` ${r.env}` : ""})` : ""} — ${r.purpose}${r.state === "missing" ? `; fix: ${fixFor(r.id, r.env)}` : ""}`,
      )
      .join("\n");
    const missing = rows.filter((r) => r.state === "missing").length;
    return reported(missing ? "auth_credentials_missing" : "auth_credentials_present", text, { credentials: rows });
  },
});

interface Check {
  check: string;
  status: "pass" | "warn" | "fail";
  reason_code: string;
  detail: string;
  fix: string | null;
}

function offlineChecks(s: Services, c: CommsContracts): Check[] {
  const checks: Check[] = [];
  const add = (check: string, status: Check["status"], reason_code: string, detail: string, fix: string | null = null) =>
    checks.push({ check, status, reason_code, detail, fix });
  add(
    "stack.mode",
    "pass",
    `stack_mode_${c.stack.mode.replace("-", "_")}`,
    `stack mode ${c.stack.mode}${c.stack.mode === "simulation" ? ": every send is simulated" : ""}`,
  );
  for (const channel of ["email", "sms"] as const) {
    const { route, decision } = decideRouting(c, channel, "");
    const target = route.provider === "smtp" ? "smtp" : route.provider;
    const creds = credentialIds(target, c)
      .filter((x) => !x.id.endsWith("webhook-secret"))
      .map((x) => credentialStatus(s, x.id, x.purpose));
    const missing = creds.filter((x) => x.state === "missing");
    const wantsLive = route.mode === "live" && route.phase !== "shadow";
    add(
      `route.${channel}`,
      decision.outcome === "deny" ? "fail" : "pass",
      decision.reason,
      `${channel} → ${route.provider}: mode ${route.mode}, phase ${route.phase}, ${route.live ? "LIVE" : "simulated"}`,
      decision.outcome === "deny" ? `route ${channel} to resend in providers.yaml, or keep ${route.provider} in simulation` : null,
    );
    for (const m of missing) {
      add(
        `credentials.${m.id}`,
        wantsLive ? "fail" : "warn",
        "credential_missing",
        `${m.id} is missing (${m.purpose})${wantsLive ? "; live sends will fail" : ""}`,
        fixFor(m.id, m.env),
      );
    }
  }
  const token = credentialStatus(s, "twilio-auth-token", "");
  if (s.config.server.public_url === "")
    add(
      "webhook.twilio",
      "warn",
      "webhook_public_url_missing",
      "server.public_url is empty: Twilio signatures cannot be checked, so STOP/START webhooks are refused",
      "set server.public_url in tau.yaml to the https URL Twilio calls",
    );
  else if (token.state === "missing")
    add(
      "webhook.twilio",
      "warn",
      "credential_missing",
      "twilio-auth-token is missing: inbound SMS webhooks are refused",
      fixFor("twilio-auth-token", token.env),
    );
  else
    add("webhook.twilio", "pass", "webhook_ready", `Twilio webhook URL ${s.config.server.public_url.replace(/\/+$/, "")}/webhooks/twilio`);
  const whsec = credentialStatus(s, "resend-webhook-secret", "");
  add(
    "webhook.resend",
    whsec.state === "present" ? "pass" : "warn",
    whsec.state === "present" ? "webhook_ready" : "credential_missing",
    whsec.state === "present" ? "Resend webhook secret present" : "resend-webhook-secret is missing: delivery webhooks are refused (401)",
    whsec.state === "present" ? null : fixFor("resend-webhook-secret", whsec.env),
  );
  return checks;
}

async function onlineChecks(s: Services, c: CommsContracts): Promise<Check[]> {
  const checks: Check[] = [];
  const probe = async (
    name: string,
    root: string,
    r:
      | { ok: true; sender: { probe(): Promise<{ ok: boolean; reason_code: string; detail: string; http_status: number | null }> } }
      | { ok: false; missing: string[] },
  ) => {
    if (!r.ok) {
      checks.push({
        check: `probe.${name}`,
        status: "warn",
        reason_code: "probe_skipped_credentials_missing",
        detail: `not probed: missing ${r.missing.join(", ")}`,
        fix: `set ${r.missing.join(", ")}`,
      });
      return;
    }
    const p = await r.sender.probe();
    checks.push({
      check: `probe.${name}`,
      status: p.ok ? "pass" : "fail",
      reason_code: p.ok ? "probe_ok" : `probe_online_${name}_${p.reason_code.replace(/^provider_/, "")}`,
      detail: `${root}: ${p.detail}${p.http_status !== null ? ` (HTTP ${p.http_status})` : ""}`,
      fix: p.ok ? null : p.reason_code === "provider_auth_failed" ? `check the ${name} credentials` : `check ${root} and the network`,
    });
  };
  await probe("resend", c.providers.providers.resend.api_root, emailSenderFor(c, s));
  await probe("twilio", c.providers.providers.twilio.api_root, smsSenderFor(c, s));
  return checks;
}

/** The responders' configuration checks, and (online) an authenticated probe of each llm responder's provider. */
async function responderChecks(s: Services, online: boolean): Promise<Check[]> {
  const checks: Check[] = s.responders.checks().map((c) => ({
    check: c.key,
    status: c.ok ? "pass" : "fail",
    reason_code: c.code === "ready" ? "responder_ready" : c.code,
    detail: c.detail ?? c.code,
    fix: c.ok ? null : "fix the path named, then tau preflight",
  }));
  if (!online) return checks;
  for (const [name, r] of Object.entries(s.config.responders)) {
    if (r.kind !== "llm") continue;
    const p = await s.responders.probe(name);
    checks.push({
      check: `probe.responder.${name}`,
      status: p.ok ? "pass" : "fail",
      reason_code: p.ok ? "probe_ok" : `probe_online_${r.provider}_${p.reason.replace(/^responder_model_/, "")}`,
      detail: `${r.provider} ${r.model}: ${p.detail}`,
      fix: p.ok
        ? null
        : p.reason === "responder_model_auth_failed"
          ? `check the ${r.provider} key (tau auth status ${r.provider})`
          : "check base_url and the network",
    });
  }
  return checks;
}

export const doctorCapability = defineCapability({
  id: "communications.doctor",
  alias: ["doctor"],
  summary: "check contracts, credentials, routes, webhooks and responders (--online also probes Resend, Twilio and the model providers)",
  args: z.object({ online: flag }).strict(),
  role: "operator",
  sideEffect: "read",
  approval: "none",
  run: async (args, ctx) => {
    const s = ctx.services;
    let c: CommsContracts;
    try {
      c = loadCommsContracts(commsDirOf(s));
    } catch (err) {
      const detail = describeError(err);
      return failed("doctor_failed", `✗ contracts: ${detail}`, {
        checks: [
          { check: "contracts", status: "fail", reason_code: "comms_contract_invalid", detail, fix: "fix the file at the line shown" },
          ...(await responderChecks(s, args.online)),
          ...(await calendarDoctorChecks(s, args.online)),
        ],
      });
    }
    const checks: Check[] = [
      {
        check: "contracts",
        status: "pass",
        reason_code: "comms_contracts_valid",
        detail: `${Object.keys(c.files).length} contracts valid in ${c.dir}`,
        fix: null,
      },
      ...offlineChecks(s, c),
    ];
    if (args.online) checks.push(...(await onlineChecks(s, c)));
    checks.push(...(await responderChecks(s, args.online)));
    checks.push(...(await calendarDoctorChecks(s, args.online)));
    const mark = { pass: "✓", warn: "!", fail: "✗" } as const;
    const text = checks.map((x) => `${mark[x.status]} ${x.check}: ${x.detail}${x.fix ? ` — fix: ${x.fix}` : ""}`).join("\n");
    const fails = checks.filter((x) => x.status === "fail").length;
    const warns = checks.filter((x) => x.status === "warn").length;
    const data = { checks, online: args.online };
    if (fails) return failed("doctor_failed", `${text}\n${fails} failing, ${warns} warning.`, data);
    return reported(warns ? "doctor_warnings" : "doctor_ok", `${text}\n${warns ? `${warns} warning(s).` : "All checks pass."}`, data);
  },
});
