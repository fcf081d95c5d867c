/**
 * @module The mail stack as the mail capabilities and the email connector see it (`MailStackConfig`), adapted
 * from the communications contract `policies/communications/stack.yaml` (`CommsStackSchema`, owned by
 * `src/capabilities/communications/contracts.ts`). Only stack.yaml is read, so a broken templates.yaml never
 * stops mail search.
 */
import fs from "node:fs";
import path from "node:path";
import { ConfigError } from "../../contracts/errors.ts";
import { parseYamlWith } from "../../config/load-yaml.ts";
import { CommsStackSchema, type CommsStack } from "../communications/contracts.ts";

/** How a client secures an endpoint: implicit TLS (993/465), required STARTTLS (143/587), or none (loopback only). */
export type TlsMode = "implicit" | "starttls" | "none";

interface MailEndpoint {
  host: string;
  port: number;
  tls: TlsMode;
  /** Login name (IMAP user / SMTP AUTH user, also the SMTP sender). */
  user: string;
  /** Integration secret id holding the password (`imap-password`, `smtp-password`). */
  password_secret: string;
}

/** A declared mailbox (an address with a role). Only those on the IMAP login's account can be read over IMAP. */
interface StackMailbox {
  id: string;
  address: string;
  role: string;
  /** IMAP folder of this mailbox on its account (default INBOX). */
  folder: string;
  active: boolean;
  /** The address is the IMAP login (`imap.user`): its folder is reachable over IMAP. */
  on_imap_account: boolean;
}

/** One simulated message; `mailbox` is a mailbox id. */
export interface CatalogMessage {
  id: string;
  mailbox: string;
  from: string;
  to: string;
  subject: string;
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

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/**
 * The contract says only `secure` (implicit TLS or not). Not secure means required STARTTLS, except on loopback,
 * where it means plain text (a local relay or test server); a remote endpoint is never used in clear text.
 */
function tlsModeOf(host: string, secure: boolean): TlsMode {
  if (secure) return "implicit";
  return LOOPBACK.has(host.toLowerCase()) ? "none" : "starttls";
}

/** Adapt the validated contract to the mail view. */
function toMailStackConfig(stack: CommsStack, file: string): MailStackConfig {
  const endpoint = (e: CommsStack["imap"]): MailEndpoint => ({
    host: e.host,
    port: e.port,
    tls: tlsModeOf(e.host, e.secure),
    user: e.user,
    password_secret: e.password_secret,
  });
  const imapUser = stack.imap.user.toLowerCase();
  return {
    mode: stack.mode,
    imap: endpoint(stack.imap),
    smtp: endpoint(stack.smtp),
    mailboxes: stack.mailboxes.map((m) => ({
      id: m.id,
      address: m.address,
      role: m.role,
      folder: m.folder,
      active: m.active,
      on_imap_account: m.address.toLowerCase() === imapUser,
    })),
    catalog: stack.catalog.map((c) => ({ ...c })),
    file,
  };
}

/** Where the stack contract lives under the policies folder (`.json` is accepted next to it). */
function stackFilePath(policiesDir: string): string {
  return path.join(policiesDir, "communications", "stack.yaml");
}

/** Read and validate `stack.yaml` (or `stack.json`); throws ConfigError with file, line and field. */
export function loadMailStack(policiesDir: string): MailStackConfig {
  const yamlFile = stackFilePath(policiesDir);
  for (const file of [yamlFile, yamlFile.replace(/\.yaml$/, ".json")]) {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw new ConfigError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
        file,
        cause: err,
        hint: "check permissions",
      });
    }
    return toMailStackConfig(parseYamlWith(text, file, CommsStackSchema), file);
  }
  throw new ConfigError(`${yamlFile}: cannot read the mail stack contract: ENOENT`, {
    file: yamlFile,
    hint: "write policies/communications/stack.yaml (mode, imap, smtp, mailboxes)",
  });
}

/** Active mailboxes reachable over the IMAP login. */
export function imapMailboxes(stack: MailStackConfig): StackMailbox[] {
  return stack.mailboxes.filter((m) => m.active && m.on_imap_account);
}

/** The IMAP folders the email connector watches: those of the IMAP account's active mailboxes, else INBOX. */
export function watchedMailboxes(stack: MailStackConfig): string[] {
  const folders = [...new Set(imapMailboxes(stack).map((m) => m.folder))];
  return folders.length > 0 ? folders : ["INBOX"];
}

/**
 * The IMAP folder for `--mailbox`: a mailbox id on the IMAP account → its folder; an id of another account →
 * refused (`stack_mailbox_unreachable`); anything else is taken as a folder name.
 */
export function resolveFolder(
  stack: MailStackConfig,
  nameOrId: string | undefined,
): { ok: true; folder: string } | { ok: false; reason: "stack_mailbox_unreachable"; detail: string } {
  if (nameOrId === undefined) return { ok: true, folder: watchedMailboxes(stack)[0]! };
  const declared = stack.mailboxes.find((m) => m.id === nameOrId);
  if (!declared) return { ok: true, folder: nameOrId };
  if (declared.on_imap_account) return { ok: true, folder: declared.folder };
  return {
    ok: false,
    reason: "stack_mailbox_unreachable",
    detail: `mailbox ${declared.id} (${declared.address}) is not the IMAP login ${stack.imap.user}`,
  };
}
