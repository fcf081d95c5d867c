/** @module Tests for chunkText: literal splits for small limits, then properties over arbitrary Unicode. */
import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { PLATFORM_LIMITS, chunkText, effectiveLimit } from "../../src/outbound/render.ts";
import { graphemeCursor } from "../../src/outbound/graphemes.ts";

const SEED = 20_240_607;
const FAMILY = "👨‍👩‍👧‍👦"; // 7 code points, 11 UTF-16 units
const E_ACUTE = "e\u0301"; // e + COMBINING ACUTE ACCENT
const THUMB = "👍🏽"; // thumbs up + medium skin tone, 4 units

// Independent oracle: whole-string Intl.Segmenter, and a fence-line rule written from CommonMark.
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const graphemes = (s: string): string[] => Array.from(segmenter.segment(s), (x) => x.segment);
const isFenceLine = (line: string): boolean => /^ {0,3}`{3,}[^`]*$/.test(line.trimEnd());
const fenceCount = (s: string): number => s.split("\n").filter(isFenceLine).length;
/** Non-whitespace graphemes with fence lines removed (chunking may add, move or drop those). */
const solid = (s: string): string[] =>
  graphemes(
    s
      .split("\n")
      .map((l) => (isFenceLine(l) ? "" : l))
      .join("\n"),
  ).filter((g) => !/^\s+$/u.test(g));

