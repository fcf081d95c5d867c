import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../src/log.ts";

function sink(): { stream: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split("\n")) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { stream, lines };
}

describe("logger redaction (declared once in src/log.ts)", () => {
  it("removes tokens always and bodies/phone numbers unless identifiers are allowed", async () => {
    const a = sink();
    const log = createLogger({ level: "info", includeIdentifiers: false, destination: a.stream });
    log.info(
      {
        event: "outbound.sent",
        token: "123:ABC",
        request: { headers: { authorization: "Bot xyz" }, body: "hi" },
        text: "hello",
        to: "+15551234567",
      },
      "sent",
    );
    await new Promise((r) => setImmediate(r));
    expect(a.lines[0]).toMatchObject({
      event: "outbound.sent",
      token: "[redacted]",
      request: { headers: { authorization: "[redacted]" }, body: "[redacted]" },
      text: "[redacted]",
      to: "[redacted]",
    });
    const b = sink();
    createLogger({ level: "info", includeIdentifiers: true, destination: b.stream }).info({ token: "123:ABC", to: "+15551234567" }, "x");
    await new Promise((r) => setImmediate(r));
    expect(b.lines[0]).toMatchObject({ token: "[redacted]", to: "+15551234567" });
  });
});
