/**
 * @module Replay scenarios (`fixtures/scenarios/*.yaml`): a policy setup plus steps — provider payloads to
 * ingest (files, inline, or the `tg` shorthand that expands to a real Telegram Update), runner drains, and
 * operator actions (capabilities run as a principal). Validated strictly like every other file.
 */
import { z } from "zod";
import { TransportSchema } from "../contracts/envelope.ts";

const TgShorthand = z
  .object({
    update: z.number().int().positive(),
    from: z.number().int(),
    name: z.string().default("user"),
    is_bot: z.boolean().default(false),
    chat: z.number().int(),
    type: z.enum(["private", "group", "supergroup"]).default("private"),
    title: z.string().optional(),
    text: z.string(),
    forwarded: z.boolean().default(false),
    date: z.number().int().optional(),
  })
  .strict();
type TgShorthand = z.infer<typeof TgShorthand>;

const Step = z
  .object({
    say: z.string().optional(),
    ingest: z
      .object({ transport: TransportSchema, file: z.string().optional(), payload: z.unknown().optional(), raw_line: z.string().optional() })
      .strict()
      .optional(),
    tg: TgShorthand.optional(),
    process: z.literal(true).optional(),
    /** Run a capability as `principal` (default the local CLI admin); `{{pairing_code}}`, `{{approval_id}}`, `{{approval_hash}}` expand (and `{{approve_button}}`, `{{deny_button}}` in ingested payloads). */
    operator: z
      .object({
        capability: z.string(),
        args: z.record(z.string(), z.string()).default({}),
        principal: z.string().default("cli:operator"),
        role: z.enum(["viewer", "operator", "admin"]).default("admin"),
      })
      .strict()
      .optional(),
    advance_ms: z.number().int().nonnegative().optional(),
  })
  .strict();
export type ScenarioStep = z.infer<typeof Step>;

export const ScenarioSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().min(1),
    /** Extra tau.yaml text (merged under the replay defaults). */
    config: z.string().default(""),
    policies: z.record(z.string(), z.string()).default({}),
    allowlist: z.array(z.string()).default([]),
    start_ms: z.number().int().default(1_763_712_000_000),
    steps: z.array(Step).min(1),
  })
  .strict();
export type Scenario = z.infer<typeof ScenarioSchema>;

/** Expand the `tg` shorthand into a Telegram Update as the Bot API sends it. */
export function expandTg(t: TgShorthand, nowMs: number): Record<string, unknown> {
  const from = { id: t.from, is_bot: t.is_bot, first_name: t.name, username: t.name.toLowerCase().replace(/[^a-z0-9_]/g, "") || undefined };
  const chat =
    t.type === "private" ? { id: t.chat, type: "private", first_name: t.name } : { id: t.chat, type: t.type, title: t.title ?? "Ops" };
  const message: Record<string, unknown> = {
    message_id: t.update % 100_000,
    from,
    chat,
    date: t.date ?? Math.floor(nowMs / 1000),
    text: t.text,
  };
  const mention = t.text.match(/@([A-Za-z0-9_]+)/);
  if (t.text.startsWith("/")) message.entities = [{ offset: 0, length: t.text.split(/\s/)[0]!.length, type: "bot_command" }];
  else if (mention) message.entities = [{ offset: mention.index, length: mention[0].length, type: "mention" }];
  if (t.forwarded)
    message.forward_origin = {
      type: "user",
      sender_user: { id: 999, is_bot: false, first_name: "Someone" },
      date: Math.floor(nowMs / 1000) - 60,
    };
  return { update_id: t.update, message };
}
