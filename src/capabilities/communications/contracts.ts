/**
 * @module The communications contracts in `policies/communications/` (PRODUCT.md §9): `stack.yaml`,
 * `providers.yaml`, `policy.yaml`, `templates.yaml`, `delivery.yaml` (each may be `.json`). Strict zod schemas
 * with defaults, cross-file checks reported at the YAML line of the offending field, and a content hash per file.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { parseYamlWith } from "../../config/load-yaml.ts";
import { ConfigError } from "../../contracts/errors.ts";
import { TRANSPORTS } from "../../contracts/envelope.ts";
import { CLOCK_TIME, isValidTimeZone } from "../../policy/quiet-hours.ts";
import { E164, templatePlaceholders, VARIABLE_NAME } from "../../policy/templates.ts";

const id = (what: string) => z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, `${what}: lower-case letters, digits, _ . -`);
const timeZone = z.string().refine(isValidTimeZone, "an IANA time zone such as America/New_York");
const secretId = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "an integration secret id such as imap-password");
const emailAddress = z.email();
/** `a@b.c` or `Name <a@b.c>`, what providers accept as a sender. */
const senderAddress = z.string().refine((v) => {
  const m = v.match(/^\s*"?[^"<>]*"?\s*<([^<>]+)>\s*$/);
  return z.email().safeParse((m ? m[1]! : v).trim()).success;
}, "an address like noreply@example.com or Name <noreply@example.com>");
const httpUrl = z.url({ protocol: /^https?$/ });

// ------------------------------------------------------------------------------------------------ stack.yaml
/** An IMAP or SMTP endpoint; the password is a secret id, never a value in the file. */
export const MailEndpointSchema = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    /** Implicit TLS (993/465). false means plain or STARTTLS. */
    secure: z.boolean(),
    user: z.string().min(1),
    password_secret: secretId,
  })
  .strict();

/** A mailbox tau may read or send from, with its role (`ops`, `alerts`, `noreply`, …). */
export const MailboxSchema = z
  .object({
    id: id("mailbox id"),
    address: emailAddress,
    role: z.string().regex(/^[a-z][a-z0-9_-]*$/, "a role such as ops, alerts, noreply"),
    folder: z.string().min(1).default("INBOX"),
    active: z.boolean().default(true),
  })
  .strict();

/** One message of the simulation catalog (what mail search returns in simulation mode). */
export const CatalogMessageSchema = z
  .object({
    id: z.string().min(1),
    mailbox: z.string().min(1),
    from: z.string().min(1),
    to: z.string().min(1),
    subject: z.string(),
    date: z.iso.datetime({ offset: true }),
    snippet: z.string().default(""),
  })
  .strict();

/** `stack.yaml`: the mode, mail endpoints, mailboxes and the simulation catalog. Exported for the mail capabilities. */
export const CommsStackSchema = z
  .object({
    schema_version: z.literal(1).default(1),
    /** `simulation`: nothing leaves tau. `live-pilot`: providers may send when their own mode and phase allow. */
    mode: z.enum(["simulation", "live-pilot"]).default("simulation"),
    imap: MailEndpointSchema.extend({ password_secret: secretId.default("imap-password") }).strict(),
    smtp: MailEndpointSchema.extend({ password_secret: secretId.default("smtp-password") }).strict(),
    mailboxes: z.array(MailboxSchema).min(1),
    catalog: z.array(CatalogMessageSchema).default([]),
  })
  .strict()
  .superRefine((s, ctx) => {
    const ids = new Set<string>();
    s.mailboxes.forEach((m, i) => {
      if (ids.has(m.id)) ctx.addIssue({ code: "custom", path: ["mailboxes", i, "id"], message: `duplicate mailbox id "${m.id}"` });
      ids.add(m.id);
    });
    s.catalog.forEach((c, i) => {
      if (!ids.has(c.mailbox))
        ctx.addIssue({
          code: "custom",
          path: ["catalog", i, "mailbox"],
          message: `unknown mailbox "${c.mailbox}" (declare it under mailboxes)`,
        });
    });
  });
export type CommsStack = z.infer<typeof CommsStackSchema>;
export type Mailbox = z.infer<typeof MailboxSchema>;
export type CatalogMessage = z.infer<typeof CatalogMessageSchema>;

