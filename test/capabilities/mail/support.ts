/** @module Shared setup for the mail tests: a tau home with a stack contract, services over it, capability runs, ingress reads. */
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { buildArgs } from "../../../src/capabilities/args.ts";
import type { CapabilityResult } from "../../../src/capabilities/capability.ts";
import type { AnyCapability } from "../../../src/capabilities/registry.ts";
import type { Services } from "../../../src/capabilities/services.ts";
import type { Envelope } from "../../../src/contracts/envelope.ts";
import { createServices, openApp, type App } from "../../../src/app/index.ts";
import { MAIL_CAPABILITIES } from "../../../src/capabilities/mail/index.ts";
import type { ConnectorLogger } from "../../../connectors/shared/connector.ts";
import { makeTauHome, type TauHome } from "../../helpers/tau-home.ts";

export const PASSWORD = "secret";

export interface StackMailboxOption {
  id: string;
  role: string;
  address?: string;
  folder?: string;
  active?: boolean;
}

export interface StackOptions {
  mode: "simulation" | "live-pilot";
  imapPort?: number;
  smtpPort?: number;
  /** IMAP login and SMTP sender. Default ops@example.test. */
  user?: string;
  /** Default: one mailbox `ops` for the user, folder INBOX. */
  mailboxes?: StackMailboxOption[];
  catalog?: { id: string; mailbox: string; from: string; to: string; subject: string; date: string; snippet: string }[];
}

/** `policies/communications/stack.yaml` (the communications contract) for a local Dovecot and SMTP sink: loopback, so no TLS. */
export function stackYaml(o: StackOptions): string {
  const user = o.user ?? "ops@example.test";
  const mailboxes = o.mailboxes ?? [{ id: "ops", role: "ops" }];
  return [
    "schema_version: 1",
    `mode: ${o.mode}`,
    `imap: { host: 127.0.0.1, port: ${o.imapPort ?? 993}, secure: false, user: "${user}" }`,
    `smtp: { host: 127.0.0.1, port: ${o.smtpPort ?? 587}, secure: false, user: "${user}" }`,
    "mailboxes:",
    ...mailboxes.map(
      (m) =>
        `  - ${JSON.stringify({ id: m.id, address: m.address ?? user, role: m.role, ...(m.folder ? { folder: m.folder } : {}), ...(m.active === false ? { active: false } : {}) })}`,
    ),
    `catalog: ${JSON.stringify(o.catalog ?? [])}`,
    "",
  ].join("\n");
}

export interface MailHome {
  home: TauHome;
  app: App;
  services: Services;
  policiesDir: string;
  /** Replace the stack contract. */
  writeStack(text: string): void;
  close(): void;
}

/** A tau home whose services see `env` secrets and the stack contract. */
export function openMailHome(
  stack: string,
  env: Record<string, string> = { TAU_IMAP_PASSWORD: PASSWORD, TAU_SMTP_PASSWORD: PASSWORD },
  extraYaml = "",
): MailHome {
  const home = makeTauHome(`runner:\n  coalesce_window_ms: 0\n${extraYaml}`);
  const policiesDir = path.join(home.dir, "policies");
  const writeStack = (text: string) => {
    fs.mkdirSync(path.join(policiesDir, "communications"), { recursive: true });
    fs.writeFileSync(path.join(policiesDir, "communications", "stack.yaml"), text);
  };
  writeStack(stack);
  const app = openApp({ stateDir: home.stateDir, configPath: home.configPath, env });
  // `policiesDir` on Services is what composition should pass (see the mail-context module header).
  const services = { ...createServices(app), policiesDir } as Services;
  return {
    home,
    app,
    services,
    policiesDir,
    writeStack,
    close() {
      app.close();
      home.cleanup();
    },
  };
}

/** The mail capability with this id. */
export function mailCap(id: string): AnyCapability {
  const cap = MAIL_CAPABILITIES.find((c) => c.id === id);
  if (!cap) throw new Error(`no mail capability ${id}`);
  return cap;
}

/** Run a capability the way chat does: words and flags → schema-checked args → run as an operator. */
export async function runChat(
  services: Services,
  id: string,
  words: string[] = [],
  flags: Record<string, string | true> = {},
  caps: AnyCapability[] = MAIL_CAPABILITIES,
): Promise<CapabilityResult> {
  const cap = caps.find((c) => c.id === id);
  if (!cap) throw new Error(`no mail capability ${id}`);
  const built = buildArgs(cap, words, flags);
  if (!built.ok) throw new Error(`bad args: ${built.detail}`);
  return cap.run(built.args, {
    principal: "telegram:4242",
    role: "operator",
    surface: "chat",
    now: services.clock(),
    services,
    origin: null,
  });
}

/** Every envelope in `state/ingress/email.ndjson`, in order. */
export function readEmailIngress(stateDir: string): Envelope[] {
  const file = path.join(stateDir, "ingress", "email.ndjson");
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Envelope);
}

/** Poll `cond` every 20 ms until it returns a value; throw after `ms` (bounded wait, no fixed sleeps). */
export async function waitFor<T>(
  cond: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  ms: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A logger that keeps every record, for assertions on event names and reason codes. */
export function memoryLogger(): ConnectorLogger & { records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const keep = (level: string) => (obj: Record<string, unknown>, msg?: string) => void records.push({ level, ...obj, msg });
  return { records, info: keep("info"), warn: keep("warn"), error: keep("error") };
}

/** A TCP server on 127.0.0.1 that accepts connections and never says a word (a hung server). */
export async function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A raw RFC 5322 message. */
export function rawMail(o: {
  from: string;
  to: string;
  subject: string;
  body: string;
  id: string;
  date: string;
  headers?: string[];
}): string {
  return [
    `From: ${o.from}`,
    `To: ${o.to}`,
    `Subject: ${o.subject}`,
    `Message-ID: <${o.id}>`,
    `Date: ${o.date}`,
    ...(o.headers ?? []),
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    o.body,
    "",
  ].join("\r\n");
}
