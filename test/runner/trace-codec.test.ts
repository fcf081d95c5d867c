/**
 * The compact trace codec (`encodeTrace` / `decodeTrace`): whatever is stored, the reader gets JSON.stringify's
 * text back byte for byte, and `tau traces --json` is unchanged. Older rows (plain JSON) read as they are.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeTrace, encodeTrace, readableTrace } from "../../src/store/runner-store.ts";

const DM_TRACE = [
  {
    stage: "channel_policy",
    outcome: "allow",
    reason: "channel_policy_allow",
    matched_by: "defaultPolicy",
    detail: { allowFrom: "allowlist_or_pairing", chat_type: "dm", rule_source: "default" },
  },
  {
    stage: "access",
    outcome: "allow",
    reason: "allow_allowlist",
    matched_by: "allowlist",
    detail: { allowFrom: "allowlist_or_pairing", chat_type: "dm", role: "operator" },
  },
  {
    stage: "route",
    outcome: "info",
    reason: "route_default",
    matched_by: "default",
    detail: { binding_id: null, phase: "delegated_step", category_hint: "general", session_key: "100001", responder: "ack" },
  },
  { stage: "responder", outcome: "allow", reason: "responder_replied", detail: { responder: "ack" } },
];

describe("trace codec", () => {
  it("reads back JSON.stringify's text of a real trace, stored in under a third of the bytes", () => {
    const stored = encodeTrace(DM_TRACE);
    expect(decodeTrace(stored)).toBe(JSON.stringify(DM_TRACE));
    expect(Buffer.byteLength(stored)).toBeLessThan(JSON.stringify(DM_TRACE).length / 3);
  });

  it("keeps key order, leaves out undefined members, and writes odd numbers and strings as JSON does", () => {
    const value = [
      {
        reason: "x",
        stage: "route",
        matched_by: undefined,
        detail: { n: -0, big: 1e21, nan: Number.NaN, inf: -Infinity, t: true, f: false, z: null },
      },
      { stage: 'a\u0002b"c\\d\n', outcome: "\u0001allow", detail: { "": "", "stage\u0003": "€ 𝄞" } },
      [undefined, () => 1, Symbol("s")],
    ];
    expect(decodeTrace(encodeTrace(value))).toBe(JSON.stringify(value));
  });

  it("round-trips arbitrary JSON-like values, vocabulary words included", () => {
    const words = fc.constantFrom(
      "stage",
      "outcome",
      "reason",
      "allow",
      "deny",
      "route",
      "session_key",
      "responder_replied",
      "tau.whoami",
      "",
    );
    const key = fc.oneof(words, fc.string());
    const leaf = fc.oneof(words, fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined));
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: "small" }, leaf, fc.array(tie("v"), { maxLength: 4 }), fc.dictionary(key, tie("v"), { maxKeys: 5 })),
    })).v;
    fc.assert(
      fc.property(value, (v) => {
        const expected = JSON.stringify(v) ?? "null";
        expect(decodeTrace(encodeTrace(v))).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it("reads rows stored before the codec as they are", () => {
    const legacy = JSON.stringify(DM_TRACE);
    expect(decodeTrace(legacy)).toBe(legacy);
    const row = { seq: 1, decisions: legacy, route: null };
    expect(readableTrace(row)).toEqual(row);
    const route = {
      binding_id: null,
      matched_by: "default",
      phase: "planner",
      category_hint: "general",
      session_key: "4242",
      responder: "ack",
    };
    expect(readableTrace({ seq: 2, decisions: encodeTrace(DM_TRACE), route: encodeTrace(route) })).toEqual({
      seq: 2,
      decisions: legacy,
      route: JSON.stringify(route),
    });
  });
});
