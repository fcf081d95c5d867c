/**
 * @module The `tau.yaml` schema: strict, every field defaulted, secure by default. Defaults live here and
 * nowhere else; inner code never sees an undefined setting.
 */
import { z } from "zod";
import { MediaSchema } from "./media-schema.ts";
import { TRANSPORTS } from "../contracts/envelope.ts";

/** Defaults computed once at load: zod's interpreter, not a JIT-compiled parser per schema (src/config/load-yaml.ts `ONCE`). */
const DEFAULTS_ONCE = { jitless: true } as const;

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
    /** Health degrades when the oldest queued event is older than this (and fails when no runner ever ran). */
    backlog_threshold_ms: ms(60_000),
    /** Health fails when the runner's last cycle is older than this while work is queued (a stopped or stuck runner). */
    stale_after_ms: z.number().int().positive().default(60_000),
    /** A consumed ingress file is rotated once it is at least this big (0 = whenever consumed). */
    rotate_min_bytes: ms(1_048_576),
    /** Rotated ingress files kept in ingress/archive/. */
    keep_rotated: z.number().int().nonnegative().default(5),
  })
  .strict();

/** At most `count` sends per `window_ms` (src/outbound/pacing.ts). */
const windowLimit = (count: number, window_ms: number) =>
  z
    .object({ count: z.number().int().min(1).max(100_000), window_ms: z.number().int().min(1).max(86_400_000) })
    .strict()
    .default({ count, window_ms });

/** Outbound pacing under the providers' published limits (src/outbound/pacing-senders.ts; PROVIDERS.md §1.6, §3.6). */
const PacingSchema = z
  .object({
    enabled: bool.default(true),
    /** Longest in-process wait for a send slot; a reply whose slot is further away is rescheduled instead. */
    max_wait_ms: z.number().int().min(0).max(60_000).default(1500),
    telegram: z
      .object({ per_chat: windowLimit(1, 1000), per_group: windowLimit(20, 60_000), per_bot: windowLimit(30, 1000) })
      .strict()
      .prefault({}),
    whatsapp: z
      .object({ per_recipient: windowLimit(1, 6000), per_number: windowLimit(80, 1000) })
      .strict()
      .prefault({}),
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
    pacing: PacingSchema.prefault({}),
    /** Reply footer: `short` (the command and how it went, in words), `none`, or `debug` (with the reason code). */
    footer: z.enum(["short", "none", "debug"]).default("short"),
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
    /** Where webhooks and pollers append events: `files` (NDJSON under the state folder) or `nats` (JetStream). */
    driver: z.enum(["files", "nats"]).default("files"),
    /** JetStream server(s) when `driver: nats` (comma-separated URLs). */
    nats_url: z.string().default("nats://127.0.0.1:4222"),
    /** Stream created if missing: file storage, subjects `tau.ingress.<transport>`. */
    stream: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, "a JetStream stream name like TAU_INGRESS")
      .default("TAU_INGRESS"),
    /** JetStream: how long a fetched, unacknowledged message waits before redelivery to another runner (the durable consumer's ack_wait). */
    nats_ack_wait_ms: z.number().int().min(500).max(3_600_000).default(30_000),
  })
  .strict();

const StoreSchema = z
  .object({
    /** `sqlite` (the embedded default, `<state>/tau.db`) or `postgres` (shared by several tau nodes). */
    driver: z.enum(["sqlite", "postgres"]).default("sqlite"),
    /** Integration store id holding the PostgreSQL URL (read from the node's local store); env TAU_DATABASE_URL wins. */
    url_secret: z.string().default("database-url"),
  })
  .strict();

const ClusterSchema = z
  .object({
    /** This node's name among several tau nodes sharing a store; empty = the host name. */
    node_id: z
      .string()
      .regex(/^$|^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, "a node name like tau-a")
      .default(""),
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
    /** Serve the web control page under /ui (sign-in only by a one-time link from `tau ui login`). */
    ui: z.boolean().default(true),
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
        /** Register the slash commands in this guild only (instant updates, no DMs); empty = global. */
        commands_guild_id: z
          .string()
          .regex(/^(\d+)?$/, "a Discord guild snowflake")
          .default(""),
      })
      .strict()
      .default({ mode: "disabled", api_root: "https://discord.com/api", channel_ids: [], poll_interval_ms: 2000, commands_guild_id: "" }),
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

/** Severities of the operations runbook: SEV-1 contain now, SEV-2 same operating window, SEV-3 record and investigate. */
export const SEVERITIES = ["SEV-1", "SEV-2", "SEV-3"] as const;

/** An ops chat the watchdog posts alerts to, through tau's own outbound. */
const AlertTargetSchema = z
  .object({
    transport: z.enum(TRANSPORTS),
    account_id: z.string().min(1),
    conversation_id: z.string().min(1),
    thread_id: z.string().nullable().default(null),
  })
  .strict();

