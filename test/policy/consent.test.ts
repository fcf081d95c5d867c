/** @module Tests for the consent decision and SMS keyword classification. */
import { describe, expect, it } from "vitest";
import { classifySmsKeyword, decideConsent, effectiveConsent, type ConsentFact } from "../../src/policy/consent.ts";

const fact = (message_type: string, status: ConsentFact["status"], updated_at_ms: number, source = "cli"): ConsentFact => ({
  message_type,
  status,
  updated_at_ms,
  source,
});
const KEYWORDS = {
  opt_out: ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"],
  opt_in: ["START", "YES", "UNSTOP"],
  help: ["HELP", "INFO"],
};

describe("decideConsent", () => {
  it("opt_in required: opted in passes, unknown and opted out are blocked", () => {
    expect(
      decideConsent({ channel: "sms", messageType: "marketing", requirement: "opt_in", facts: [fact("marketing", "opted_in", 10)] }),
    ).toEqual({
      stage: "consent",
      outcome: "allow",
      reason: "consent_opted_in",
      matched_by: "message_type",
      detail: { channel: "sms", message_type: "marketing", required: "opt_in", status: "opted_in", source: "cli" },
    });
    expect(decideConsent({ channel: "sms", messageType: "marketing", requirement: "opt_in", facts: [] })).toMatchObject({
      outcome: "deny",
      reason: "consent_unknown",
      matched_by: "none",
    });
    expect(
      decideConsent({
        channel: "sms",
        messageType: "marketing",
        requirement: "opt_in",
        facts: [fact("*", "opted_out", 10, "twilio_webhook")],
      }),
    ).toMatchObject({
      outcome: "deny",
      reason: "consent_opted_out",
      matched_by: "wildcard",
    });
  });

  it("not_required: unknown passes as consent_not_required, but an opt-out still blocks", () => {
    expect(decideConsent({ channel: "email", messageType: "transactional", requirement: "not_required", facts: [] }).reason).toBe(
      "consent_not_required",
    );
    expect(
      decideConsent({
        channel: "email",
        messageType: "transactional",
        requirement: "not_required",
        facts: [fact("transactional", "opted_in", 1)],
      }).reason,
    ).toBe("consent_opted_in");
    expect(
      decideConsent({ channel: "sms", messageType: "transactional", requirement: "not_required", facts: [fact("*", "opted_out", 1)] }),
    ).toMatchObject({ outcome: "deny", reason: "consent_opted_out" });
  });

  it("ignores rows for other message types", () => {
    expect(
      decideConsent({ channel: "sms", messageType: "marketing", requirement: "opt_in", facts: [fact("alerts", "opted_in", 5)] }).reason,
    ).toBe("consent_unknown");
  });
});

describe("effectiveConsent", () => {
  it("the most recent row wins: STOP after an opt-in, START after a STOP", () => {
    expect(effectiveConsent([fact("marketing", "opted_in", 1), fact("*", "opted_out", 2)], "marketing").status).toBe("opted_out");
    expect(effectiveConsent([fact("*", "opted_out", 2), fact("*", "opted_in", 3)], "marketing").status).toBe("opted_in");
    expect(effectiveConsent([fact("*", "opted_out", 5), fact("marketing", "opted_in", 6)], "marketing")).toMatchObject({
      status: "opted_in",
      matched_by: "message_type",
    });
  });

  it("on equal times opted_out wins, whatever the order", () => {
    expect(effectiveConsent([fact("marketing", "opted_in", 7), fact("*", "opted_out", 7)], "marketing").status).toBe("opted_out");
    expect(effectiveConsent([fact("*", "opted_out", 7), fact("marketing", "opted_in", 7)], "marketing").status).toBe("opted_out");
  });
});

describe("classifySmsKeyword", () => {
  it("matches the whole message, case-insensitively, ignoring whitespace and trailing punctuation", () => {
    expect(classifySmsKeyword("STOP", KEYWORDS)).toBe("opt_out");
    expect(classifySmsKeyword("  stop. ", KEYWORDS)).toBe("opt_out");
    expect(classifySmsKeyword("Unsubscribe", KEYWORDS)).toBe("opt_out");
    expect(classifySmsKeyword("start", KEYWORDS)).toBe("opt_in");
    expect(classifySmsKeyword("Help!", KEYWORDS)).toBe("help");
  });

  it("ordinary messages that contain a keyword are not keywords", () => {
    expect(classifySmsKeyword("please stop sending at night", KEYWORDS)).toBeNull();
    expect(classifySmsKeyword("", KEYWORDS)).toBeNull();
    expect(classifySmsKeyword("STOPP", KEYWORDS)).toBeNull();
  });
});
