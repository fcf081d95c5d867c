/**
 * @module Provider credentials (which secret ids each provider needs, present or missing, from where) and the
 * senders built from the contracts plus those secrets. Values never leave this module except into an adapter.
 */
import type { Services } from "../services.ts";
import { SECRET_ENV } from "../../config/env.ts";
import { apiKeySecretOf, type TauConfig } from "../../config/index.ts";
import type { CommsContracts } from "./contracts.ts";
import type { EmailSender, SmsSender } from "./provider-ports.ts";
import type { ResendAdapterConfig } from "./resend-adapter.ts";
import type { TwilioAdapterConfig } from "./twilio-adapter.ts";

/**
 * The Resend and Twilio SDKs load on the first send or probe, not at startup: together they cost tens of MB of
 * memory that a runner which never sends email or SMS should not carry.
 */
function lazyEmailSender(cfg: ResendAdapterConfig): EmailSender {
  let real: Promise<EmailSender> | null = null;
  const get = () => (real ??= import("./resend-adapter.ts").then((m) => m.createResendAdapter(cfg)));
  return { provider: "resend", send: async (msg) => (await get()).send(msg), probe: async () => (await get()).probe() };
}

function lazySmsSender(cfg: TwilioAdapterConfig): SmsSender {
  let real: Promise<SmsSender> | null = null;
  const get = () => (real ??= import("./twilio-adapter.ts").then((m) => m.createTwilioAdapter(cfg)));
  return { provider: "twilio", send: async (msg) => (await get()).send(msg), probe: async () => (await get()).probe() };
}

export type CredentialTarget = "resend" | "twilio" | "imap" | "smtp" | "openai" | "anthropic" | "gemini";
export const CREDENTIAL_TARGETS: readonly CredentialTarget[] = ["resend", "twilio", "imap", "smtp", "openai", "anthropic", "gemini"];
const LLM_TARGETS = new Set<CredentialTarget>(["openai", "anthropic", "gemini"]);

interface CredentialStatus {
  id: string;
  /** The environment variable that may hold it (PRODUCT.md §8), or null for store-only ids. */
  env: string | null;
  purpose: string;
  state: "present" | "missing";
  /** Where the value came from: the environment wins over the integration store. */
  source: "env" | "store" | null;
}

/** Secret ids per target: what they are for. IMAP/SMTP ids come from stack.yaml. */
export function credentialIds(
  target: CredentialTarget,
  c: CommsContracts | null,
  config?: Pick<TauConfig, "responders">,
): { id: string; purpose: string }[] {
  if (LLM_TARGETS.has(target)) {
    // The keys of the configured responders of this provider; the default id when none is configured.
    const users = Object.entries(config?.responders ?? {}).flatMap(([name, r]) =>
      r.kind === "llm" && r.provider === target ? [{ name, id: apiKeySecretOf(r) }] : [],
    );
    if (users.length === 0) return [{ id: `${target}-api-key`, purpose: `${target} model calls (no responder configured)` }];
    const ids = [...new Set(users.map((u) => u.id))];
    return ids.map((id) => ({
      id,
      purpose: `model calls of responder ${users
        .filter((u) => u.id === id)
        .map((u) => u.name)
        .join(", ")}`,
    }));
  }
  switch (target) {
    case "resend":
      return [
        { id: "resend-api-key", purpose: "send email (Authorization: Bearer)" },
        { id: "resend-webhook-secret", purpose: "verify delivery webhooks (Svix)" },
      ];
    case "twilio":
      return [
        { id: "twilio-account-sid", purpose: "send SMS (account)" },
        { id: "twilio-auth-token", purpose: "send SMS and verify X-Twilio-Signature" },
      ];
    case "imap":
      return [{ id: c?.stack.imap.password_secret ?? "imap-password", purpose: "read mailboxes (IMAP login)" }];
    case "smtp":
      return [{ id: c?.stack.smtp.password_secret ?? "smtp-password", purpose: "submit mail (SMTP AUTH)" }];
    default:
      return [];
  }
}

/**
 * Present or missing, and from where. The stored value is read only to tell env from store: when the resolved
 * value differs from the stored one (or nothing is stored), the environment supplied it.
 */
export function credentialStatus(s: Services, id: string, purpose: string): CredentialStatus {
  const env = (SECRET_ENV as Record<string, string>)[id] ?? null;
  const value = s.secret(id);
  if (value === null || value === "") return { id, env, purpose, state: "missing", source: null };
  const stored = s.store.secrets.get(id);
  return { id, env, purpose, state: "present", source: stored !== null && stored === value ? "store" : "env" };
}

type SenderResult<T> = { ok: true; sender: T } | { ok: false; missing: string[] };

/** The Resend sender for these contracts, or the secret ids that are missing. */
export function emailSenderFor(c: CommsContracts, s: Services): SenderResult<EmailSender> {
  const apiKey = s.secret("resend-api-key");
  if (!apiKey) return { ok: false, missing: ["resend-api-key"] };
  const p = c.providers.providers.resend;
  return { ok: true, sender: lazyEmailSender({ apiKey, baseUrl: p.api_root, timeoutMs: p.timeout_ms }) };
}

/** The Twilio sender for these contracts, or the secret ids that are missing. */
export function smsSenderFor(c: CommsContracts, s: Services): SenderResult<SmsSender> {
  const accountSid = s.secret("twilio-account-sid");
  const authToken = s.secret("twilio-auth-token");
  const missing = [...(accountSid ? [] : ["twilio-account-sid"]), ...(authToken ? [] : ["twilio-auth-token"])];
  if (!accountSid || !authToken) return { ok: false, missing };
  const p = c.providers.providers.twilio;
  return { ok: true, sender: lazySmsSender({ accountSid, authToken, apiRoot: p.api_root, timeoutMs: p.timeout_ms }) };
}
