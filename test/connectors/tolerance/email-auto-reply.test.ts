/**
 * The automated-mail rule (PROVIDERS.md §10.4) header by header, with values as the tools that send them write them
 * (RFC 3834, Exchange MS-OXCMAIL, iCloud, mailing-list managers, MTAs) and as mailparser hands them over.
 */
import { describe, expect, it } from "vitest";
import { automatedMailReason } from "../../../connectors/email/auto-reply.ts";

const reason = (headers: Record<string, string>, from: string | null = "someone@example.test", autoSubmitted = false) =>
  automatedMailReason({ headers, autoSubmitted, from });

describe("automatedMailReason", () => {
  it("names the header that marks automated mail", () => {
    expect([
      reason({ "auto-submitted": "auto-replied" }),
      reason({ "auto-submitted": "auto-generated; owner-email=ops@example.test" }),
      reason({ "x-apple-action": "VACATION" }),
      reason({ "x-autoreply": "yes" }),
      reason({ "x-autorespond": "Out of office" }),
      reason({ "x-autoresponder": "true" }),
      reason({ precedence: "bulk" }),
      reason({ precedence: "junk" }),
      reason({ precedence: "list" }),
      reason({ precedence: "auto_reply" }),
      reason({ "x-precedence": "bulk" }),
      reason({ "x-auto-response-suppress": "DR, OOF, AutoReply" }),
      reason({ "x-ms-exchange-inbox-rules-loop": "bob@contoso.example" }),
      reason({ "list-id": "announce.lists.example.test" }),
      reason({ "list-unsubscribe": "present" }),
      reason({ "content-type": "multipart/report; report-type=disposition-notification" }),
      reason({ "return-path": "" }),
      reason({}, "MAILER-DAEMON@mx.example.test"),
      reason({}, "postmaster@example.test"),
      reason({ "x-tau-outbox-id": "ob_1:0" }),
      reason({}, "x@example.test", true),
    ]).toEqual([
      "auto-submitted",
      "auto-submitted",
      "x-apple-action",
      "x-autoreply",
      "x-autorespond",
      "x-autoresponder",
      "precedence",
      "precedence",
      "precedence",
      "precedence",
      "x-precedence",
      "x-auto-response-suppress",
      "x-ms-exchange-inbox-rules-loop",
      "list-id",
      "list-unsubscribe",
      "content-type",
      "return-path",
      "from",
      "from",
      "x-tau-outbox-id",
      "auto-submitted",
    ]);
  });

  it("leaves a person's mail alone: Auto-Submitted no, Precedence normal, suppression None, a normal Return-Path", () => {
    expect([
      reason({ "auto-submitted": "no" }),
      reason({ precedence: "first-class" }),
      reason({ "x-auto-response-suppress": "None" }),
      reason({ "return-path": "carla@example.test", "content-type": "multipart/alternative" }),
      reason({ "x-apple-action": "OTHER" }),
      reason({}, null),
    ]).toEqual([null, null, null, null, null, null]);
  });
});
