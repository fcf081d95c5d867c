/**
 * @module Composition for native commands (issue 12 §2): the command plan from the capability registry, the
 * rbac overrides in force and the configured ops chats — what `tau channel login` registers (Telegram
 * `setMyCommands` per scope, Discord bulk overwrite) and what the Discord connector resolves slash commands with.
 */
import type { App } from "./open-app.ts";
import { createRegistry } from "./registry.ts";
import { DEFAULT_RBAC, type RbacFile } from "../contracts/policy.ts";
import type { Role } from "../contracts/decision.ts";
import type { InteractionTextResolver } from "../contracts/native-commands.ts";
import { interactionCommandText, planNativeCommands, type NativeCommandPlan } from "../commands/native-commands.ts";
import { loadPolicySet, policySetFromSources } from "../config/policy-set.ts";

/** rbac.yaml as last known good (what the runner enforces), else as on disk, else the defaults. */
function rbacOf(app: App): RbacFile {
  try {
    const lkg = app.store.kv.get("policy_lkg");
    const set = lkg
      ? policySetFromSources(app.loaded.policiesDir, JSON.parse(lkg) as Record<string, string>)
      : loadPolicySet(app.loaded.policiesDir, app.config.features);
    return set.rbac;
  } catch {
    // Unreadable policies: the menus show what capabilities declare; the runner fails closed on its own.
    return DEFAULT_RBAC;
  }
}

/** The native command plan of this app. */
export function nativeCommandPlanFor(app: App): NativeCommandPlan {
  const rbac = rbacOf(app);
  const telegramRoles: { userId: string; role: Role }[] = [];
  const seen = new Set<string>();
  for (const [keys, role] of [
    [rbac.admins, "admin"],
    [rbac.operators, "operator"],
  ] as const) {
    for (const key of keys) {
      const m = key.match(/^telegram:(\d+)$/);
      if (!m || seen.has(m[1]!)) continue;
      seen.add(m[1]!);
      telegramRoles.push({ userId: m[1]!, role });
    }
  }
  return planNativeCommands({
    capabilities: createRegistry().list(),
    prefix: app.config.commands.prefix,
    roleOverrides: rbac.capabilities,
    telegramOpsChats: app.config.alerts.targets.filter((t) => t.transport === "telegram").map((t) => t.conversation_id),
    telegramRoles,
  });
}

/** Slash command → `/tau …`, from the plan built on first use (the registry is fixed for the process). */
export function commandResolverFor(app: App): InteractionTextResolver {
  let plan: NativeCommandPlan | null = null;
  return (data) => interactionCommandText((plan ??= nativeCommandPlanFor(app)), data);
}
