/**
 * @module Builds the email connector for an app: mode from `tau.yaml` (`connectors.email.mode: imap`), endpoint,
 * login and watched folders from `policies/communications/stack.yaml`, the password from the contract's
 * `imap.password_secret` (read at every login), and the imapflow port. The connectors runtime calls this.
 */
import type { ConnectorDeps } from "../contracts/connector.ts";
import { createEmailConnector, EMAIL_CONNECTOR_DEFAULTS, type EmailConnectorConfig } from "../../connectors/email/inbound.ts";
import type { TauConfig } from "../config/index.ts";
import { describeError } from "../contracts/errors.ts";
import {
  DEFAULT_MAIL_RUNTIME,
  imapConfigOf,
  mailPortOf,
  type EmailConnectorBuild,
  type MailAdapters,
} from "../capabilities/mail/mail-context.ts";
import { loadMailStack, watchedMailboxes, type MailStackConfig } from "../capabilities/mail/stack.ts";

/** The part of `App` the factory reads. */
interface EmailConnectorHost {
  config: TauConfig;
  loaded: { policiesDir: string };
}

export type { EmailConnectorBuild };

export interface EmailConnectorFactoryOptions {
  adapters?: MailAdapters;
  /** Bound on IMAP connect + login. */
  timeoutMs?: number;
  /** Tuning overrides (tests, bench); defaults are EMAIL_CONNECTOR_DEFAULTS. */
  overrides?: Partial<Omit<EmailConnectorConfig, "deps" | "port">>;
  /** Build even when tau.yaml has `connectors.email.mode: disabled` (the `inbox poll` capability). */
  ignoreMode?: boolean;
}

/** Build the email connector, or say why not (disabled, contract invalid, no password). */
export function createEmailConnectorFor(
  app: EmailConnectorHost,
  deps: ConnectorDeps,
  opts: EmailConnectorFactoryOptions = {},
): EmailConnectorBuild {
  if (app.config.connectors.email.mode !== "imap" && !opts.ignoreMode) {
    return { connector: null, reason: "email_disabled", detail: "connectors.email.mode is disabled in tau.yaml" };
  }
  let stack: MailStackConfig;
  try {
    stack = loadMailStack(app.loaded.policiesDir);
  } catch (err) {
    return { connector: null, reason: "stack_contract_invalid", detail: describeError(err) };
  }
  if (!deps.secret(stack.imap.password_secret)) {
    return {
      connector: null,
      reason: "missing_imap_password",
      detail: `secret ${stack.imap.password_secret} is not set (env TAU_IMAP_PASSWORD or \`tau secrets set ${stack.imap.password_secret}\`)`,
    };
  }
  const imap = imapConfigOf(stack, deps, opts.timeoutMs ?? DEFAULT_MAIL_RUNTIME.timeoutMs);
  const mailboxes = watchedMailboxes(stack);
  const connector = createEmailConnector({
    deps,
    port: mailPortOf(opts.adapters ?? DEFAULT_MAIL_RUNTIME.adapters, imap),
    ...EMAIL_CONNECTOR_DEFAULTS,
    mailboxes,
    ...opts.overrides,
  });
  return { connector, reason: "ready", detail: `${stack.imap.user} @ ${stack.imap.host}:${stack.imap.port} ${mailboxes.join(",")}` };
}
