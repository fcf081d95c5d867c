/**
 * @module Readiness checks as `key:code` pairs (`telegram.token:ready`, `telegram.webhook_secret:
 * missing_telegram_webhook_secret`, `state.writable:ready` …). `tau channel status|probe|login` run the checks
 * of one transport; `tau preflight` (and `/readyz`) run them over every *enabled* transport plus state and
 * policy. Any check that is not `ready` fails the gate.
 */
import fs from "node:fs";
import path from "node:path";
import { TRANSPORTS, type Transport } from "../contracts/envelope.ts";
import type { TauConfig } from "../config/index.ts";
import type { PolicySet } from "../config/policy-set.ts";
import { checkChannelPolicy } from "../policy/index.ts";
import type { CredentialReader } from "./secrets.ts";
import { readLifecycle, type KvPort } from "./state.ts";

export interface Check {
  key: string;
  code: string;
  ok: boolean;
  detail?: string;
}

export interface ReadinessContext {
  config: TauConfig;
  stateDir: string;
  credentials: CredentialReader;
  kv: KvPort;
}

interface Requirement {
  key: string;
  secret: string;
  missing: string;
  /** A non-secret fallback from tau.yaml. */
  fallback?: (c: TauConfig) => string;
}

/** Credentials each transport needs, by connector mode (PRODUCT.md §8). */
export function credentialRequirements(t: Transport, config: TauConfig): Requirement[] {
  const c = config.connectors;
  switch (t) {
    case "telegram":
      return [
        { key: "telegram.token", secret: "telegram-bot-token", missing: "missing_telegram_bot_token" },
        ...(c.telegram.mode === "webhook"
          ? [{ key: "telegram.webhook_secret", secret: "telegram-webhook-secret", missing: "missing_telegram_webhook_secret" }]
          : []),
      ];
    case "discord":
      return [{ key: "discord.token", secret: "discord-bot-token", missing: "missing_discord_bot_token" }];
    case "whatsapp":
      return [
        { key: "whatsapp.token", secret: "whatsapp-access-token", missing: "missing_whatsapp_access_token" },
        {
          key: "whatsapp.phone_number_id",
          secret: "whatsapp-phone-number-id",
          missing: "missing_whatsapp_phone_number_id",
          fallback: (cfg) => cfg.identity.whatsapp.phone_number_id,
        },
        ...(c.whatsapp.mode === "webhook"
          ? [
              { key: "whatsapp.app_secret", secret: "whatsapp-app-secret", missing: "missing_whatsapp_app_secret" },
              { key: "whatsapp.verify_token", secret: "whatsapp-verify-token", missing: "missing_whatsapp_verify_token" },
            ]
          : []),
      ];
    case "email":
      return [];
  }
}

/** The value of a requirement (secret, else the config fallback), or null. */
export function credentialValue(req: Requirement, ctx: ReadinessContext): string | null {
  return ctx.credentials.read(req.secret).value ?? (req.fallback?.(ctx.config) || null);
}

function credentialChecks(t: Transport, ctx: ReadinessContext): Check[] {
  return credentialRequirements(t, ctx.config).map((req) => {
    const cred = ctx.credentials.read(req.secret);
    if (cred.value) return { key: req.key, code: "ready", ok: true, detail: `from ${cred.source}` };
    if (req.fallback?.(ctx.config)) return { key: req.key, code: "ready", ok: true, detail: "from tau.yaml" };
    if (cred.error) return { key: req.key, code: cred.error, ok: false };
    return { key: req.key, code: req.missing, ok: false };
  });
}

/** `state/ingress/<transport>.ndjson`. */
export function ingressPath(stateDir: string, t: Transport): string {
  return path.join(stateDir, "ingress", `${t}.ndjson`);
}

function ingressCheck(t: Transport, stateDir: string): Check {
  const key = `${t}.ingress`;
  try {
    const st = fs.statSync(ingressPath(stateDir, t));
    return st.isFile() ? { key, code: "ready", ok: true } : { key, code: "ingress_not_file", ok: false, detail: ingressPath(stateDir, t) };
  } catch {
    return { key, code: "ingress_missing", ok: false, detail: `run: tau channel login ${t}` };
  }
}

function lifecycleCheck(t: Transport, kv: KvPort): Check {
  const rec = readLifecycle(kv, t);
  return rec?.state === "logged_out"
    ? { key: `${t}.lifecycle`, code: "logout_requested", ok: false, detail: `logged out at ${new Date(rec.at_ms).toISOString()}` }
    : { key: `${t}.lifecycle`, code: "ready", ok: true };
}

/**
 * Discord interaction tokens are sealed as they arrive (a node that cannot seal refuses interactions rather than keep
 * their tokens in clear): on a shared store that takes TAU_SECRETS_KEY.
 */
function tokenSealCheck(ctx: ReadinessContext): Check {
  const problem = ctx.credentials.sealProblem();
  return problem === null
    ? { key: "discord.interaction_tokens", code: "ready", ok: true }
    : { key: "discord.interaction_tokens", code: "credential_store_unreadable", ok: false, detail: problem };
}

/** Credentials, ingress file and lifecycle of one transport. */
export function transportChecks(t: Transport, ctx: ReadinessContext): Check[] {
  const seal = t === "discord" ? [tokenSealCheck(ctx)] : [];
  return [...credentialChecks(t, ctx), ...seal, ingressCheck(t, ctx.stateDir), lifecycleCheck(t, ctx.kv)];
}

/** Transports whose connector mode is not `disabled`, in the stable order. */
export function enabledTransports(config: TauConfig): Transport[] {
  return TRANSPORTS.filter((t) => config.connectors[t].mode !== "disabled");
}

/** The state folder accepts new files, and the credential store is readable. */
export function stateChecks(ctx: ReadinessContext): Check[] {
  let writable: Check = { key: "state.writable", code: "ready", ok: true };
  const probe = path.join(ctx.stateDir, `.preflight-${process.pid}`);
  try {
    fs.writeFileSync(probe, "", { mode: 0o600 });
    fs.unlinkSync(probe);
  } catch (err) {
    writable = { key: "state.writable", code: "state_not_writable", ok: false, detail: (err as Error).message };
  }
  const problem = ctx.credentials.storeProblem();
  const store: Check =
    problem === null
      ? { key: "credentials.store", code: "ready", ok: true }
      : { key: "credentials.store", code: "credential_store_unreadable", ok: false, detail: problem };
  return [writable, store];
}

/** The active policy set exists and passes strict mode (warnings, with strictMode off, do not fail). */
export function policyChecks(policies: PolicySet | null): Check[] {
  if (!policies)
    return [
      { key: "policy.load", code: "deny_channel_policy_load_error", ok: false, detail: "no policy set could be loaded; tau fails closed" },
    ];
  const errors = checkChannelPolicy(policies.channel).filter((i) => i.severity === "error");
  return [
    { key: "policy.load", code: "ready", ok: true },
    errors.length
      ? { key: "policy.strict_mode", code: errors[0]!.code, ok: false, detail: errors.map((e) => e.message).join("; ") }
      : { key: "policy.strict_mode", code: "ready", ok: true },
  ];
}

/** The first failing code, or `ready`. */
export function summarize(checks: readonly Check[]): { ok: boolean; reason: string } {
  const bad = checks.find((c) => !c.ok);
  return { ok: !bad, reason: bad?.code ?? "ready" };
}

/** `key:code` lines. */
export function formatChecks(checks: readonly Check[]): string {
  return checks.map((c) => `${c.key}:${c.code}`).join("\n");
}