/** The watchdog inside `tau run` (`src/app/watchdog.ts`): what it checks, how often, where alerts go. */
const AlertsSchema = z
  .object({
    /** false: `tau run` starts no watchdog (health is still served). `communications.alerts.dispatcher.stop` pauses it at run time. */
    enabled: bool.default(true),
    /** How often health, backlog, dead letters, connectors, kill switches, runner staleness and anomalies are evaluated. */
    interval_ms: z.number().int().min(100).max(3_600_000).default(15_000),
    /** An alert key that recovered is not posted again before this long (flapping); a key that stays on is posted once. */
    cooldown_ms: ms(15 * 60_000),
    /** Ops chats the alerts go to; empty = alerts are recorded (tau status, tau events) but posted nowhere. */
    targets: z.array(AlertTargetSchema).default([]),
    /** Severity per alert kind (see `ALERT_KINDS` in src/health/alert-kinds.ts), overriding the runbook defaults. */
    severity: z.record(z.string().regex(/^[a-z_]+$/, "an alert kind like kill_switch"), z.enum(SEVERITIES)).default({}),
    /** After `tau run` starts, connectors are given this long to complete a first poll before "not live" alerts. */
    startup_grace_ms: ms(60_000),
    /** Judge delivery anomalies (policies/communications/delivery.yaml thresholds) on every evaluation. */
    anomalies: bool.default(true),
  })
  .strict();

/**
 * Which parts of the policy folder tau requires. A required file or folder that is missing is an error for
 * `tau policy check`, startup, reload and `tau policy apply`; false turns the feature off (its file is not read).
 */
const FeaturesSchema = z
  .object({
    /** policies/route-bindings.yaml; false: every event takes the deterministic default route. */
    route_bindings: bool.default(true),
    /** policies/rbac.yaml; false: no admins beyond the local CLI, capability roles as declared. */
    rbac: bool.default(true),
    /** policies/communications/*.yaml; false: email/SMS capabilities answer comms_disabled. */
    communications: bool.default(true),
  })
  .strict();

/** Integration store ids (`tau secrets set <id>`): lower-case words joined by `-`. */
const secretId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "an integration store id like openai-api-key");

/** Names the built-in responders own; a configured responder cannot take them. */
export const BUILTIN_RESPONDERS = ["ack", "none", "forward"] as const;

/** Per responder: how many jobs may start per actor, and in all, in any 60 s window. */
const ResponderRateSchema = z
  .object({
    per_actor_per_minute: z.number().int().positive().default(10),
    per_responder_per_minute: z.number().int().positive().default(120),
  })
  .strict();

/** Default base URLs of the providers' public APIs (PROVIDERS.md §9.1: OpenAI's includes /v1, the others do not). */
export const LLM_BASE_URLS = {
  openai: "https://api.openai.com/v1",
  anthropic: "https://api.anthropic.com",
  gemini: "https://generativelanguage.googleapis.com",
} as const;

const LlmResponderSchema = z
  .object({
    kind: z.literal("llm"),
    /** openai = any OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp, LM Studio, OpenRouter). */
    provider: z.enum(["openai", "anthropic", "gemini"]),
    base_url: z.string().url().optional(),
    model: z.string().min(1),
    /** Integration store id of the API key; env TAU_OPENAI_API_KEY / TAU_ANTHROPIC_API_KEY / TAU_GEMINI_API_KEY also work. */
    api_key_secret: secretId.optional(),
    system_prompt: z.string().default("You are the assistant of an operations team, answering in a chat. Be brief and exact."),
    /** Capability ids the model may call (as functions named with `.` → `_`), under the asking user's role. */
    tools: z.array(z.string().min(1)).default([]),
    history_messages: z.number().int().min(0).max(200).default(20),
    history_max_age_ms: ms(7 * 24 * 3600 * 1000),
    max_output_tokens: z.number().int().min(1).max(200_000).default(1024),
    timeout_ms: z.number().int().min(100).max(600_000).default(60_000),
    /** Model turns that may ask for tools before the loop stops (`responder_tool_loop_exceeded`). */
    max_tool_steps: z.number().int().min(0).max(20).default(4),
    /** The SDK's own retries per call (it honours retry-after); tau retries the job on top of that. */
    sdk_max_retries: z.number().int().min(0).max(5).default(1),
    /** Attempts of a job on retryable failures (429, 5xx, timeouts) before it fails with a short reply. */
    max_attempts: z.number().int().min(1).max(10).default(3),
    rate_limit: ResponderRateSchema.default(ResponderRateSchema.parse({}, DEFAULTS_ONCE)),
    /** Input + output tokens per UTC day for this responder; 0 = no budget. */
    daily_token_budget: z.number().int().nonnegative().default(0),
  })
  .strict();

const WebhookResponderSchema = z
  .object({
    kind: z.literal("webhook"),
    url: z.string().url(),
    /** Integration store id of the HMAC-SHA256 key; the signature of the raw body goes in X-Tau-Signature. */
    signing_secret: secretId,
    timeout_ms: z.number().int().min(100).max(600_000).default(30_000),
    max_attempts: z.number().int().min(1).max(10).default(3),
    rate_limit: ResponderRateSchema.default(ResponderRateSchema.parse({}, DEFAULTS_ONCE)),
  })
  .strict();