// -------------------------------------------------------------------------------------------- providers.yaml
const PROVIDER_MODES = ["simulation", "live"] as const;
const CUTOVER_PHASES = ["shadow", "pilot", "live"] as const;

const providerBase = {
  /** `live` allows real sends; `simulation` records them only. */
  mode: z.enum(PROVIDER_MODES).default("simulation"),
  /** `shadow`: simulated even in live mode. `pilot`: live, only to `pilot_recipients` when that list is set. `live`: live. */
  cutover_phase: z.enum(CUTOVER_PHASES).default("shadow"),
  /** In the pilot phase, the only recipients that get real sends (empty = everyone). */
  pilot_recipients: z.array(z.string().min(3)).default([]),
  timeout_ms: z.number().int().min(100).max(120_000).default(10_000),
};

const ResendProviderSchema = z
  .object({
    ...providerBase,
    from: senderAddress,
    reply_to: emailAddress.nullable().default(null),
    /** Passed to the SDK as `baseUrl` (self-hosted proxies, tests). */
    api_root: httpUrl.default("https://api.resend.com"),
  })
  .strict();

const TwilioProviderSchema = z
  .object({
    ...providerBase,
    from: z.string().regex(E164, "an E.164 number such as +15005550006").nullable().default(null),
    messaging_service_sid: z
      .string()
      .regex(/^MG[0-9a-f]{32}$/, "a Messaging Service SID (MG + 32 hex)")
      .nullable()
      .default(null),
    status_callback: httpUrl.nullable().default(null),
    /** Origin every SDK request is rewritten to (tests, proxies). */
    api_root: httpUrl.default("https://api.twilio.com"),
  })
  .strict()
  .refine((t) => t.from !== null || t.messaging_service_sid !== null, { message: "set from or messaging_service_sid", path: ["from"] });

const SmtpProviderSchema = z.object({ ...providerBase, from: emailAddress }).strict();

export const CommsProvidersSchema = z
  .object({
    schema_version: z.literal(1).default(1),
    routes: z
      .object({ email: z.enum(["resend", "smtp"]).default("resend"), sms: z.enum(["twilio"]).default("twilio") })
      .strict()
      .default({ email: "resend", sms: "twilio" }),
    providers: z
      .object({ resend: ResendProviderSchema, twilio: TwilioProviderSchema, smtp: SmtpProviderSchema.nullable().default(null) })
      .strict(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.routes.email === "smtp" && p.providers.smtp === null)
      ctx.addIssue({ code: "custom", path: ["routes", "email"], message: "routes email to smtp, but providers.smtp is not configured" });
  });
type CommsProviders = z.infer<typeof CommsProvidersSchema>;
export type ProviderName = "resend" | "twilio" | "smtp";

// ----------------------------------------------------------------------------------------------- policy.yaml
const keywordList = z.array(z.string().regex(/^[A-Za-z]{2,20}$/, "one word, letters only")).min(1);

