/**
 * Chat accepts repeated `--var` (issue 13 §4): `/tau send preview … --var a=1 --var b=2` through the real runner
 * (real SQLite, the real command stage and capability), where it used to fail with `flag --var given more than
 * once`. A flag whose argument is not a list is still refused when repeated; the preview reply gives chat syntax.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseTauCommand } from "../../src/commands/parse-command.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { makeHarness, type Harness } from "../helpers/pipeline-harness.ts";
import { OPEN_CHANNEL_POLICY } from "../helpers/tau-home.ts";

let h: Harness | null = null;
afterEach(() => {
  h?.close();
  h = null;
});

function harness(): Harness {
  const hh = makeHarness({ "channel-policy.yaml": OPEN_CHANNEL_POLICY, "rbac.yaml": 'schema_version: 1\noperators: ["telegram:4242"]\n' });
  fs.cpSync(path.resolve("policies/communications"), path.join(hh.home.dir, "policies", "communications"), { recursive: true });
  return hh;
}

describe("repeated flags in chat", () => {
  it("the parser keeps every value of a repeated flag, in order", () => {
    expect(parseTauCommand("/tau send preview t x --var a=1 --var b=2 --var=c=3", { prefix: "/tau", botUsername: null })).toEqual({
      kind: "command",
      words: ["send", "preview", "t", "x"],
      flags: { var: ["a=1", "b=2", "c=3"] },
      raw: "send preview t x --var a=1 --var b=2 --var=c=3",
    });
  });

  it("/tau send preview with three --var renders all three, and says how to send it in chat syntax", async () => {
    h = harness();
    const out = await h.run([
      makeDm("4242", {
        event_id: "telegram:6112:u:501",
        text: "/tau send preview order_shipped ana@example.test --var customer_name=Ana --var order_number=A-1001 --var tracking_number=1Z999",
      }),
    ]);
    expect(out[0]).toMatchObject({ outcome: "replied" });
    const reply = h.replies().find((r) => r.event_id === "telegram:6112:u:501" && r.purpose === "command")!.text;
    expect(reply).toContain("Hi Ana,\n\nYour order A-1001 is on its way. Tracking number: 1Z999.");
    expect(reply).toMatch(/\nSend it: \/tau send execute pv_[0-9a-f]{16} \(expires in \d+ min\)\./);
  });

  it("a repeated flag that is not a list is refused by name", async () => {
    h = harness();
    await h.run([makeDm("4242", { event_id: "telegram:6112:u:502", text: "/tau mail search invoice --top 1 --top 2" })]);
    const reply = h.replies().find((r) => r.event_id === "telegram:6112:u:502")!.text;
    expect(reply).toContain("flag --top given more than once.");
  });

  it("a bad number names the flag in chat too", async () => {
    h = harness();
    await h.run([makeDm("4242", { event_id: "telegram:6112:u:503", text: "/tau delivery log --limit abc" })]);
    const reply = h.replies().find((r) => r.event_id === "telegram:6112:u:503")!.text;
    expect(reply).toContain('--limit: expected a whole number from 1 to 500, got "abc".');
  });
});
