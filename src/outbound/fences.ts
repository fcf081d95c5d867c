/** @module Code fence lines in reply text, so the chunker can close a fence at a split and reopen it after. */

/** One ``` line. Fences toggle: lines 0, 2, 4… open a block and lines 1, 3, 5… close it. */
export interface FenceLine {
  /** Offset of the line start (indentation included). */
  start: number;
  /** Offset just after the line's last non-whitespace character. */
  end: number;
  /** What reopens this fence at the top of a continuation chunk, e.g. "```ts\n". */
  prefix: string;
  /** What closes this fence at the bottom of a chunk, e.g. "\n```" (same backtick run as the opener). */
  suffix: string;
}

const FENCE = /^(`{3,})[^`]*$/;

/**
 * Find fence lines: up to three spaces, three or more backticks, then an info string without backticks
 * (CommonMark's opener shape; "```inline```" is inline code). Unlike CommonMark, any such line toggles,
 * so a line's role never depends on what it would close. `~~~` fences are not recognised.
 */
export function findFenceLines(text: string): FenceLine[] {
  const lines: FenceLine[] = [];
  for (let s = 0; s < text.length;) {
    let nl = text.indexOf("\n", s);
    if (nl < 0) nl = text.length;
    let i = s;
    while (i < s + 3 && text.charCodeAt(i) === 32) i++;
    if (text.startsWith("```", i)) {
      const line = text.slice(i, nl).trimEnd();
      const run = line.match(FENCE)?.[1];
      if (run !== undefined) lines.push({ start: s, end: i + line.length, prefix: `${line}\n`, suffix: `\n${run}` });
    }
    s = nl + 1;
  }
  return lines;
}

/** Index of the first line with `end >= pos` (lines.length when none). */
export function fenceIndexFrom(lines: readonly FenceLine[], pos: number): number {
  let lo = 0;
  let hi = lines.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (lines[mid]!.end < pos) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The fence open at `pos`: the last complete fence line before it, if that line is an opener. */
export function openFenceAt(lines: readonly FenceLine[], pos: number): FenceLine | undefined {
  const k = fenceIndexFrom(lines, pos + 1) - 1;
  return k >= 0 && k % 2 === 0 ? lines[k] : undefined;
}
