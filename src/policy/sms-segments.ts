/**
 * @module SMS segments: GSM-7 (160 septets single, 153 per part; extension characters take 2) or UCS-2 (70 UTF-16
 * units single, 67 per part; a surrogate pair takes 2), with the STOP footer counted as part of the body. Pure.
 * @see https://www.twilio.com/docs/glossary/what-sms-character-limit
 */
import type { Decision } from "../contracts/decision.ts";

type SmsEncoding = "GSM-7" | "UCS-2";

/** GSM 03.38 basic character set: one septet each (ESC, 0x1B, is left out: it only prefixes the extension table). */
const GSM_BASIC = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
);
/** GSM 03.38 extension table: ESC + character, two septets each. */
const GSM_EXTENSION = new Set("^{}\\[~]|€\f");

const GSM_SINGLE = 160;
const GSM_MULTI = 153;
const UCS2_SINGLE = 70;
const UCS2_MULTI = 67;

export interface SmsSegmentCount {
  encoding: SmsEncoding;
  /** Septets (GSM-7) or UTF-16 code units (UCS-2). */
  units: number;
  segments: number;
  /** Capacity of one segment at this length: 160/70 when it fits in one, else 153/67. */
  unitsPerSegment: number;
}

/** True when every character is in the GSM-7 basic or extension table. */
export function isGsm7(text: string): boolean {
  for (const ch of text) if (!GSM_BASIC.has(ch) && !GSM_EXTENSION.has(ch)) return false;
  return true;
}

/** Cost of each character in its encoding: septets for GSM-7, UTF-16 units for UCS-2. */
function costs(text: string, encoding: SmsEncoding): number[] {
  const out: number[] = [];
  for (const ch of text) out.push(encoding === "GSM-7" ? (GSM_EXTENSION.has(ch) ? 2 : 1) : ch.length);
  return out;
}

/**
 * Segments for `text`. A multi-part message is filled greedily and never splits an escape sequence or a
 * surrogate pair across parts (handsets would show garbage), so it can need one more part than units / 153.
 * An empty text is one (empty) segment.
 */
export function countSmsSegments(text: string): SmsSegmentCount {
  const encoding: SmsEncoding = isGsm7(text) ? "GSM-7" : "UCS-2";
  const c = costs(text, encoding);
  const units = c.reduce((a, b) => a + b, 0);
  const single = encoding === "GSM-7" ? GSM_SINGLE : UCS2_SINGLE;
  const multi = encoding === "GSM-7" ? GSM_MULTI : UCS2_MULTI;
  if (units <= single) return { encoding, units, segments: 1, unitsPerSegment: single };
  let segments = 1;
  let used = 0;
  for (const n of c) {
    if (used + n > multi) {
      segments += 1;
      used = 0;
    }
    used += n;
  }
  return { encoding, units, segments, unitsPerSegment: multi };
}

/** The body with the STOP footer on its own line (unchanged when the footer is empty or already ends the body). */
export function appendStopFooter(body: string, footer: string): string {
  if (footer === "" || body.endsWith(footer)) return body;
  return body === "" ? footer : `${body}\n${footer}`;
}

/**
 * Stage `sms_length`: the final text (footer included) must fit in `maxSegments`. Reasons `sms_segments_ok`,
 * `sms_too_many_segments`.
 */
export function decideSmsLength(input: { body: string; footer: string; maxSegments: number }): {
  decision: Decision;
  text: string;
  count: SmsSegmentCount;
} {
  const text = appendStopFooter(input.body, input.footer);
  const count = countSmsSegments(text);
  const ok = count.segments <= input.maxSegments;
  return {
    text,
    count,
    decision: {
      stage: "sms_length",
      outcome: ok ? "allow" : "deny",
      reason: ok ? "sms_segments_ok" : "sms_too_many_segments",
      detail: { encoding: count.encoding, units: count.units, segments: count.segments, max_segments: input.maxSegments },
    },
  };
}
