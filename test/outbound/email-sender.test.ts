/**
 * Email replies in provider mode: the real nodemailer client submits to the SMTP sink, which delivers into a
 * real Dovecot; threading and RFC 3834 headers on the wire; simulation stacks, missing passwords and refused
 * recipients become reason codes, never a crash or a silent send.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ReplyTarget } from "../../src/contracts/outbound.ts";
import { createRequestBuilders, lookupSecret } from "../../src/app/index.ts";
import { createDelivery } from "../../src/outbound/deliver.ts";
import { queueReplies } from "../../src/outbound/outbox.ts";
import { createProviderDelivery } from "../../src/outbound/provider.ts";
import { createProviderSenders } from "../../src/app/provider-senders.ts";
import { classifySmtpFailure } from "../../connectors/email/sender.ts";
import { startDovecot, type DovecotHandle } from "../helpers/dovecot.ts";
import { startSmtpSink, type SmtpSinkHandle } from "../helpers/smtp-sink.ts";
import { openMailHome, stackYaml, type MailHome } from "../capabilities/mail/support.ts";

const T0 = 1_763_712_000_000;
const target = (to: string, replyTo: string | null = "<orig-1@vendor.example.net>"): ReplyTarget => ({
  transport: "email",
  account_id: "ops",
  conversation_id: to,
  thread_id: null,
  reply_to: replyTo,
});

describe("email replies over SMTP (provider mode)", () => {
  let dc: DovecotHandle;
  let sink: SmtpSinkHandle;
  const homes: MailHome[] = [];

  beforeAll(async () => {
    dc = await startDovecot();
    sink = await startSmtpSink({ dovecot: dc });
  });
  afterAll(async () => {
    for (const h of homes) h.close();
    await sink?.close();
    await dc?.stop();
  });

  function rig(mode: "live-pilot" | "simulation", env?: Record<string, string>) {
    const mh = openMailHome(
      stackYaml({ mode, imapPort: dc.imapPort, smtpPort: sink.port }),
      env,
      "outbound:\n  mode: provider\n  max_attempts: 3\n",
    );
    homes.push(mh);
    const { app } = mh;
    const provider = createProviderDelivery({
      store: app.store,
      senders: createProviderSenders(app.config, (id) => lookupSecret(app, id), mh.policiesDir),
      retry: app.config.outbound,
      clock: () => T0,
      random: () => 0.5,
    });
    const delivery = createDelivery({
      store: app.store,
      senders: createRequestBuilders(app.config),
      dryRunFile: path.join(app.stateDir, "outbox", "dry-run.ndjson"),
      provider,
      clock: () => T0,
    });
    let n = 0;
    return {
      app,
      queue: (t: ReplyTarget, text: string) =>
        app.store.atomically(() =>
          queueReplies(app.store, `email:ops:test:${++n}`, t, [{ purpose: "responder", text }], {
            mode: "provider",
            maxChars: 4096,
            now: T0,
          }),
        )[0]!,
      deliver: () => delivery.deliverPending(),
    };
  }

  it("submits the reply threaded under the triggering message, marked auto-replied, and Dovecot has it", async () => {
    const r = rig("live-pilot");
    const id = r.queue(target("alerts@example.test"), "tau received your message (route alerts-mail).");
    await r.deliver();
    const row = r.app.store.outbox.get(id)!;
    expect(row).toMatchObject({ status: "sent", reason: "delivery_sent" });
    // nodemailer writes the header name as X-Tau-Outbox-ID; header names are case-insensitive.
    const m = await sink.waitFor((x) => x.raw.toString().toLowerCase().includes(`x-tau-outbox-id: ${id}:0`));
    const raw = m.raw.toString();
    expect(m.envelope).toEqual({ from: "ops@example.test", to: ["alerts@example.test"] });
    expect(m.delivered).toEqual(["alerts@example.test"]);
    expect(raw).toMatch(/^In-Reply-To: <orig-1@vendor\.example\.net>\r?$/m);
    expect(raw).toMatch(/^References: <orig-1@vendor\.example\.net>\r?$/m);
    expect(raw).toMatch(/^Auto-Submitted: auto-replied\r?$/m);
    expect(raw).toContain("tau received your message (route alerts-mail).");
    // The Message-ID the server accepted is the provider message id (angle brackets stripped by the adapter).
    expect(raw).toContain(`Message-ID: <${r.app.store.outbox.chunksOf(id)[0]!.provider_message_id}>`);
  });

  it("refuses to send from a simulation stack, without a password, or to a recipient the server refuses", async () => {
    const sim = rig("simulation");
    const a = sim.queue(target("alerts@example.test"), "should not leave");
    await sim.deliver();
    expect(sim.app.store.outbox.get(a)).toMatchObject({ status: "failed", reason: "delivery_email_simulation" });

    const nopw = rig("live-pilot", { TAU_IMAP_PASSWORD: "secret" });
    const b = nopw.queue(target("alerts@example.test"), "no password");
    await nopw.deliver();
    expect(nopw.app.store.outbox.get(b)).toMatchObject({ status: "failed", reason: "delivery_missing_smtp_password" });

    const live = rig("live-pilot");
    const before = sink.messages.length;
    const c = live.queue(target("nobody@example.test"), "unknown local user");
    await live.deliver();
    expect(live.app.store.outbox.get(c)).toMatchObject({ status: "failed", reason: "delivery_request_rejected" });
    expect(sink.messages.length).toBe(before);
    expect(sink.rejections.some((x) => x.stage === "rcpt" && x.address === "nobody@example.test")).toBe(true);
  });

  it("classifies SMTP failures: refused connection retries, timeouts are ambiguous, 4xx retries, 5xx is final", () => {
    const f = (reason: string, responseCode?: number) => classifySmtpFailure(Object.assign(new Error("x"), { reason, responseCode }));
    expect(f("smtp_connection_refused")).toMatchObject({ code: "delivery_transport_error", retryable: true, ambiguous: false });
    expect(f("smtp_timeout")).toMatchObject({ code: "delivery_ambiguous", retryable: false, ambiguous: true });
    expect(f("smtp_rejected", 451)).toMatchObject({ code: "delivery_provider_unavailable", retryable: true });
    expect(f("smtp_rejected", 550)).toMatchObject({ code: "delivery_request_rejected", retryable: false });
    expect(f("smtp_auth_failed", 535)).toMatchObject({ code: "delivery_request_rejected", retryable: false, status: 535 });
  });

  it("the SMTP reply code decides whatever the reason; a session cut short without one is ambiguous (issue 14)", () => {
    const f = (reason: string, responseCode?: number) => classifySmtpFailure(Object.assign(new Error("x"), { reason, responseCode }));
    // 421 "service not available, closing channel" reported as a protocol error: the server refused, try later.
    expect(f("smtp_protocol_error", 421)).toMatchObject({ code: "delivery_provider_unavailable", retryable: true, ambiguous: false });
    expect(f("smtp_protocol_error", 554)).toMatchObject({ code: "delivery_request_rejected", retryable: false, ambiguous: false });
    // A temporary authentication failure (454) is worth another try; a reset mid-session may follow the final ".".
    expect(f("smtp_auth_failed", 454)).toMatchObject({ code: "delivery_provider_unavailable", retryable: true });
    expect(f("smtp_protocol_error")).toMatchObject({ code: "delivery_ambiguous", retryable: false, ambiguous: true });
  });
});
