/**
 * @module The calendar contract `policies/communications/calendar.yaml` (or `.json`): the CalDAV server and default
 * calendar, the time zone answers are shown in, the optional CardDAV address book, the on-call pattern and the ICS
 * sync limits. Optional: without the file tau runs as before and the calendar capabilities answer
 * `calendar_not_configured`. A bad file is a ConfigError naming file, line and field.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { parseYamlWith } from "../../config/load-yaml.ts";
import { ConfigError } from "../../contracts/errors.ts";
import { isValidTimeZone } from "../../policy/quiet-hours.ts";

const httpUrl = z.url({ protocol: /^https?$/ });
const secretId = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "an integration secret id such as caldav-password");
const regexSource = z
  .string()
  .min(1)
  .refine((p) => {
    try {
      new RegExp(p, "i");
      return true;
    } catch {
      return false;
    }
  }, "a regular expression (JavaScript syntax, matched case-insensitively)");

const CalDavSchema = z
  .object({
    /** Server root; the principal and calendar home are discovered from it (RFC 6764 well-known, RFC 4791). */
    url: httpUrl.refine((u) => {
      const p = new URL(u);
      return p.username === "" && p.password === "";
    }, "no user or password in the URL: use user and password_secret"),
    user: z.string().min(1),
    /** Integration secret id of the password (env TAU_CALDAV_PASSWORD, or `tau secrets set caldav-password`). */
    password_secret: secretId.default("caldav-password"),
    /** Display name or last path segment of the default calendar. */
    calendar: z.string().min(1),
    /** IANA time zone answers are shown in (and floating or all-day times are read in). */
    time_zone: z.string().refine(isValidTimeZone, "an IANA time zone such as Europe/Berlin"),
    /** Bound on every request to the server. */
    timeout_ms: z.number().int().min(100).max(120_000).default(10_000),
    /**
     * Listings answer from tau's copy of the calendar when the server was asked for changes at most this long ago
     * (0: ask every time). Tau's own writes update the copy at once.
     */
    max_staleness_seconds: z.number().int().min(0).max(3600).default(60),
  })
  .strict();

const CardDavSchema = z
  .object({
    /** Display name or last path segment of the address book; the first one found when absent. */
    addressbook: z.string().min(1).nullable().default(null),
    /** Server root when contacts live elsewhere; defaults to `caldav.url` (same user and password). */
    url: httpUrl.nullable().default(null),
  })
  .strict();

const OnCallSchema = z
  .object({
    /** Events whose summary matches (case-insensitive) are on-call shifts; a `(?<who>…)` group names the person. */
    summary_pattern: regexSource.default("on[- ]?call"),
  })
  .strict();

/** A sync source declared once: a file, a URL, or a URL kept as a secret (feed URLs often carry a private token). */
const NamedSourceSchema = z
  .object({
    file: z.string().min(1).optional(),
    url: httpUrl.optional(),
    url_secret: secretId.optional(),
  })
  .strict()
  .refine((s) => [s.file, s.url, s.url_secret].filter((x) => x !== undefined).length === 1, "give exactly one of file, url, url_secret");

const SyncSchema = z
  .object({
    /** Sources by name (`/tau calendar sync plan rota`): the URL or path never appears in chat, audit or approvals. */
    sources: z
      .record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "a source name: lower-case letters, digits, _ -"), NamedSourceSchema)
      .default({}),
    /** Folder (relative to this file) chat may read ICS files from; the local CLI may name any file. */
    file_root: z.string().min(1).default("calendar-sources"),
    /** Hosts a plain-http source may use (a local mirror); every other URL must be https. */
    allow_http_hosts: z.array(z.string().min(1)).default([]),
    max_source_bytes: z
      .number()
      .int()
      .min(1024)
      .max(100 * 1024 * 1024)
      .default(5 * 1024 * 1024),
    plan_ttl_minutes: z
      .number()
      .int()
      .min(1)
      .max(24 * 60)
      .default(15),
  })
  .strict();

export const CalendarContractSchema = z
  .object({
    schema_version: z.literal(1).default(1),
    caldav: CalDavSchema,
    carddav: CardDavSchema.nullable().default(null),
    oncall: OnCallSchema.default({ summary_pattern: "on[- ]?call" }),
    sync: SyncSchema.default({
      sources: {},
      file_root: "calendar-sources",
      allow_http_hosts: [],
      max_source_bytes: 5 * 1024 * 1024,
      plan_ttl_minutes: 15,
    }),
  })
  .strict();

export type CalendarContract = z.infer<typeof CalendarContractSchema> & {
  /** The file read, and the sha256 of its bytes. */
  file: string;
  sha256: string;
};

/** `<commsDir>/calendar.yaml`. */
export function calendarContractPath(commsDir: string): string {
  return path.join(commsDir, "calendar.yaml");
}

/**
 * Read and validate `calendar.yaml` (or `calendar.json`) in the communications folder. Null when neither exists or the
 * file holds only comments (calendars not set up); throws ConfigError with `file:line:col: field: problem` when invalid.
 */
export function loadCalendarContract(commsDir: string): CalendarContract | null {
  const yamlFile = calendarContractPath(commsDir);
  for (const file of [yamlFile, yamlFile.replace(/\.yaml$/, ".json")]) {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") continue;
      throw new ConfigError(`${file}: cannot read: ${code ?? String(err)}`, { file, cause: err, hint: "check permissions" });
    }
    // A file of comments only (what `tau init` writes) means "not set up yet", like no file.
    if (text.split(/\r?\n/).every((l) => /^\s*(#.*)?$/.test(l))) return null;
    const parsed = parseYamlWith(text, file, CalendarContractSchema);
    return { ...parsed, file, sha256: createHash("sha256").update(text).digest("hex") };
  }
  return null;
}

/** Where chat may read ICS sync sources from. */
export function syncFileRoot(c: CalendarContract): string {
  return path.resolve(path.dirname(c.file), c.sync.file_root);
}
