/**
 * Every reason code a chat user can see has a sentence and a next step (issue 12: no more "approval same
 * principal."), and no server path reaches chat. The codes are collected from the sources that produce them, so a
 * new failure code without a sentence fails here.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { commandReply, footerLine } from "../../src/commands/chat-reply.ts";
import { failureText, REASON_SENTENCES, scrubInternals } from "../../src/commands/reason-sentences.ts";

const root = path.resolve(import.meta.dirname, "../..");

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(path.join(root, dir), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []));
}

/** Codes matched by `pattern` (first group) in `files`. */
function codesIn(files: string[], pattern: RegExp): string[] {
  return files.flatMap((f) => [...fs.readFileSync(path.join(root, f), "utf8").matchAll(pattern)].map((m) => m[1]!));
}

describe("reason sentences", () => {
  it("cover every failure code capabilities, approvals, pairing, the command and callback stages and jobs produce", () => {
    const codes = new Set([
      ...codesIn(filesUnder("src/capabilities"), /\bfailed\(\s*"([a-z0-9_]+)"/g),
      ...codesIn(["src/policy/approval.ts", "src/policy/pairing.ts"], /\bdeny\(\s*"([a-z0-9_]+)"/g),
      ...codesIn(["src/router/stages/command.ts"], /"failed",\s*"([a-z0-9_]+)"/g),
      ...codesIn(["src/router/stages/callback.ts"], /\brefuse\(\s*"([a-z0-9_]+)"/g),
      ...codesIn(["src/capabilities/execute.ts", "src/commands/job-runner.ts"], /reason_code: "(command_[a-z0-9_]+)"/g),
    ]);
    // The scan found the codes of the examples.
    for (const c of ["approval_same_principal", "approval_replayed", "comms_contract_invalid", "button_unknown", "command_unknown"])
      expect(codes.has(c)).toBe(true);
    const missing = [...codes].filter((c) => !REASON_SENTENCES[c]);
    expect(missing).toEqual([]);
    for (const [code, s] of Object.entries(REASON_SENTENCES)) {
      expect(s.sentence, code).toMatch(/^[A-Z].*\.$/);
      expect(s.next.length, code).toBeGreaterThan(3);
    }
  });

  it("turns approval_same_principal into a sentence and a next step", () => {
    expect(failureText("approval_same_principal", "Approval ap_f234121b42: approval same principal.", "/tau")).toBe(
      "You asked for this, and it needs a second person to approve it.\nNext: Ask another operator to press Approve (or run the approve command).",
    );
  });

  it("keeps useful detail but replaces server paths by the file name", () => {
    expect(scrubInternals("bad value in /srv/tau/policies/communications/stack.yaml:3 and ~/x/y.yaml, see https://a.b/c/d")).toBe(
      "bad value in stack.yaml:3 and y.yaml, see https://a.b/c/d",
    );
    const r = commandReply(
      { prefix: "/tau", footer: "short", command: "send preview" },
      {
        status: "failed",
        reason_code: "template_vars_invalid",
        text: "missing var name in /home/ops/tau/policies/communications/templates.yaml",
      },
    );
    expect(r.text).toBe(
      "The template's variables are wrong or missing.\nmissing var name in templates.yaml\nNext: Check the variables the template needs.\n\n/tau send preview · not done",
    );
  });

  it("has a short human footer by default, none on request, and the machine line in debug", () => {
    expect(footerLine("short", "/tau", "whoami", "reported", "command_whoami")).toBe("/tau whoami · done");
    expect(footerLine("short", "/tau", "allowlist add", "pending_approval", "approval_requested")).toBe(
      "/tau allowlist add · waiting for approval",
    );
    expect(footerLine("none", "/tau", "whoami", "reported", "command_whoami")).toBeNull();
    expect(footerLine("debug", "/tau", "whoami", "failed", "command_rbac_denied")).toBe(
      "tau /tau whoami | status failed | reason_code command_rbac_denied",
    );
  });
});