export const CommsPolicySchema = z
  .object({
    schema_version: z.literal(1).default(1),
    /** Used when the recipient record has no time zone. */
    default_timezone: timeZone,
    /** Per message type: `opt_in` needs a recorded opt-in; `not_required` sends unless opted out. */
    consent: z
      .record(id("message type"), z.object({ required: z.enum(["opt_in", "not_required"]) }).strict())
      .refine((r) => Object.keys(r).length > 0, "declare at least one message type"),
    quiet_hours: z
      .object({
        start: z.string().regex(CLOCK_TIME, "HH:MM, 24 h"),
        end: z.string().regex(CLOCK_TIME, "HH:MM, 24 h"),
        channels: z.array(z.enum(["email", "sms"])).default(["sms"]),
        exempt_message_types: z.array(z.string()).default([]),
      })
      .strict(),
    sms: z
      .object({
        /** Appended to every SMS and counted in its segments. */
        stop_footer: z.string().max(60).default("Reply STOP to opt out."),
        max_segments: z.number().int().min(1).max(10).default(4),
        keywords: z
          .object({
            opt_out: keywordList.default(["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"]),
            opt_in: keywordList.default(["START", "YES", "UNSTOP"]),
            help: keywordList.default(["HELP", "INFO"]),
          })
          .strict(),
        /** TwiML replies to keywords; empty = no reply (when Twilio Advanced Opt-Out already answers). */
        replies: z
          .object({ opt_out: z.string().default(""), opt_in: z.string().default(""), help: z.string().default("") })
          .strict()
          .default({ opt_out: "", opt_in: "", help: "" }),
      })
      .strict(),
    previews: z
      .object({
        ttl_minutes: z
          .number()
          .int()
          .min(1)
          .max(24 * 60)
          .default(15),
      })
      .strict()
      .default({ ttl_minutes: 15 }),
  })
  .strict()
  .superRefine((p, ctx) => {
    p.quiet_hours.exempt_message_types.forEach((t, i) => {
      if (!Object.hasOwn(p.consent, t))
        ctx.addIssue({
          code: "custom",
          path: ["quiet_hours", "exempt_message_types", i],
          message: `unknown message type "${t}" (declare it under consent)`,
        });
    });
    const k = p.sms.keywords;
    const all = [...k.opt_out, ...k.opt_in, ...k.help].map((w) => w.toUpperCase());
    const dup = all.find((w, i) => all.indexOf(w) !== i);
    if (dup) ctx.addIssue({ code: "custom", path: ["sms", "keywords"], message: `keyword "${dup}" is listed twice` });
  });
export type CommsPolicy = z.infer<typeof CommsPolicySchema>;

// -------------------------------------------------------------------------------------------- templates.yaml
const TemplateSchema = z
  .object({
    channel: z.enum(["email", "sms"]),
    message_type: id("message type"),
    description: z.string().default(""),
    subject: z.string().min(1).nullable().default(null),
    body: z.string().min(1),
    required: z.array(z.string().regex(VARIABLE_NAME, "a variable name like customer_name")).default([]),
    optional: z.array(z.string().regex(VARIABLE_NAME, "a variable name like customer_name")).default([]),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.channel === "email" && t.subject === null)
      ctx.addIssue({ code: "custom", path: ["subject"], message: "email templates need a subject" });
    if (t.channel === "sms" && t.subject !== null)
      ctx.addIssue({ code: "custom", path: ["subject"], message: "sms templates have no subject" });
    const declared = new Set([...t.required, ...t.optional]);
    for (const name of templatePlaceholders(`${t.subject ?? ""}\n${t.body}`)) {
      if (!declared.has(name))
        ctx.addIssue({ code: "custom", path: ["body"], message: `placeholder {{${name}}} is not declared in required or optional` });
    }
    const both = t.required.find((n) => t.optional.includes(n));
    if (both) ctx.addIssue({ code: "custom", path: ["optional"], message: `${both} is both required and optional` });
  });

/** `templates.yaml`, checked against the message types `policy.yaml` declares. */
export function templatesSchemaFor(messageTypes: readonly string[]) {
  return z
    .object({ schema_version: z.literal(1).default(1), templates: z.record(id("template id"), TemplateSchema) })
    .strict()
    .superRefine((f, ctx) => {
      for (const [tid, t] of Object.entries(f.templates)) {
        if (!messageTypes.includes(t.message_type)) {
          ctx.addIssue({
            code: "custom",
            path: ["templates", tid, "message_type"],
            message: `unknown message type "${t.message_type}" (policy.yaml consent declares ${messageTypes.join(", ")})`,
          });
        }
      }
    });
}
export type CommsTemplate = z.infer<typeof TemplateSchema>;
type CommsTemplates = { schema_version: 1; templates: Record<string, CommsTemplate> };

// --------------------------------------------------------------------------------------------- delivery.yaml
const rate = z.number().min(0).max(1);

