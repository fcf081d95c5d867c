/**
 * @module `tau channel login|logout|status|probe <transport>`: per-transport lifecycle. Login checks the
 * credentials, creates the ingress file, registers the Telegram webhook (webhook mode with `server.public_url`)
 * and, with `--online`, probes the provider and registers the native command menus (Telegram `setMyCommands` per
 * scope, Discord application commands by bulk overwrite); only when all pass is the transport recorded `logged_in`. Logout
 * records `logged_out` (`logout_requested`): the connector runtime stops it, the transport gate records its
 * events without answering and delivery holds its replies. Every login and logout is audited.
 */
import fs from "node:fs";
import path from "node:path";
import type { AuditEntry } from "../audit/audit-log.ts";
import type { Transport } from "../contracts/envelope.ts";
import type { DiscordCommand, TelegramCommandSet } from "../contracts/native-commands.ts";
import type { ProviderPorts } from "./provider-ports.ts";
import {
  credentialRequirements,
  credentialValue,
  ingressPath,
  summarize,
  transportChecks,
  type Check,
  type ReadinessContext,
} from "./readiness.ts";
import { readLifecycle, writeLifecycle } from "./state.ts";

export interface ChannelDeps extends ReadinessContext {
  ports: ProviderPorts;
  clock: () => number;
  audit(entry: AuditEntry): void;
  /** Who runs the command (`cli:<user>`). */
  actor: string;
  /** The native command menus to register at an online login (built from the capability registry and rbac). */
  nativeCommands?: () => { telegram: readonly TelegramCommandSet[]; discord: readonly DiscordCommand[] };
}

export interface ChannelReport {
  transport: Transport;
  mode: string;
  /** Recorded lifecycle state after the command. */
  state: "logged_in" | "logged_out" | "never_changed";
  ok: boolean;
  /** `ready` or the first failing code. */
  reason: string;
  checks: Check[];
  at_ms: number | null;
}

function report(t: Transport, deps: ChannelDeps, checks: Check[]): ChannelReport {
  const rec = readLifecycle(deps.kv, t);
  const s = summarize(checks);
  return {
    transport: t,
    mode: deps.config.connectors[t].mode,
    state: rec?.state ?? "never_changed",
    ok: s.ok,
    reason: s.reason,
    checks,
    at_ms: rec?.at_ms ?? null,
  };
}

function secretOf(t: Transport, deps: ChannelDeps, key: string): string | null {
  const req = credentialRequirements(t, deps.config).find((r) => r.key === key);
  return req ? credentialValue(req, deps) : null;
}

/** The `<transport>.online` check: `ready` or `probe_online_<transport>_<kind>`; null without a token (its own check fails). */
export async function onlineCheck(t: Transport, deps: ChannelDeps): Promise<Check | null> {
  const key = `${t}.online`;
  const token = secretOf(t, deps, `${t}.token`);
  if (t === "email" || !token) return null;
  const phoneNumberId = t === "whatsapp" ? (secretOf(t, deps, "whatsapp.phone_number_id") ?? undefined) : undefined;
  const r = await deps.ports.probe(t, { token: token ?? "", ...(phoneNumberId ? { phoneNumberId } : {}) });
  return r.ok
    ? { key, code: "ready", ok: true, detail: r.detail }
    : { key, code: `probe_online_${t}_${r.kind}`, ok: false, detail: r.detail };
}

/** Create `state/ingress/<transport>.ndjson` (0600, folder 0700) unless it exists. */
function ensureIngressFile(t: Transport, stateDir: string): Check {
  const key = `${t}.ingress`;
  const file = ingressPath(stateDir, t);
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const st = fs.statSync(file, { throwIfNoEntry: false });
    if (st && !st.isFile()) return { key, code: "ingress_not_file", ok: false, detail: file };
    if (!st) fs.closeSync(fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND, 0o600));
    return { key, code: "ready", ok: true, detail: file };
  } catch (err) {
    return { key, code: "ingress_missing", ok: false, detail: (err as Error).message };
  }
}

/** Telegram webhook mode with a public URL: point Telegram at `<public_url>/webhooks/telegram` with the secret. */
async function telegramWebhookCheck(deps: ChannelDeps): Promise<Check | null> {
  const publicUrl = deps.config.server.public_url.replace(/\/+$/, "");
  if (deps.config.connectors.telegram.mode !== "webhook" || !publicUrl) return null;
  const token = secretOf("telegram", deps, "telegram.token");
  const secret = secretOf("telegram", deps, "telegram.webhook_secret");
  if (!token || !secret) return null; // the credential checks already failed
  const url = `${publicUrl}/webhooks/telegram`;
  const r = await deps.ports.setTelegramWebhook(token, url, secret);
  return r.ok
    ? { key: "telegram.webhook", code: "ready", ok: true, detail: url }
    : { key: "telegram.webhook", code: `probe_online_telegram_${r.kind}`, ok: false, detail: r.detail };
}

