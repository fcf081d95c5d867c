/**
 * @module The only reader of `process.env`. Everything else receives an `Env` value, so tests and
 * containers can run tau with no config file at all.
 */
import type { z } from "zod";
import { closest } from "./did-you-mean.ts";

/** A frozen snapshot of the environment variables tau cares about. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Snapshot the relevant part of the process environment once, at startup. */
export function readProcessEnv(): Env {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && /^(TAU_|RESEND_|TWILIO_|CI$|NO_COLOR$)/.test(k)) out[k] = v;
  }
  return Object.freeze(out);
}

/** Secrets tau reads from the environment (PRODUCT.md §8). Values are never printed. */
export const SECRET_ENV = {
  "telegram-bot-token": "TAU_TELEGRAM_BOT_TOKEN",
  "telegram-webhook-secret": "TAU_TELEGRAM_WEBHOOK_SECRET",
  "discord-bot-token": "TAU_DISCORD_BOT_TOKEN",
  /** Not secret, but per deployment: the application's Ed25519 key that signs HTTP interactions. */
  "discord-public-key": "TAU_DISCORD_PUBLIC_KEY",
  "whatsapp-access-token": "TAU_WHATSAPP_ACCESS_TOKEN",
  "whatsapp-phone-number-id": "TAU_WHATSAPP_PHONE_NUMBER_ID",
  "whatsapp-app-secret": "TAU_WHATSAPP_APP_SECRET",
  "whatsapp-verify-token": "TAU_WHATSAPP_VERIFY_TOKEN",
  "resend-api-key": "RESEND_API_KEY",
  "resend-webhook-secret": "RESEND_WEBHOOK_SECRET",
  "twilio-account-sid": "TWILIO_ACCOUNT_SID",
  "twilio-auth-token": "TWILIO_AUTH_TOKEN",
  "imap-password": "TAU_IMAP_PASSWORD",
  "smtp-password": "TAU_SMTP_PASSWORD",
  "openai-api-key": "TAU_OPENAI_API_KEY",
  "anthropic-api-key": "TAU_ANTHROPIC_API_KEY",
  "gemini-api-key": "TAU_GEMINI_API_KEY",
  "caldav-password": "TAU_CALDAV_PASSWORD",
  "database-url": "TAU_DATABASE_URL",
} as const;
export type SecretId = keyof typeof SECRET_ENV;

interface ZodDef {
  type: string;
  innerType?: ZodLike;
  shape?: Record<string, ZodLike>;
  element?: ZodLike;
}
interface ZodLike {
  _zod: { def: ZodDef };
}

/** One environment override: `TAU_SERVER_BIND` ↔ path `server.bind`. */
interface EnvOverride {
  name: string;
  path: string[];
  type: string;
}

/** listEnvOverrides of whole schemas: every command start asks twice (unknown `TAU_*` names, then the overrides). */
const overridesOf = new WeakMap<z.ZodType, EnvOverride[]>();

/** Every leaf setting of a zod object schema, with its environment variable name `TAU_<PATH>`. */
export function listEnvOverrides(schema: z.ZodType, prefix: string[] = []): EnvOverride[] {
  if (prefix.length === 0) {
    let all = overridesOf.get(schema);
    if (!all) overridesOf.set(schema, (all = listOverridesAt(schema, [])));
    return all;
  }
  return listOverridesAt(schema, prefix);
}

function listOverridesAt(schema: z.ZodType, prefix: string[]): EnvOverride[] {
  let def = (schema as unknown as ZodLike)._zod.def;
  while ((def.type === "default" || def.type === "prefault" || def.type === "optional") && def.innerType) def = def.innerType._zod.def;
  if (def.type === "object" && def.shape) {
    const shape = def.shape;
    return Object.keys(shape).flatMap((k) => listOverridesAt(shape[k] as unknown as z.ZodType, [...prefix, k]));
  }
  const leafType = def.type === "array" && def.element ? `array` : def.type;
  return [{ name: `TAU_${prefix.join("_").toUpperCase()}`, path: prefix, type: leafType }];
}

/** Short names for the connectors' API roots (`TAU_TELEGRAM_API_ROOT` = `TAU_CONNECTORS_TELEGRAM_API_ROOT`). */
const API_ROOT_ALIASES: Record<string, string> = {
  TAU_TELEGRAM_API_ROOT: "TAU_CONNECTORS_TELEGRAM_API_ROOT",
  TAU_DISCORD_API_ROOT: "TAU_CONNECTORS_DISCORD_API_ROOT",
  TAU_WHATSAPP_API_ROOT: "TAU_CONNECTORS_WHATSAPP_API_ROOT",
};

/** `TAU_*` variables that are not settings or secrets: the CLI's state folder and the secrets key. */
const OTHER_TAU_ENV = ["TAU_STATE_DIR", "TAU_SECRETS_KEY"];

/** Every `TAU_*` name tau reads: settings of `schema`, their aliases, secrets and the CLI's own. */
export function knownTauEnv(schema: z.ZodType): string[] {
  return [
    ...listEnvOverrides(schema).map((o) => o.name),
    ...Object.keys(API_ROOT_ALIASES),
    ...Object.values(SECRET_ENV).filter((n) => n.startsWith("TAU_")),
    ...OTHER_TAU_ENV,
  ];
}

/** `TAU_*` variables set in `env` that tau does not read (a typo is otherwise silently ignored), each with the closest known name. */
export function unknownTauEnv(env: Env, schema: z.ZodType): { name: string; suggestion: string | null }[] {
  const known = knownTauEnv(schema);
  const set = new Set(known);
  return Object.keys(env)
    .filter((k) => k.startsWith("TAU_") && !set.has(k))
    .sort()
    .map((name) => ({ name, suggestion: closest(name, known) }));
}

/** Apply `TAU_<PATH>` overrides onto a raw (unvalidated) config object; returns the applied names. */
export function applyEnvOverrides(raw: Record<string, unknown>, schema: z.ZodType, env: Env): string[] {
  const applied: string[] = [];
  const apiRoots = API_ROOT_ALIASES;
  const lookup = (name: string): string | undefined => {
    if (env[name] !== undefined) return env[name];
    const alias = Object.entries(apiRoots).find(([, full]) => full === name)?.[0];
    return alias ? env[alias] : undefined;
  };
  for (const o of listEnvOverrides(schema)) {
    if (o.name === "TAU_SCHEMA_VERSION") continue;
    const value = lookup(o.name);
    if (value === undefined) continue;
    let parsed: unknown = value;
    if (o.type === "number") parsed = Number(value);
    else if (o.type === "boolean") parsed = value === "true" || value === "1" ? true : value === "false" || value === "0" ? false : value;
    else if (o.type === "array")
      parsed = value
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
    let node: Record<string, unknown> = raw;
    for (const key of o.path.slice(0, -1)) {
      const next = node[key];
      if (next === null || typeof next !== "object" || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[o.path[o.path.length - 1] as string] = parsed;
    applied.push(o.name);
  }
  return applied;
}