export const CommsDeliverySchema = z
  .object({
    schema_version: z.literal(1).default(1),
    anomaly: z
      .object({
        window_minutes: z
          .number()
          .int()
          .min(1)
          .max(7 * 24 * 60)
          .default(60),
        /** Fewer deliveries than this in the window: rates are not judged (`anomaly_insufficient_sample`). */
        min_sample: z.number().int().min(1).default(20),
        thresholds: z
          .object({ failure_rate: rate.default(0.2), policy_block_rate: rate.default(0.5), timeout_rate: rate.default(0.05) })
          .strict(),
      })
      .strict(),
    alerts: z
      .object({
        /** The ops chat alerts go to, through tau's own outbound. */
        target: z
          .object({
            transport: z.enum(TRANSPORTS),
            account_id: z.string().min(1),
            conversation_id: z.string().min(1),
            thread_id: z.string().nullable().default(null),
          })
          .strict(),
        cooldown_minutes: z
          .number()
          .int()
          .min(0)
          .max(7 * 24 * 60)
          .default(30),
      })
      .strict(),
    deadletter: z
      .object({ max_attempts: z.number().int().min(1).max(20).default(3) })
      .strict()
      .default({ max_attempts: 3 }),
  })
  .strict();
export type CommsDelivery = z.infer<typeof CommsDeliverySchema>;

// ---------------------------------------------------------------------------------------------------- loader
export const COMMS_FILES = ["stack", "providers", "policy", "templates", "delivery"] as const;
type CommsFile = (typeof COMMS_FILES)[number];

export interface CommsContracts {
  dir: string;
  stack: CommsStack;
  providers: CommsProviders;
  policy: CommsPolicy;
  templates: CommsTemplates;
  delivery: CommsDelivery;
  /** Per contract: the file read and the sha256 of its bytes. */
  files: Record<CommsFile, { path: string; sha256: string }>;
}

function readContract(dir: string, name: CommsFile): { file: string; text: string } {
  for (const candidate of [`${name}.yaml`, `${name}.json`]) {
    const file = path.join(dir, candidate);
    try {
      return { file, text: fs.readFileSync(file, "utf8") };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new ConfigError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
          file,
          cause: err,
          hint: "check permissions",
        });
      }
    }
  }
  const file = path.join(dir, `${name}.yaml`);
  throw new ConfigError(`${file}: missing communications contract`, {
    file,
    hint: `copy policies/communications/${name}.yaml from the tau repository and edit it`,
  });
}

/**
 * Read and validate the five contracts in `dir` (YAML, or JSON under the same name). Throws `ConfigError`
 * with `file:line:col: field: problem`. Templates are checked against the message types of `policy.yaml`.
 */
export function loadCommsContracts(dir: string): CommsContracts {
  const raw = Object.fromEntries(COMMS_FILES.map((n) => [n, readContract(dir, n)])) as Record<CommsFile, { file: string; text: string }>;
  const parse = <T extends z.ZodType>(name: CommsFile, schema: T): z.infer<T> => parseYamlWith(raw[name].text, raw[name].file, schema);
  const stack = parse("stack", CommsStackSchema);
  const providers = parse("providers", CommsProvidersSchema);
  const policy = parse("policy", CommsPolicySchema);
  const templates = parse("templates", templatesSchemaFor(Object.keys(policy.consent))) as CommsTemplates;
  const delivery = parse("delivery", CommsDeliverySchema);
  const files = Object.fromEntries(
    COMMS_FILES.map((n) => [n, { path: raw[n].file, sha256: createHash("sha256").update(raw[n].text).digest("hex") }]),
  ) as CommsContracts["files"];
  return { dir, stack, providers, policy, templates, delivery, files };
}

const SINGLE_FILE_SCHEMAS = {
  stack: CommsStackSchema,
  providers: CommsProvidersSchema,
  policy: CommsPolicySchema,
  delivery: CommsDeliverySchema,
} as const;
type SingleFile = keyof typeof SINGLE_FILE_SCHEMAS;

/**
 * One contract on its own (templates need policy.yaml, so they are not offered): for surfaces that must work
 * while an unrelated contract is broken, and that should not parse five files per call (anomaly status).
 */
export function loadCommsFile<N extends SingleFile>(dir: string, name: N): z.infer<(typeof SINGLE_FILE_SCHEMAS)[N]> {
  const { file, text } = readContract(dir, name);
  return parseYamlWith(text, file, SINGLE_FILE_SCHEMAS[name]) as z.infer<(typeof SINGLE_FILE_SCHEMAS)[N]>;
}

/** `<policies>/communications`. */
export function commsContractsDir(policiesDir: string): string {
  return path.join(policiesDir, "communications");
}