describe("chunkText: examples", () => {
  it("returns [] for empty or whitespace-only text, whatever its length", () => {
    expect(chunkText("", 16)).toEqual([]);
    expect(chunkText(" \n\t\u00a0\u3000 ", 16)).toEqual([]);
    expect(chunkText(" ".repeat(100), 16)).toEqual([]);
  });

  it("returns text within the limit unchanged, surrounding whitespace included", () => {
    expect(chunkText("  hello world   ", 16)).toEqual(["  hello world   "]);
    expect(chunkText("abcdefghijklmnopq", 16)).toEqual(["abcdefghijklmnop", "q"]);
  });

  it("splits at a paragraph break before a later line or word break", () => {
    expect(chunkText("First paragraph here.\n\nSecond one is here.\nWith a second line.", 40)).toEqual([
      "First paragraph here.",
      "Second one is here.\nWith a second line.",
    ]);
    expect(chunkText("aa\n\nbb cc\ndd ee ff", 16)).toEqual(["aa", "bb cc\ndd ee ff"]);
    expect(chunkText("aaa bbb\n \nccc ddd", 12)).toEqual(["aaa bbb", "ccc ddd"]);
  });

  it("splits at the last line break, CRLF included", () => {
    expect(chunkText("line one\nline two\nline three", 20)).toEqual(["line one\nline two", "line three"]);
    expect(chunkText("line one\r\nline two\r\nline three", 20)).toEqual(["line one\r\nline two", "line three"]);
    expect(chunkText("short\nthis is a much longer line", 20)).toEqual(["short", "this is a much", "longer line"]);
  });

  it("splits at the last whitespace, then anywhere between graphemes", () => {
    expect(chunkText("alpha beta gamma delta epsilon", 16)).toEqual(["alpha beta gamma", "delta epsilon"]);
    expect(chunkText("abcdefghijklmnopqrstuvwxyz", 16)).toEqual(["abcdefghijklmnop", "qrstuvwxyz"]);
  });

  it("drops leading blank lines, trailing whitespace and the whitespace at each break", () => {
    expect(chunkText("\n\n\nalpha beta gamma delta\n\n\n", 16)).toEqual(["alpha beta gamma", "delta"]);
    expect(chunkText("   indented start\n\n   more indented text here", 16)).toEqual([
      "   indented",
      "start",
      "   more indented",
      "text here",
    ]);
  });

  it("never splits a ZWJ family, a flag, a skin tone or a combining mark", () => {
    expect(chunkText(FAMILY.repeat(5), 25)).toEqual([FAMILY + FAMILY, FAMILY + FAMILY, FAMILY]);
    expect(chunkText("🇺🇸🇫🇷🇯🇵🇩🇪🇬🇧", 18)).toEqual(["🇺🇸🇫🇷🇯🇵🇩🇪", "🇬🇧"]);
    expect(chunkText("🇺🇸🇫🇷🇯🇵🇩🇪🇬🇧", 17)).toEqual(["🇺🇸🇫🇷🇯🇵🇩🇪", "🇬🇧"]);
    expect(chunkText(THUMB.repeat(5), 18)).toEqual([THUMB.repeat(4), THUMB]);
    expect(chunkText(E_ACUTE.repeat(20), 17)).toEqual([E_ACUTE.repeat(8), E_ACUTE.repeat(8), E_ACUTE.repeat(4)]);
  });

  it("emits a grapheme longer than the limit alone instead of cutting it", () => {
    const huge = "e" + "\u0301".repeat(20); // one grapheme, 21 units
    expect(chunkText(`a ${huge} b`, 16)).toEqual(["a", huge, "b"]);
  });

  it("splits 4097 😀 for Telegram into 2048 + 2048 + 1 (4096 UTF-16 units is the binding bound)", () => {
    const chunks = chunkText("😀".repeat(4097), PLATFORM_LIMITS.telegram);
    expect(chunks).toEqual(["😀".repeat(2048), "😀".repeat(2048), "😀"]);
    expect(chunks.map((c) => c.length)).toEqual([4096, 4096, 2]);
  });

  it("closes a fence at a split and reopens it with its info string", () => {
    expect(chunkText("Intro.\n```ts\nconst a = 1;\nconst b = 2;\n```\nDone.", 30)).toEqual([
      "Intro.\n```ts\nconst a = 1;\n```",
      "```ts\nconst b = 2;\n```\nDone.",
    ]);
  });

  it("carries one fence across three chunks, each balanced and within the limit", () => {
    expect(chunkText("```py\nprint(1)\nprint(2)\nprint(3)\n```", 20)).toEqual([
      "```py\nprint(1)\n```",
      "```py\nprint(2)\n```",
      "```py\nprint(3)\n```",
    ]);
  });

  it("keeps the indentation of a continuation chunk's first code line", () => {
    expect(chunkText("```\nfoo();\n  bar();\n  baz();\n```", 20)).toEqual(["```\nfoo();\n```", "```\n  bar();\n```", "```\n  baz();\n```"]);
  });

  it("reuses the closer's backtick run and never ends a chunk on an empty block", () => {
    expect(chunkText("````md\nsome words here\n````", 22)).toEqual(["````md\nsome words\n````", "````md\nhere\n````"]);
    expect(chunkText("Some intro text\n```\ncode\n```", 23)).toEqual(["Some intro text", "```\ncode\n```"]);
  });

  it("does not reopen a block only to close it: the added closing line stands in for the original", () => {
    expect(chunkText("```\nabcdefgh\n   ```\nnext", 12)).toEqual(["```\nabcd\n```", "```\nefgh\n```", "next"]);
  });

  it("rejects a limit that is not a positive integer", () => {
    expect(() => chunkText("some text", 0)).toThrow(RangeError);
    expect(() => chunkText("some text", 2.5)).toThrow(RangeError);
  });

  it("chunks 1 MB of mixed prose, code, emoji and CJK well under a second", () => {
    const block = `Paragraph with words, ${FAMILY} and 日本語のテキスト.\n\n\`\`\`ts\nconst x = 1; // ${THUMB}\n\`\`\`\n\n`;
    const text = block.repeat(Math.ceil(1_000_000 / block.length));
    const started = performance.now();
    const chunks = chunkText(text, PLATFORM_LIMITS.discord);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(chunks.every((c) => c.length <= 2000)).toBe(true);
  });

  it("stays fast where every boundary needs Intl.Segmenter (Arabic number sign + space, flags)", () => {
    for (const text of ["\u0600 ".repeat(100_000), "🇺🇸".repeat(50_000)]) {
      const started = performance.now();
      const chunks = chunkText(text, PLATFORM_LIMITS.telegram);
      expect(performance.now() - started).toBeLessThan(1000);
      expect(chunks.length).toBe(49);
    }
  });
});

describe("effectiveLimit", () => {
  it("caps the platform limit by outbound.max_chars, never below 16", () => {
    expect(effectiveLimit("telegram", 5000)).toBe(4096);
    expect(effectiveLimit("telegram", 1000)).toBe(1000);
    expect(effectiveLimit("discord", 4096)).toBe(2000);
    expect(effectiveLimit("whatsapp", 4096.7)).toBe(4096);
    expect(effectiveLimit("email", 250_000)).toBe(100_000);
    expect(effectiveLimit("email", 3)).toBe(16);
  });
});

