import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EnvelopeSchema } from "../../src/contracts/envelope.ts";
import { parseIngressLine } from "../../src/ingress/parse-line.ts";
import { splitPayload } from "../../src/ingress/split-payload.ts";
import { makeEnvelope } from "../helpers/envelope-factory.ts";

describe("splitPayload", () => {
  it("reads one object, an array, a getUpdates response and NDJSON with line numbers", () => {
    expect(splitPayload(Buffer.from('{"update_id":1}'), 1024)).toEqual([{ ok: true, value: { update_id: 1 }, line: 1, item: 1 }]);
    expect(splitPayload(Buffer.from('[{"a":1},{"a":2}]'), 1024).map((i) => (i.ok ? i.value : null))).toEqual([{ a: 1 }, { a: 2 }]);
    expect(
      splitPayload(Buffer.from('{"ok":true,"result":[{"update_id":7},{"update_id":8}]}'), 1024).map((i) => (i.ok ? i.value : null)),
    ).toEqual([{ update_id: 7 }, { update_id: 8 }]);
    const nd = splitPayload(Buffer.from('{"a":1}\n\n{bad\n{"a":3}\n'), 1024);
    expect(nd.map((i) => (i.ok ? `${i.line}:ok` : `${i.line}:${i.code}`))).toEqual(["1:ok", "3:ingress_malformed_json", "4:ok"]);
  });

  it("refuses invalid UTF-8 and oversized lines by line, keeping the rest", () => {
    const bytes = Buffer.concat([
      Buffer.from('{"a":1}\n'),
      Buffer.from([0xff, 0xfe, 0x0a]),
      Buffer.from(`{"b":"${"x".repeat(200)}"}\n{"a":4}\n`),
    ]);
    expect(splitPayload(bytes, 100).map((i) => (i.ok ? `${i.line}:ok` : `${i.line}:${i.code}`))).toEqual([
      "1:ok",
      "2:ingress_invalid_utf8",
      "3:ingress_line_too_large",
      "4:ok",
    ]);
  });

  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (arr) => Array.isArray(splitPayload(Buffer.from(arr), 128))),
      { seed: 42, numRuns: 500 },
    );
  });
});

describe("parseIngressLine", () => {
  it("accepts a valid v1 envelope and names the reason for each kind of bad line", () => {
    const env = makeEnvelope();
    expect(parseIngressLine(JSON.stringify(env), "telegram")).toEqual({ ok: true, envelope: env });
    expect(parseIngressLine("{", "telegram")).toMatchObject({ ok: false, code: "ingress_malformed_json" });
    expect(parseIngressLine(JSON.stringify({ ...env, v: 2 }), "telegram")).toMatchObject({
      ok: false,
      code: "ingress_schema_version_unsupported",
    });
    expect(parseIngressLine(JSON.stringify({ ...env, event_id: "" }), "telegram")).toMatchObject({ ok: false, code: "ingress_missing_id" });
    expect(parseIngressLine(JSON.stringify(env), "discord")).toMatchObject({ ok: false, code: "ingress_transport_mismatch" });
    expect(parseIngressLine(JSON.stringify({ ...env, chat_type: "supergroup" }), "telegram")).toEqual({
      ok: false,
      code: "ingress_envelope_invalid",
      detail: 'chat_type: Invalid option: expected one of "dm"|"group"|"channel"',
    });
    expect(parseIngressLine(JSON.stringify({ ...env, secret: 1 }), "telegram")).toMatchObject({
      ok: false,
      code: "ingress_envelope_invalid",
    });
  });

  it("property: never throws, and whatever it accepts is a valid envelope", () => {
    const arbLine = fc.oneof(fc.string(), fc.json(), fc.constant(JSON.stringify(makeEnvelope())));
    fc.assert(
      fc.property(arbLine, (line) => {
        const r = parseIngressLine(line, "telegram");
        return r.ok ? EnvelopeSchema.safeParse(r.envelope).success : typeof r.code === "string";
      }),
      { seed: 7, numRuns: 1000 },
    );
  });

  it("property: a valid envelope survives serialization unchanged", () => {
    const arbEnv = fc.record({
      text: fc.string({ unit: "grapheme", maxLength: 200 }),
      update: fc.nat(1e9),
      chat: fc.constantFrom("dm", "group", "channel") as fc.Arbitrary<"dm" | "group" | "channel">,
    });
    fc.assert(
      fc.property(arbEnv, ({ text, update, chat }) => {
        const env = makeEnvelope({ text, event_id: `telegram:6112:u:${update}`, chat_type: chat });
        const r = parseIngressLine(JSON.stringify(env), "telegram");
        return r.ok && JSON.stringify(r.envelope) === JSON.stringify(env);
      }),
      { seed: 11, numRuns: 300 },
    );
  });
});
