/**
 * @module Discord application command registration for `tau channel login discord --online`: one bulk overwrite
 * (`PUT /applications/{app}/commands`, or `…/guilds/{guild}/commands` when a guild is configured) with the commands
 * tau generated from its capability registry. Commands tau no longer has disappear with the same call.
 * @see https://discord.com/developers/docs/interactions/application-commands#bulk-overwrite-global-application-commands
 */
import { REST, Routes } from "discord.js";
import type { ProbeOutcome } from "../../src/contracts/delivery.ts";
import type { DiscordCommand } from "../../src/contracts/native-commands.ts";
import { probeFailureOf } from "./sender.ts";

interface RegisterOptions {
  apiRoot: string;
  token: string;
  /** identity.discord.application_id; empty: asked from `GET /applications/@me`. */
  applicationId: string;
  /** Empty: global commands. */
  guildId: string;
  commands: readonly DiscordCommand[];
  timeoutMs?: number;
}

/** Overwrite every command of the application with `commands`; the outcome names how many Discord accepted. */
export async function registerDiscordCommands(o: RegisterOptions): Promise<ProbeOutcome> {
  const rest = new REST({ api: o.apiRoot.replace(/\/+$/, ""), version: "10", retries: 0, timeout: o.timeoutMs ?? 10_000 }).setToken(
    o.token,
  );
  try {
    // Literal "@me": Routes helpers percent-encode it.
    const appId = o.applicationId || ((await rest.get("/applications/@me")) as { id: string }).id;
    const route = o.guildId ? Routes.applicationGuildCommands(appId, o.guildId) : Routes.applicationCommands(appId);
    const saved = (await rest.put(route, { body: o.commands })) as unknown[];
    return { ok: true, detail: `${saved.length} commands (${o.guildId ? `guild ${o.guildId}` : "global"}, application ${appId})` };
  } catch (err) {
    return probeFailureOf(err, "", o.token);
  }
}