/**
 * The `<transport>.commands` check of an online login: Telegram `setMyCommands` for every scope (a refused scope
 * fails the check, the others are still set), or the Discord bulk overwrite. Null for transports without menus.
 */
async function nativeCommandsCheck(t: Transport, deps: ChannelDeps): Promise<Check | null> {
  const key = `${t}.commands`;
  const token = secretOf(t, deps, `${t}.token`);
  if (!deps.nativeCommands || !token) return null;
  if (t === "telegram" && deps.ports.setTelegramCommands) {
    const results = await deps.ports.setTelegramCommands(token, deps.nativeCommands().telegram);
    const bad = results.find((r) => !r.ok);
    const detail = results.map((r) => `${r.scope}: ${r.detail}`).join("; ");
    return bad && !bad.ok
      ? { key, code: `probe_online_telegram_${bad.kind}`, ok: false, detail }
      : { key, code: "ready", ok: true, detail };
  }
  if (t === "discord" && deps.ports.setDiscordCommands) {
    const d = deps.config.connectors.discord;
    const at = { applicationId: deps.config.identity.discord.application_id, guildId: d.commands_guild_id };
    const r = await deps.ports.setDiscordCommands(token, at, deps.nativeCommands().discord);
    return r.ok
      ? { key, code: "ready", ok: true, detail: r.detail }
      : { key, code: `probe_online_discord_${r.kind}`, ok: false, detail: r.detail };
  }
  return null;
}

export async function channelLogin(t: Transport, deps: ChannelDeps, opts: { online: boolean }): Promise<ChannelReport> {
  const checks = transportChecks(t, deps).filter((c) => c.key !== `${t}.ingress` && c.key !== `${t}.lifecycle`);
  if (summarize(checks).ok) checks.push(ensureIngressFile(t, deps.stateDir));
  if (summarize(checks).ok) {
    const hook = await telegramWebhookCheck(deps);
    if (hook) checks.push(hook);
  }
  if (summarize(checks).ok && opts.online) {
    const online = await onlineCheck(t, deps);
    if (online) checks.push(online);
    if (summarize(checks).ok) {
      const commands = await nativeCommandsCheck(t, deps);
      if (commands) checks.push(commands);
    }
  }
  const s = summarize(checks);
  const now = deps.clock();
  if (s.ok) writeLifecycle(deps.kv, t, { state: "logged_in", reason: "ready", at_ms: now });
  deps.audit({
    actor: deps.actor,
    surface: "cli",
    action: "channel.login",
    target: t,
    args: { online: opts.online },
    outcome: s.ok ? "logged_in" : "refused",
    reason_code: s.reason,
  });
  return report(t, deps, checks);
}

export async function channelLogout(t: Transport, deps: ChannelDeps): Promise<ChannelReport> {
  const now = deps.clock();
  writeLifecycle(deps.kv, t, { state: "logged_out", reason: "logout_requested", at_ms: now });
  deps.audit({
    actor: deps.actor,
    surface: "cli",
    action: "channel.logout",
    target: t,
    args: {},
    outcome: "logged_out",
    reason_code: "logout_requested",
  });
  const checks: Check[] = [{ key: `${t}.lifecycle`, code: "logout_requested", ok: true }];
  // Webhook mode: also stop Telegram pushing updates (it keeps them up to 24 h until the next login).
  if (t === "telegram" && deps.config.connectors.telegram.mode === "webhook" && deps.config.server.public_url) {
    const token = secretOf("telegram", deps, "telegram.token");
    if (token) {
      const r = await deps.ports.deleteTelegramWebhook(token);
      checks.push(
        r.ok
          ? { key: "telegram.webhook", code: "ready", ok: true, detail: r.detail }
          : { key: "telegram.webhook", code: `probe_online_telegram_${r.kind}`, ok: false, detail: r.detail },
      );
    }
  }
  const rep = report(t, deps, checks);
  return { ...rep, ok: true, reason: "logout_requested" };
}

/** Offline readiness of one transport (credentials, ingress file, lifecycle). */
export function channelStatus(t: Transport, deps: ChannelDeps): ChannelReport {
  return report(t, deps, transportChecks(t, deps));
}

/** Readiness of one transport, plus the provider probe with `online`. */
export async function channelProbe(t: Transport, deps: ChannelDeps, opts: { online: boolean }): Promise<ChannelReport> {
  const checks = transportChecks(t, deps);
  const online = opts.online ? await onlineCheck(t, deps) : null;
  return report(t, deps, online ? [...checks, online] : checks);
}
