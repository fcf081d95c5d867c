/** @module Tests for SMS segment counting: GSM-7 vs UCS-2, extension characters, surrogate pairs, the STOP footer. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { appendStopFooter, countSmsSegments, decideSmsLength, isGsm7 } from "../../src/policy/sms-segments.ts";

const FOOTER = "Reply STOP to opt out.";
const GSM_BASIC_CHARS =
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

describe("countSmsSegments", () => {
  it("GSM-7: 160 septets fit one segment, then 153 per part", () => {
    expect(countSmsSegments("a".repeat(160))).toEqual({ encoding: "GSM-7", units: 160, segments: 1, unitsPerSegment: 160 });
    expect(countSmsSegments("a".repeat(161))).toEqual({ encoding: "GSM-7", units: 161, segments: 2, unitsPerSegment: 153 });
    expect(countSmsSegments("a".repeat(306)).segments).toBe(2);
    expect(countSmsSegments("a".repeat(307)).segments).toBe(3);
  });

  it("extension characters take two septets", () => {
    expect(countSmsSegments("€".repeat(80))).toEqual({ encoding: "GSM-7", units: 160, segments: 1, unitsPerSegment: 160 });
    expect(countSmsSegments("€".repeat(81))).toEqual({ encoding: "GSM-7", units: 162, segments: 2, unitsPerSegment: 153 });
    expect(countSmsSegments("{[~]}|^\\").units).toBe(16);
  });

  it("never splits an escape sequence across parts", () => {
    // 306 septets would be 2 × 153, but the € straddles the boundary and moves to part 2.
    expect(countSmsSegments("a".repeat(152) + "€" + "a".repeat(152))).toEqual({
      encoding: "GSM-7",
      units: 306,
      segments: 3,
      unitsPerSegment: 153,
    });
  });

  it("UCS-2: one non-GSM character switches the whole message, 70 then 67 per part", () => {
    expect(countSmsSegments("ж".repeat(70))).toEqual({ encoding: "UCS-2", units: 70, segments: 1, unitsPerSegment: 70 });
    expect(countSmsSegments("ж".repeat(71))).toEqual({ encoding: "UCS-2", units: 71, segments: 2, unitsPerSegment: 67 });
    expect(countSmsSegments("ж".repeat(135)).segments).toBe(3);
    expect(countSmsSegments("a".repeat(100) + "ж")).toEqual({ encoding: "UCS-2", units: 101, segments: 2, unitsPerSegment: 67 });
  });

  it("surrogate pairs take two units and are never split", () => {
    expect(countSmsSegments("😀".repeat(35))).toEqual({ encoding: "UCS-2", units: 70, segments: 1, unitsPerSegment: 70 });
    expect(countSmsSegments("😀".repeat(36))).toEqual({ encoding: "UCS-2", units: 72, segments: 2, unitsPerSegment: 67 });
    // 134 units would be 2 × 67, but only 33 pairs (66 units) fit in a part.
    expect(countSmsSegments("😀".repeat(67))).toEqual({ encoding: "UCS-2", units: 134, segments: 3, unitsPerSegment: 67 });
  });

  it("classifies GSM-7", () => {
    expect(isGsm7("Hello @ 5€ {ok}")).toBe(true);
    expect(isGsm7("naïve")).toBe(false);
    expect(isGsm7("`")).toBe(false);
  });
});

describe("the STOP footer counts", () => {
  it("a 150-character GSM message is 1 segment alone and 2 with the footer", () => {
    const body = "x".repeat(150);
    expect(countSmsSegments(body).segments).toBe(1);
    const r = decideSmsLength({ body, footer: FOOTER, maxSegments: 4 });
    expect(r.text).toBe(`${body}\n${FOOTER}`);
    expect(r.count).toEqual({ encoding: "GSM-7", units: 173, segments: 2, unitsPerSegment: 153 });
    expect(r.decision).toEqual({
      stage: "sms_length",
      outcome: "allow",
      reason: "sms_segments_ok",
      detail: { encoding: "GSM-7", units: 173, segments: 2, max_segments: 4 },
    });
  });

  it("refuses a body over the segment budget", () => {
    expect(decideSmsLength({ body: "x".repeat(400), footer: FOOTER, maxSegments: 2 }).decision.reason).toBe("sms_too_many_segments");
  });

  it("is not appended twice, and an empty footer leaves the body alone", () => {
    expect(appendStopFooter(`hi\n${FOOTER}`, FOOTER)).toBe(`hi\n${FOOTER}`);
    expect(appendStopFooter("hi", "")).toBe("hi");
  });
});

describe("properties", () => {
  const gsmBasic = fc.array(fc.constantFrom(...GSM_BASIC_CHARS), { maxLength: 700 }).map((a) => a.join(""));
  const bmpNonGsm = fc.array(fc.constantFrom("ж", "中", "ı", "ş", "ā", "`", "ő"), { minLength: 1, maxLength: 400 }).map((a) => a.join(""));

  it("basic GSM text: 1 segment up to 160 septets, else ceil(n / 153)", () => {
    fc.assert(
      fc.property(gsmBasic, (s) => {
        const n = [...s].length;
        const c = countSmsSegments(s);
        expect(c.encoding).toBe("GSM-7");
        expect(c.units).toBe(n);
        expect(c.segments).toBe(n <= 160 ? 1 : Math.ceil(n / 153));
      }),
    );
  });

  it("BMP non-GSM text: 1 segment up to 70 units, else ceil(n / 67)", () => {
    fc.assert(
      fc.property(bmpNonGsm, (s) => {
        const c = countSmsSegments(s);
        expect(c.encoding).toBe("UCS-2");
        expect(c.units).toBe(s.length);
        expect(c.segments).toBe(s.length <= 70 ? 1 : Math.ceil(s.length / 67));
      }),
    );
  });

  it("any text: parts hold every unit, at most one unit short per part; UCS-2 units are UTF-16 length", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 300 }), (s) => {
        const c = countSmsSegments(s);
        expect(c.segments * c.unitsPerSegment).toBeGreaterThanOrEqual(c.units);
        expect(c.segments * (c.unitsPerSegment - 1)).toBeLessThan(c.units + c.unitsPerSegment);
        if (c.encoding === "UCS-2") expect(c.units).toBe(s.length);
      }),
    );
  });

  it("appending the footer never lowers the segment count", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => {
        expect(countSmsSegments(appendStopFooter(s, FOOTER)).segments).toBeGreaterThanOrEqual(countSmsSegments(s).segments);
      }),
    );
  });
});
