/** @module The online provider calls lifecycle commands need, as a port; the composition (src/app/provider-ports.ts) implements it. */
import type { ProbeOutcome } from "../contracts/delivery.ts";
import type { Transport } from "../contracts/envelope.ts";
import type { DiscordCommand, TelegramCommandSet } from "../contracts/native-commands.ts";

export interface ProviderPorts {
  /** `getMe` / `GET /users/@me` / `GET /{phone_number_id}`. */
  probe(transport: Transport, creds: { token: string; phoneNumberId?: string }): Promise<ProbeOutcome>;
  setTelegramWebhook(token: string, url: string, secret: string): Promise<ProbeOutcome>;
  deleteTelegramWebhook(token: string): Promise<ProbeOutcome>;
  /** `setMyCommands` per scope; one outcome per set, in order. */
  setTelegramCommands?(token: string, sets: readonly TelegramCommandSet[]): Promise<(ProbeOutcome & { scope: string })[]>;
  /** Bulk overwrite of the Discord application commands (guild-scoped when `guildId` is set). */
  setDiscordCommands?(
    token: string,
    at: { applicationId: string; guildId: string },
    commands: readonly DiscordCommand[],
  ): Promise<ProbeOutcome>;
}
