/**
 * @module Discord failures (REST and gateway) → connector reason codes and the status counter they bump.
 * Messages come from discord.js / @discordjs/rest, which never include the token.
 */
import { DiscordAPIError, HTTPError, RateLimitError } from "discord.js";
import { IngressAppendError } from "../shared/ingest.ts";
import type { ConnectorCode } from "../shared/reason-codes.ts";
import type { FailureKind } from "../shared/status-tracker.ts";

export interface DiscordFailure {
  code: ConnectorCode;
  kind: FailureKind;
  status: number | null;
  description: string;
  /** Already counted where it happened (ingress append). */
  counted: boolean;
}

/** Gateway close codes (PROVIDERS.md §2.2 step 10) discord.js will not recover from by itself. */
export function classifyCloseCode(code: number): DiscordFailure {
  const description = `gateway closed with ${code}`;
  if (code === 4004) return { code: "discord_unauthorized", kind: "auth", status: null, description, counted: false };
  if (code === 4013 || code === 4014)
    return { code: "discord_disallowed_intents", kind: "provider", status: null, description, counted: false };
  return { code: "discord_gateway_closed", kind: "provider", status: null, description, counted: false };
}

export function classifyDiscordError(err: unknown): DiscordFailure {
  if (err instanceof IngressAppendError)
    return { code: "ingress_append_failed", kind: null, status: null, description: err.message, counted: true };
  if (err instanceof DiscordAPIError) {
    const base = { status: err.status, description: `${err.status} ${String(err.code)}: ${err.message}`, counted: false };
    if (err.status === 401) return { ...base, code: "discord_unauthorized", kind: "auth" };
    if (err.status === 403) return { ...base, code: "discord_forbidden", kind: "provider" };
    if (err.status === 404) return { ...base, code: "discord_channel_unknown", kind: "provider" };
    if (err.status === 429) return { ...base, code: "discord_rate_limited", kind: "provider" };
    return { ...base, code: "discord_provider_error", kind: "provider" };
  }
  if (err instanceof RateLimitError)
    return { code: "discord_rate_limited", kind: "provider", status: 429, description: err.message, counted: false };
  if (err instanceof HTTPError)
    return { code: "discord_provider_error", kind: "provider", status: err.status, description: err.message, counted: false };
  // discord.js turns a 401 from GET /gateway/bot into DiscordjsError code "TokenInvalid".
  if ((err as { code?: unknown })?.code === "TokenInvalid") {
    return { code: "discord_unauthorized", kind: "auth", status: 401, description: "invalid token", counted: false };
  }
  const description = err instanceof Error ? err.message : String(err);
  return { code: "discord_transport_error", kind: "provider", status: null, description, counted: false };
}
