/**
 * @module Mail capabilities (PRODUCT.md §9): stack status, mailbox roster, search, inbox poll, send test.
 * IMAP goes through `imap-client.ts` (imapflow + mailparser), SMTP through `smtp-client.ts` (nodemailer).
 */
import type { AnyCapability } from "../registry.ts";
import { DEFAULT_MAIL_RUNTIME, type MailRuntime } from "./mail-context.ts";
import { createListMailboxesCapability } from "./list-mailboxes.ts";
import { createPollInboxCapability } from "./poll-inbox.ts";
import { createSearchMailCapability } from "./search-mail.ts";
import { createSendTestMailCapability } from "./send-test-mail.ts";
import { createStackStatusCapability } from "./stack-status.ts";

/** The five mail capabilities over the given adapters and connect/login bound. */
export function createMailCapabilities(runtime: Partial<MailRuntime> = {}): AnyCapability[] {
  const rt: MailRuntime = { ...DEFAULT_MAIL_RUNTIME, ...runtime };
  return [
    createStackStatusCapability(rt),
    createListMailboxesCapability(rt),
    createSearchMailCapability(rt),
    createPollInboxCapability(rt),
    createSendTestMailCapability(rt),
  ];
}

/** The mail capabilities over imapflow and nodemailer: register these in `createRegistry()`. */
export const MAIL_CAPABILITIES: AnyCapability[] = createMailCapabilities();

// Commonly used by composition
export { IMAP_CLIENT_DEFAULTS } from "./imap-defaults.ts";
export type { ImapClientConfig } from "./imap-client.ts";
// Advanced: contract shape and adapters
export { loadMailStack, watchedMailboxes, type MailStackConfig, type CatalogMessage } from "./stack.ts";
export {
  DEFAULT_MAIL_ADAPTERS,
  DEFAULT_MAIL_RUNTIME,
  policiesDirOf,
  type MailAdapters,
  type MailRuntime,
  type EmailConnectorBuild,
  type EmailConnectorFactory,
} from "./mail-context.ts";
export { SmtpError } from "./smtp-error.ts";
export type { SmtpClientConfig } from "./smtp-client.ts";
