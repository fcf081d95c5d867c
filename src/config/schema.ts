/**
 * @module The `tau.yaml` schema: strict, every field defaulted, secure by default. Defaults live here and
 * nowhere else; inner code never sees an undefined setting.
 */
import { z } from "zod";

const bool = z.boolean();
const ms = (d: number) => z.number().int().nonnegative().default(d);

const IdentitySchema = z
  .object({
    telegram: z
      .object({ bot_id: z.string().default(""), username: z.string().default("") })
      .strict()
      .default({ bot_id: "", username: "" }),
    discord: z
      .object({ user_id: z.string().default(""), application_id: z.string().default("") })
      .strict()
      .default({ user_id: "", application_id: "" }),
    whatsapp: z
      .object({ phone_number_id: z.string().default("") })
      .strict()
      .default({ phone_number_id: "" }),
    email: z
      .object({ account_id: z.string().min(1).default("mail") })
      .strict()
      .default({ account_id: "mail" }),
  })
  .strict();

const RunnerSchema = z
  .object({
    /** Most events handled per cycle; the rest stays queued and is reported as queue_depth. */
    queue_limit: z.number().int().positive().default(5000),
    /** Events per SQLite transaction. */
    batch_size: z.number().int().positive().max(20_000).default(1000),
    /** Same-conversation responder bursts within this window are answered once (0 disables). */
    coalesce_window_ms: ms(2500),
    /** Idle wait between cycles when nothing is queued. */
    poll_interval_ms: z.number().int().positive().default(200),
    /** Processed event ids are kept this long for dedupe (bounded by age, not count). */
    dedupe_retention_ms: ms(14 * 24 * 3600 * 1000),
    /** Health degrades when the oldest queued event is older than this. */
    backlog_threshold_ms: ms(60_000),
    /** A consumed ingress file is rotated once it is at least this big (0 = whenever consumed). */
    rotate_min_bytes: ms(1_048_576),
    /** Rotated ingress files kept in ingress/archive/. */
    keep_rotated: z.number().int().nonnegative().default(5),
  })
  .strict();

const OutboundSchema = z
  .object({
    mode: z.enum(["channel-store", "dry-run", "provider"]).default("dry-run"),
    /** Caps every platform limit (code points). */
    max_chars: z.number().int().min(16).max(100_000).default(4096),
    max_attempts: z.number().int().positive().max(20).default(5),
    base_backoff_ms: z.number().int().positive().default(500),
    max_backoff_ms: z.number().int().positive().default(60_000),
    http_timeout_ms: z.number().int().positive().default(10_000),
  })
  .strict();

const IngressSchema = z
  .object({
    max_line_bytes: z
      .number()
      .int()
      .min(1024)
      .max(16 * 1024 * 1024)
      .default(1_048_576),
    keep_raw: bool.default(false),
  })
  .strict();

const ServerSchema = z
  .object({
    bind: z
      .string()
      .regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, "expected host:port, e.g. 127.0.0.1:8788")
      .default("127.0.0.1:8788"),
    max_body_bytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1_048_576),
    /** Public base URL (https://…) used for setWebhook and Twilio signature checks; empty when none. */
    public_url: z.string().default(""),
  })
  .strict();

const ConnectorsSchema = z
  .object({
    telegram: z
      .object({
        mode: z.enum(["disabled", "polling", "webhook"]).default("disabled"),
        api_root: z.string().url().default("https://api.telegram.org"),
        poll_timeout_s: z.number().int().min(0).max(50).default(30),
      })
      .strict()
      .default({ mode: "disabled", api_root: "https://api.telegram.org", poll_timeout_s: 30 }),
    discord: z
      .object({
        mode: z.enum(["disabled", "gateway", "polling"]).default("disabled"),
        api_root: z.string().url().default("https://discord.com/api"),
        channel_ids: z.array(z.string().regex(/^\d+$/, "a Discord channel snowflake")).default([]),
        poll_interval_ms: z.number().int().min(250).default(2000),
      })
      .strict()
      .default({ mode: "disabled", api_root: "https://discord.com/api", channel_ids: [], poll_interval_ms: 2000 }),
    whatsapp: z
      .object({
        mode: z.enum(["disabled", "webhook"]).default("disabled"),
        api_root: z.string().url().default("https://graph.facebook.com/v23.0"),
      })
      .strict()
      .default({ mode: "disabled", api_root: "https://graph.facebook.com/v23.0" }),
    email: z
      .object({ mode: z.enum(["disabled", "imap"]).default("disabled") })
      .strict()
      .default({ mode: "disabled" }),
  })
  .strict();

export const TauConfigSchema = z
  .object({
    schema_version: z.literal(1).default(1),
    /** Folder with channel-policy.yaml, route-bindings.yaml, rbac.yaml, communications/ (relative to tau.yaml). */
    policies_dir: z.string().default("./policies"),
    identity: IdentitySchema.default(IdentitySchema.parse({})),
    runner: RunnerSchema.default(RunnerSchema.parse({})),
    outbound: OutboundSchema.default(OutboundSchema.parse({})),
    ingress: IngressSchema.default(IngressSchema.parse({})),
    server: ServerSchema.default(ServerSchema.parse({})),
    connectors: ConnectorsSchema.default(ConnectorsSchema.parse({})),
    commands: z
      .object({
        prefix: z
          .string()
          .regex(/^\/[a-z][a-z0-9_]{0,31}$/, "a slash command like /tau")
          .default("/tau"),
      })
      .strict()
      .default({ prefix: "/tau" }),
    telemetry: z
      .object({ include_identifiers: bool.default(false) })
      .strict()
      .default({ include_identifiers: false }),
    log: z
      .object({ level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info") })
      .strict()
      .default({ level: "info" }),
  })
  .strict();

export type TauConfig = z.infer<typeof TauConfigSchema>;
