/**
 * @module Pure Discord interaction → envelope. A slash command (type 2) becomes a `message` whose text is the
 * equivalent `/tau …` command (so the one command path runs: parsing, RBAC, approvals, audit); a component press
 * (type 3) becomes a `callback` with the custom_id as text and the presser as actor. Both carry what a reply needs
 * (`meta.interaction_token`, `meta.application_id`) and were acknowledged before they reach ingress
 * (`meta.interaction_acked`). The token is a credential for 15 minutes: it goes to ingress and the reply, never to logs.
 * @see https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object
 */
import { z } from "zod";
import type { ChatType, Envelope, NormalizeContext, NormalizeResult } from "../../src/contracts/envelope.ts";
import type { InteractionCommand } from "../../src/contracts/native-commands.ts";
import { compactMeta, finalize, refuse, refuseZod } from "../shared/normalize-result.ts";
import { baseFields, chatTypeOf } from "./normalize-message.ts";

/** Interaction types (PROVIDERS.md §2.4). */
export const INTERACTION_TYPE = { PING: 1, APPLICATION_COMMAND: 2, MESSAGE_COMPONENT: 3, AUTOCOMPLETE: 4, MODAL_SUBMIT: 5 } as const;

const Snowflake = z.string().regex(/^\d{1,20}$/, "expected a snowflake string");
const UserSchema = z.looseObject({
  id: Snowflake,
  username: z.string().optional(),
  global_name: z.string().nullish(),
  bot: z.boolean().optional(),
});
const OptionSchema: z.ZodType<{ name: string; type: number; value?: string | number | boolean; options?: unknown[] }> = z.looseObject({
  name: z.string(),
  type: z.number().int(),
  value: z.union([z.string(), z.number(), z.boolean()]).optional(),
  options: z.array(z.lazy(() => OptionSchema)).optional(),
});

/** The fields tau reads; Discord adds fields freely, so the object is loose. */
export const InteractionSchema = z.looseObject({
  id: Snowflake,
  application_id: Snowflake,
  type: z.number().int(),
  token: z.string().min(1).max(1000),
  guild_id: Snowflake.optional(),
  channel_id: Snowflake.optional(),
  channel: z.looseObject({ id: Snowflake, type: z.number().int().optional() }).optional(),
  member: z.looseObject({ user: UserSchema }).optional(),
  user: UserSchema.optional(),
  data: z
    .looseObject({
      name: z.string().optional(),
      custom_id: z.string().max(100).optional(),
      component_type: z.number().int().optional(),
      options: z.array(OptionSchema).optional(),
    })
    .optional(),
  message: z.looseObject({ id: Snowflake }).optional(),
  locale: z.string().optional(),
});
export type Interaction = z.infer<typeof InteractionSchema>;

/** What the intake hands the normalizer: the interaction, where it came from, and the resolved command (type 2). */
export interface InteractionItem {
  source: "gateway" | "http";
  interaction: unknown;
  command?: InteractionCommand | null;
}

const DISCORD_EPOCH_MS = 1_420_070_400_000n;
const THREAD_CHANNEL_TYPES = new Set([10, 11, 12]);

/** A snowflake's creation time in ms. */
export function snowflakeMs(id: string): number {
  return Number((BigInt(id) >> 22n) + DISCORD_EPOCH_MS);
}

/**
 * Normalize one acknowledged interaction. Event id `discord:<interaction id>` (snowflakes are unique across
 * messages and interactions), so the reply target's `reply_to` is the interaction id.
 */
export function normalizeDiscordInteraction(raw: unknown, ctx: NormalizeContext): NormalizeResult {
  const item = raw as InteractionItem;
  const parsed = InteractionSchema.safeParse(item?.interaction);
  if (!parsed.success) return refuseZod(parsed.error, item?.interaction, ["interaction"]);
  const i = parsed.data;
  const channelId = i.channel_id ?? i.channel?.id;
  const user = i.member?.user ?? i.user;
  if (!channelId || !user) return refuse("ingress_missing_id", `interaction ${i.id}: no channel or user`);
  const channelType = i.channel?.type;
  const chatType: ChatType = chatTypeOf(i.guild_id, channelType);
  let kind: Envelope["kind"];
  let text: string;
  const meta: Record<string, string | number | boolean | undefined> = {
    interaction_id: i.id,
    interaction_type: i.type,
    interaction_token: i.token,
    application_id: i.application_id,
    interaction_acked: true,
    interaction_source: item.source,
    guild_id: i.guild_id,
    channel_type: channelType,
    locale: i.locale,
  };
  if (i.type === INTERACTION_TYPE.APPLICATION_COMMAND) {
    if (!item.command)
      return { ok: true, envelopes: [], ignored: [{ code: "discord_command_unknown", detail: `/${i.data?.name ?? "?"}` }] };
    kind = "message";
    text = item.command.text;
    meta.command_name = i.data?.name;
    meta.ephemeral = item.command.ephemeral;
  } else if (i.type === INTERACTION_TYPE.MESSAGE_COMPONENT) {
    if (!i.data?.custom_id) return refuse("ingress_payload_invalid", "interaction.data.custom_id: missing");
    kind = "callback";
    text = i.data.custom_id;
    meta.callback_id = i.id;
    meta.prompt_message_id = i.message?.id;
    meta.component_type = i.data.component_type;
  } else {
    return { ok: true, envelopes: [], ignored: [{ code: "discord_interaction_unsupported", detail: `interaction type ${i.type}` }] };
  }
  // Before READY (or in polling mode) our user id may be unknown; the application id is the bot's own id.
  const identity = ctx.identity.discord.user_id
    ? ctx
    : { ...ctx, identity: { ...ctx.identity, discord: { ...ctx.identity.discord, user_id: i.application_id } } };
  const envelope: Envelope = {
    ...baseFields(identity, `discord:${i.id}`, item.interaction),
    kind,
    conversation_id: channelId,
    thread_id: channelType !== undefined && THREAD_CHANNEL_TYPES.has(channelType) ? channelId : null,
    chat_type: chatType,
    actor: { id: user.id, display: user.global_name ?? user.username ?? null, is_bot: user.bot === true },
    // A slash command or a button press is addressed to the bot by definition.
    mentions_bot: true,
    text,
    attachments: [],
    reply_to: null,
    forwarded: false,
    occurred_at_ms: snowflakeMs(i.id),
    meta: compactMeta(meta),
  };
  return finalize([envelope], []);
}