/** The secret id holding an llm responder's API key (`<provider>-api-key` unless `api_key_secret` says otherwise). */
export const apiKeySecretOf = (r: { provider: string; api_key_secret?: string }): string => r.api_key_secret ?? `${r.provider}-api-key`;

export const ResponderConfigSchema = z.discriminatedUnion("kind", [LlmResponderSchema, WebhookResponderSchema]);
export type ResponderConfig = z.infer<typeof ResponderConfigSchema>;
export type LlmResponderConfig = z.infer<typeof LlmResponderSchema>;
export type WebhookResponderConfig = z.infer<typeof WebhookResponderSchema>;

/** Price per million tokens for cost estimates, keyed `<provider>:<model>`. */
const PriceSchema = z.object({ input_per_mtok: z.number().nonnegative(), output_per_mtok: z.number().nonnegative() }).strict();

export const TauConfigSchema = z
  .object({
    schema_version: z.literal(1).default(1),
    /** Folder with channel-policy.yaml, route-bindings.yaml, rbac.yaml, communications/ (relative to tau.yaml). */
    policies_dir: z.string().default("./policies"),
    identity: IdentitySchema.default(IdentitySchema.parse({}, DEFAULTS_ONCE)),
    runner: RunnerSchema.default(RunnerSchema.parse({}, DEFAULTS_ONCE)),
    outbound: OutboundSchema.default(OutboundSchema.parse({}, DEFAULTS_ONCE)),
    ingress: IngressSchema.default(IngressSchema.parse({}, DEFAULTS_ONCE)),
    store: StoreSchema.default(StoreSchema.parse({}, DEFAULTS_ONCE)),
    cluster: ClusterSchema.default(ClusterSchema.parse({}, DEFAULTS_ONCE)),
    server: ServerSchema.default(ServerSchema.parse({}, DEFAULTS_ONCE)),
    connectors: ConnectorsSchema.default(ConnectorsSchema.parse({}, DEFAULTS_ONCE)),
    features: FeaturesSchema.default(FeaturesSchema.parse({}, DEFAULTS_ONCE)),
    alerts: AlertsSchema.default(AlertsSchema.parse({}, DEFAULTS_ONCE)),
    commands: z
      .object({
        prefix: z
          .string()
          .regex(/^\/[a-z][a-z0-9_]{0,31}$/, "a slash command like /tau")
          .default("/tau"),
      })
      .strict()
      .default({ prefix: "/tau" }),
    /** Asynchronous responders by name (`kind: llm | webhook`), chosen per route binding with `responder: <name>`. */
    responders: z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "a responder name like assistant"), ResponderConfigSchema).default({}),
    /** The responder of the default route (no binding matched): a built-in or a configured name. */
    default_responder: z.string().default("ack"),
    /** Attachment understanding for responders (`media-schema.ts`). */
    media: MediaSchema.default(MediaSchema.parse({}, DEFAULTS_ONCE)),
    /** Responder jobs running at once (different conversations; one conversation runs in order). */
    responder_concurrency: z.number().int().min(1).max(1000).default(64),
    telemetry: z
      .object({
        include_identifiers: bool.default(false),
        /** Typing indicators while a responder works (Telegram sendChatAction, Discord typing, WhatsApp typing_indicator). */
        typing_presence: bool.default(true),
        /** Runtime `telemetry_usage_summary_emitted` events after busy responder rounds. */
        usage_summary: bool.default(true),
        /** Replies shorter than this are not counted as usage records (acknowledgements); tokens always count. */
        min_response_chars: z.number().int().nonnegative().default(120),
        prices: z.record(z.string(), PriceSchema).default({}),
      })
      .strict()
      .default({ include_identifiers: false, typing_presence: true, usage_summary: true, min_response_chars: 120, prices: {} }),
    log: z
      .object({
        level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
        /** stderr log lines: auto = human when stderr is a terminal, else NDJSON (src/log.ts); `--log-format` wins. */
        format: z.enum(["auto", "json", "pretty"]).default("auto"),
      })
      .strict()
      .default({ level: "info", format: "auto" }),
  })
  .strict()
  .superRefine((c, ctx) => {
    for (const name of Object.keys(c.responders))
      if ((BUILTIN_RESPONDERS as readonly string[]).includes(name))
        ctx.addIssue({ code: "custom", path: ["responders", name], message: `"${name}" is a built-in responder; pick another name` });
    if (!(BUILTIN_RESPONDERS as readonly string[]).includes(c.default_responder) && !Object.hasOwn(c.responders, c.default_responder))
      ctx.addIssue({
        code: "custom",
        path: ["default_responder"],
        message: `unknown responder "${c.default_responder}": use ack, none, forward or a name under responders`,
      });
    if (c.default_responder === "forward")
      ctx.addIssue({ code: "custom", path: ["default_responder"], message: "forward needs forward_to, which only a route binding has" });
  });

export type TauConfig = z.infer<typeof TauConfigSchema>;
export type AlertTarget = z.infer<typeof AlertTargetSchema>;
export type Severity = (typeof SEVERITIES)[number];
