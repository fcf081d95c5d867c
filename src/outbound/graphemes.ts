/** @module Grapheme boundaries on demand: a local rule for common text, exact `Intl.Segmenter` runs elsewhere. */

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
// V8's segmenter slows down per character as the string grows (a 64 KB string takes seconds), so we only
// ever segment short slices that start at a known boundary; 128 units measured fastest per character.
const BLOCK = 128;
const EXT_PICT = /\p{Extended_Pictographic}/u;
// Everything that can join onto the character before it (UAX #29 Extend, ZWJ, SpacingMark, and more).
const MAY_JOIN = /[\p{M}\p{Cf}\p{Sk}\p{Regional_Indicator}\uFF9E\uFF9F\u0E33\u0EB3]/u;

/**
 * Code points no UAX #29 rule joins to what follows: not CR, Prepend, ZWJ, a regional indicator, Hangul or an
 * Indic linker. Covers ASCII, Latin, common CJK and kana, and emoji (checked per code point against Node 20's ICU).
 */
function isInert(cp: number): boolean {
  if (cp < 0x300) return cp !== 13;
  return (
    (cp >= 0x3000 && cp <= 0x3003) ||
    (cp >= 0x3041 && cp <= 0x3096) ||
    (cp >= 0x30a1 && cp <= 0x30fa) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x2000 && EXT_PICT.test(String.fromCodePoint(cp)))
  );
}

const isHigh = (u: number): boolean => u >= 0xd800 && u <= 0xdbff;
const isLow = (u: number): boolean => u >= 0xdc00 && u <= 0xdfff;
const isControl = (cp: number): boolean => cp < 0x20 || (cp >= 0x7f && cp < 0xa0);

/** Is `i` a boundary, decided from the two code points around it alone? `undefined` when context matters. */
function quickBoundary(text: string, i: number): boolean | undefined {
  if (i <= 0 || i >= text.length) return true;
  const prev = text.charCodeAt(i - 1);
  const y = text.codePointAt(i)!;
  if (isLow(y) && isHigh(prev)) return false; // inside a surrogate pair
  let x = prev;
  if (isLow(prev) && i >= 2 && isHigh(text.charCodeAt(i - 2))) x = text.codePointAt(i - 2)!;
  if (x === 13) return y !== 10; // GB3/GB4: CR × LF, otherwise break after CR
  if (isControl(x) || isControl(y)) return true; // GB4/GB5
  if (isInert(x) && (isInert(y) || !MAY_JOIN.test(String.fromCodePoint(y)))) return true;
  return undefined;
}

/** Grapheme boundary queries over one string; `lo` is any position already known to be a boundary. */
export interface GraphemeCursor {
  /** The largest boundary ≤ `i` and ≥ `lo`. */
  floor(i: number, lo: number): number;
  /** Whether `i` is a boundary (searching back no further than `lo`). */
  isBoundary(i: number, lo: number): boolean;
  /** The end of the grapheme that starts at boundary `i`. */
  next(i: number): number;
}

/** Boundary queries for `text`, exact per `Intl.Segmenter` and linear in the distance they inspect. */
export function graphemeCursor(text: string): GraphemeCursor {
  const n = text.length;
  /** Segment end for a slice starting at `from`, never between the halves of a surrogate pair. */
  const sliceEnd = (from: number, size: number): number => {
    const end = Math.min(n, from + size);
    return end < n && isHigh(text.charCodeAt(end - 1)) && isLow(text.charCodeAt(end)) ? end + 1 : end;
  };
  /** All boundaries in (from, to], given that `from` is one. Segment starts inside a slice are exact. */
  const exact = (from: number, to: number): number[] => {
    const out: number[] = [];
    let cur = from;
    let size = BLOCK;
    for (;;) {
      const end = sliceEnd(cur, size);
      let last = cur;
      for (const s of segmenter.segment(text.slice(cur, end))) {
        const b = cur + s.index;
        if (b === cur) continue;
        if (b > to) return out;
        out.push(b);
        last = b;
      }
      if (to < end) return out; // the code point at `to` was in the slice, so `to` is decided
      if (end === n) return [...out, n];
      // Restart at the last exact boundary; a grapheme longer than the slice needs a bigger slice.
      size = last === cur ? size * 2 : BLOCK;
      cur = last;
    }
  };
  // The last exact run, [from, to] and every boundary in it: callers probe many offsets of one window, and
  // without this, text with no quick boundaries (e.g. Arabic number signs) would be re-segmented per probe.
  let known = { from: 0, to: -1, bounds: [] as number[] };
  const floor = (i: number, lo: number): number => {
    if (i <= lo) return lo;
    if (quickBoundary(text, i) === true) return i;
    if (i < known.from || i > known.to) {
      let r = i - 1;
      while (r > lo && quickBoundary(text, r) !== true) r--;
      known = { from: r, to: i, bounds: [r, ...exact(r, i)] };
    }
    let a = 0; // binary search: the last known boundary ≤ i
    for (let b = known.bounds.length - 1; a < b;) {
      const mid = (a + b + 1) >> 1;
      if (known.bounds[mid]! <= i) a = mid;
      else b = mid - 1;
    }
    return Math.max(lo, known.bounds[a]!);
  };
  const next = (i: number): number => {
    const j = i + (isHigh(text.charCodeAt(i)) && isLow(text.charCodeAt(i + 1)) ? 2 : 1);
    if (j >= n) return n;
    if (quickBoundary(text, j) === true) return j;
    for (let size = 64; ; size *= 2) {
      const end = sliceEnd(i, size);
      const first = segmenter.segment(text.slice(i, end)).containing(0)!;
      if (first.segment.length < end - i || end === n) return i + first.segment.length;
    }
  };
  return { floor, next, isBoundary: (i, lo) => floor(i, lo) === i };
}
