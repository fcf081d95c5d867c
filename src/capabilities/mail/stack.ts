/**
 * @module The mail stack as the mail capabilities and the email connector see it (`MailStackConfig`), and an
 * interim loader for `policies/communications/stack.yaml`. When `src/capabilities/communications/contracts.ts`
 * lands, `loadMailStack` becomes an adapter from that contract to this shape; nothing else changes.
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { ConfigError } from "../../contracts/errors.ts";
import { parseYamlWith } from "../../config/load-yaml.ts";

/** How a client secures an endpoint: implicit TLS (993/465), STARTTLS on a plain port (143/587), or none (loopback only). */
export type TlsMode = "implicit" | "starttls" | "none";

export interface MailEndpoint {
  host: string;
  port: number;
  tls: TlsMode;
  /** Login name (IMAP user / SMTP AUTH user, also the SMTP sender); passwords come from the secrets. */
  user: string;
  /** Bound on connect + greeting + login; no answer within it → `imap_timeout` / `smtp_timeout`. */
  timeout_ms: number;
  /** Absolute path of a PEM CA for a private certificate, or null for the system store. */
  ca_file: string | null;
}

/** A mailbox (IMAP folder of the stack account) with its role: `inbox` mailboxes are what the connector watches. */
export interface StackMailbox {
  name: string;
  role: string;
  address: string | null;
}

/** One simulated message (simulation mode searches these instead of a server). */
export interface CatalogMessage {
  id: string;
  mailbox: string;
  from: string;
  to: string;
  subject: string;
  /** ISO-8601. */
  date: string;
  snippet: string;
}

export interface MailStackConfig {
  mode: "simulation" | "live-pilot";
  imap: MailEndpoint;
  smtp: MailEndpoint;
  mailboxes: StackMailbox[];
  catalog: CatalogMessage[];
  /** The file it came from (for messages). */
  file: string;
}

const EndpointSchema = (defaultPort: number, defaultTls: TlsMode) =>
  z
    .object({
      host: z.string().min(1),
      port: z.number().int().min(1).max(65_535).default(defaultPort),
      tls: z.enum(["implicit", "starttls", "none"]).default(defaultTls),
      user: z.string().min(1),
      timeout_ms: z.number().int().min(100).max(120_000).default(10_000),
      ca_file: z.string().min(1).nullable().default(null),
    })
    .strict();

/** Interim schema of `policies/communications/stack.yaml` (strict, defaulted). */
export const MailStackFileSchema = z
  .object({
    schema_version: z.literal(1).default(1),
    mode: z.enum(["simulation", "live-pilot"]).default("simulation"),
    imap: EndpointSchema(993, "implicit"),
    smtp: EndpointSchema(587, "starttls"),
    mailboxes: z
      .array(z.object({ name: z.string().min(1), role: z.string().min(1), address: z.string().min(3).nullable().default(null) }).strict())
      .min(1)
      .default([{ name: "INBOX", role: "inbox", address: null }]),
    catalog: z
      .array(
        z
          .object({
            id: z.string().min(1),
            mailbox: z.string().min(1),
            from: z.string(),
            to: z.string(),
            subject: z.string(),
            date: z.string().refine((s) => Number.isFinite(Date.parse(s)), "an ISO-8601 date"),
            snippet: z.string().default(""),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

/** Where the stack contract lives under the policies folder. */
export function stackFilePath(policiesDir: string): string {
  return path.join(policiesDir, "communications", "stack.yaml");
}

/** Read and validate the stack contract; throws ConfigError (file, line, field) when missing or invalid. */
export function loadMailStack(policiesDir: string): MailStackConfig {
  const file = stackFilePath(policiesDir);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`${file}: cannot read the mail stack contract: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      file,
      cause: err,
      hint: "write policies/communications/stack.yaml (mode, imap, smtp, mailboxes)",
    });
  }
  const parsed = parseYamlWith(text, file, MailStackFileSchema);
  const resolveCa = (ca: string | null) => (ca === null ? null : path.resolve(path.dirname(file), ca));
  return {
    mode: parsed.mode,
    imap: { ...parsed.imap, ca_file: resolveCa(parsed.imap.ca_file) },
    smtp: { ...parsed.smtp, ca_file: resolveCa(parsed.smtp.ca_file) },
    mailboxes: parsed.mailboxes,
    catalog: parsed.catalog,
    file,
  };
}

/** The mailboxes the email connector watches: role `inbox`, or INBOX when none is marked. */
export function watchedMailboxes(stack: MailStackConfig): string[] {
  const names = stack.mailboxes.filter((m) => m.role === "inbox").map((m) => m.name);
  return names.length > 0 ? names : ["INBOX"];
}

/** Read a PEM CA file named by the contract (null when none). */
export function readCa(file: string | null): string | undefined {
  if (file === null) return undefined;
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`${file}: cannot read CA certificate: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { file, cause: err });
  }
}
