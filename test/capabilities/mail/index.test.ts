/** @module The mail capabilities as a set: ids, chat aliases, roles and approvals, and no clash with the rest of the registry. */
import { describe, expect, it } from "vitest";
import { MAIL_CAPABILITIES } from "../../../src/capabilities/mail/index.ts";
import { CONNECTOR_CURSOR_PREFIX } from "../../../src/capabilities/mail/poll-inbox.ts";
import { COMMS_SEND_CAPABILITIES } from "../../../src/capabilities/communications/index.ts";
import { CORE_CAPABILITIES } from "../../../src/capabilities/core/index.ts";
import { CapabilityRegistry } from "../../../src/capabilities/registry.ts";
import { CURSOR_PREFIX } from "../../../src/app/connectors-runtime.ts";

describe("MAIL_CAPABILITIES", () => {
  it("declares the five mail capabilities with their chat aliases, roles, side effects and approvals", () => {
    expect(
      MAIL_CAPABILITIES.map((c) => ({
        id: c.id,
        alias: c.alias.join(" "),
        role: c.role,
        sideEffect: c.sideEffect,
        approval: c.approval,
        positional: c.positional ?? [],
      })),
    ).toEqual([
      { id: "communications.stack.status", alias: "stack status", role: "operator", sideEffect: "read", approval: "none", positional: [] },
      {
        id: "communications.mailboxes.list",
        alias: "mailboxes list",
        role: "operator",
        sideEffect: "read",
        approval: "none",
        positional: [],
      },
      {
        id: "communications.mail.search",
        alias: "mail search",
        role: "operator",
        sideEffect: "read",
        approval: "none",
        positional: ["query"],
      },
      { id: "communications.inbox.poll", alias: "inbox poll", role: "operator", sideEffect: "write", approval: "none", positional: [] },
      {
        id: "communications.mail.send.test",
        alias: "mail send test",
        role: "operator",
        sideEffect: "send",
        approval: "confirm",
        positional: [],
      },
    ]);
  });

  it("registers next to the core and communications capabilities, and chat words find them", () => {
    const registry = new CapabilityRegistry().register(...CORE_CAPABILITIES, ...COMMS_SEND_CAPABILITIES, ...MAIL_CAPABILITIES);
    expect(registry.match(["mail", "search", "invoice", "--top", "3"])?.capability.id).toBe("communications.mail.search");
    expect(registry.match(["mail", "send", "test"])?.capability.id).toBe("communications.mail.send.test");
    expect(registry.match(["stack", "status"])?.capability.id).toBe("communications.stack.status");
    expect(registry.match(["status"])?.capability.id).toBe("tau.status");
  });

  it("polls with the connectors runtime's cursor keys", () => {
    expect(CONNECTOR_CURSOR_PREFIX).toBe(CURSOR_PREFIX);
  });
});