// Content without backticks, so the only fence lines are the ones we place on their own lines.
const word = fc
  .oneof(
    fc.string({ unit: "grapheme", maxLength: 12 }),
    fc.string({ unit: "binary", maxLength: 12 }),
    fc.string({ unit: "grapheme-ascii", maxLength: 12 }),
    fc.constantFrom(FAMILY, "🇺🇸🇫🇷", THUMB, E_ACUTE, "\u0600 ", " \u0301", "\r\n", "한국어", "ก้ำ", "क्षि"),
  )
  .map((s) => s.replaceAll("`", "'"));
const separator = fc.constantFrom(" ", "  ", "\n", "\n\n", "\t", "\n  ", "\n \n");
const fence = fc.constantFrom("\n```\n", "\n```ts\n", "\n````md\n", "\n```py\n");
const structured = fc
  .array(fc.oneof({ weight: 5, arbitrary: word }, { weight: 3, arbitrary: separator }, { weight: 1, arbitrary: fence }), {
    maxLength: 80,
    size: "max",
  })
  .map((parts) => parts.join(""));
// Backticks only ever come from `fence` above: a ``` that becomes a line start through a split (after a
// dropped space, say) reads as a fence in that chunk, which is documented rather than prevented.
const unstructured = fc
  .oneof(
    fc.string({ unit: "grapheme", maxLength: 400, size: "max" }),
    fc.string({ unit: "binary", maxLength: 400, size: "max" }),
    fc.string({ unit: fc.constantFrom("a", " ", "\n", "\u0301", "\u200d", "🇺", "👨", "\r", "\ud800"), maxLength: 400, size: "max" }),
  )
  .map((s) => s.replaceAll("`", "'"));
const limit = fc.integer({ min: 16, max: 200 });

/** Invariants for any input: the bound, no blank chunk, graphemes intact and in order, deterministic. */
function checkCommon(text: string, max: number): string[] {
  const chunks = chunkText(text, max);
  for (const c of chunks) {
    expect(c.length <= max || graphemes(c).length === 1, `chunk over the limit: ${JSON.stringify(c)}`).toBe(true);
    expect(/\S/u.test(c), "blank chunk").toBe(true);
  }
  expect(chunks.flatMap(solid)).toEqual(solid(text));
  expect(chunkText(text, max)).toEqual(chunks);
  if (text.length <= max) expect(chunks).toEqual(/\S/u.test(text) ? [text] : []);
  return chunks;
}

describe("chunkText: properties", () => {
  it("holds the invariants on arbitrary Unicode, lone surrogates included", () => {
    fc.assert(
      fc.property(unstructured, limit, (text, max) => void checkCommon(text, max)),
      { seed: SEED, numRuns: 400 },
    );
  });

  it("holds the invariants on text built from words, whitespace and fences", () => {
    fc.assert(
      fc.property(structured, limit, (text, max) => void checkCommon(text, max)),
      { seed: SEED, numRuns: 600 },
    );
  });

  it("keeps fences balanced: every chunk but the last has an even count of fence lines", () => {
    fc.assert(
      fc.property(structured, limit, (text, max) => {
        const chunks = chunkText(text, max);
        chunks.slice(0, -1).forEach((c) => expect(fenceCount(c) % 2, JSON.stringify(c)).toBe(0));
        // The last chunk is left open exactly when the original never closes its last fence, unless it is
        // a lone grapheme too big to sit between fence lines (sent unfenced, as documented).
        const last = chunks.at(-1);
        if (last !== undefined && graphemes(last).length > 1) expect(fenceCount(last) % 2).toBe(fenceCount(text) % 2);
      }),
      { seed: SEED, numRuns: 600 },
    );
  });
});

describe("graphemeCursor", () => {
  it("agrees with a whole-string Intl.Segmenter on every offset", () => {
    fc.assert(
      fc.property(unstructured, (text) => {
        const bounds = new Set<number>([text.length]);
        for (const s of segmenter.segment(text)) bounds.add(s.index);
        const cursor = graphemeCursor(text);
        for (let i = 0; i <= text.length; i++) expect(cursor.isBoundary(i, 0), `offset ${i}`).toBe(bounds.has(i));
        for (const s of segmenter.segment(text)) expect(cursor.next(s.index)).toBe(s.index + s.segment.length);
      }),
      { seed: SEED, numRuns: 150 },
    );
  });
});
