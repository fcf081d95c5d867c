/** @module Split reply text into platform-sized chunks at paragraph, line, word, then grapheme boundaries. */
import { type FenceLine, fenceIndexFrom, findFenceLines, openFenceAt } from "./fences.ts";
import { graphemeCursor } from "./graphemes.ts";

/**
 * Text limits per transport, counted in code points (PRODUCT.md §7).
 * @see https://core.telegram.org/bots/api#sendmessage
 * @see https://discord.com/developers/docs/resources/message#create-message
 */
export const PLATFORM_LIMITS = { telegram: 4096, discord: 2000, whatsapp: 4096, email: 100_000 } as const;

/** The platform limit capped by `outbound.max_chars`, never below 16 so a fenced chunk still has room. */
export function effectiveLimit(transport: keyof typeof PLATFORM_LIMITS, maxChars: number): number {
  return Math.max(16, Math.min(PLATFORM_LIMITS[transport], Math.floor(maxChars)));
}

const WS_ONLY = /^\s+$/u;
const HAS_NEWLINE = /[\n\r]/;

/** The UTF-16 units JavaScript's `\s` matches (all are single units). */
function isWs(c: number): boolean {
  return (
    c === 32 ||
    (c >= 9 && c <= 13) ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/**
 * Split `text` into chunks whose UTF-16 length is ≤ `limit`, which also bounds the code points that Telegram
 * and Discord count (PROVIDERS.md §4). Text that fits is returned as-is; blank text gives `[]`.
 *
 * - Breaks at the last blank line in reach, else the last line break, else the last whitespace, else the
 *   last grapheme boundary (`Intl.Segmenter`). The whitespace at a break is dropped, except the indentation
 *   of a chunk's first line (if at most a quarter of the limit); leading blank lines and trailing
 *   whitespace of the whole text go too. Non-whitespace is kept, in order (fence lines aside, below).
 * - A break inside a ``` block ends the chunk with a closing fence and starts the next with the opening
 *   line (info string included); both count toward the limit. Chunks never end on an empty block, and an
 *   original closing line that would follow a reopen at once is dropped (the added one stood in for it).
 * - Pathological input: a grapheme that cannot fit beside the fence lines is sent alone and unfenced, one
 *   longer than `limit` is sent whole rather than cut, and a fence line longer than a chunk is cut as text.
 *   A mid-line ``` that a split leaves at the start of a chunk is not escaped.
 */
export function chunkText(text: string, limit: number): string[] {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`chunkText: limit must be a positive integer, got ${limit}`);
  if (!/\S/u.test(text)) return [];
  if (text.length <= limit) return [text];

  const n = text.length;
  const g = graphemeCursor(text);
  const fences = findFenceLines(text);
  // A fence whose opening and closing lines leave no room at all is passed through unbalanced.
  const openAt = (pos: number): FenceLine | undefined => {
    const f = openFenceAt(fences, pos);
    return f && f.prefix.length + f.suffix.length < limit ? f : undefined;
  };
  /** LF, or a CR not followed by LF: CRLF counts once. */
  const breaksLine = (i: number): boolean => {
    const c = text.charCodeAt(i);
    return c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10);
  };
  /** Would a chunk ending at `e` cut through a fence line, or end right after an opening one? */
  const splitsFence = (e: number): FenceLine | undefined => {
    const k = fenceIndexFrom(fences, e);
    const f = fences[k];
    return f && f.start < e && (e < f.end || k % 2 === 0) ? f : undefined;
  };
  const trimEnd = (e: number, lo: number): number => {
    // A grapheme whose last unit is not whitespace is not blank: most calls stop here without segmenting.
    while (e > lo && isWs(text.charCodeAt(e - 1))) {
      const p = g.floor(e - 1, lo);
      if (!WS_ONLY.test(text.slice(p, e))) break;
      e = p;
    }
    return e;
  };
  /** Skip whitespace graphemes from boundary `p`: `first` is the first other one, `start` keeps indentation. */
  const contentStart = (p: number): { start: number; first: number } => {
    let q = p;
    let lineStart = p === 0 ? 0 : -1;
    while (q < n && isWs(text.charCodeAt(q))) {
      const e = g.next(q);
      const s = text.slice(q, e);
      if (!WS_ONLY.test(s)) break;
      q = e;
      if (HAS_NEWLINE.test(s)) lineStart = q;
    }
    return { start: lineStart >= 0 && q - lineStart <= limit / 4 ? lineStart : q, first: q };
  };

  /** The best chunk end in (first, maxE], or -1 when not even one grapheme fits. */
  const pickCut = (start: number, first: number, maxE: number): number => {
    if (maxE <= first) return -1;
    // One backward pass over whitespace runs, keeping the last usable run start per level:
    // 0 = blank line (≥ 2 newlines), 1 = line break, 2 = other whitespace.
    const best = [-1, -1, -1];
    let nl = 0;
    let inRun = false;
    for (let j = maxE; j < n && isWs(text.charCodeAt(j)) && nl < 2; j++) {
      inRun = true; // a run straddling maxE counts its newlines beyond it too
      if (breaksLine(j)) nl++;
    }
    for (let k = maxE - 1; k >= first && best[0]! < 0; k--) {
      if (isWs(text.charCodeAt(k))) {
        if (breaksLine(k)) nl++;
        inRun = true;
        continue;
      }
      if (inRun) {
        const level = nl >= 2 ? 0 : nl === 1 ? 1 : 2;
        if (best[level]! < 0 && !splitsFence(k + 1) && g.isBoundary(k + 1, start)) best[level] = k + 1;
      }
      inRun = false;
      nl = 0;
    }
    const byLevel = best.find((b) => b >= 0);
    if (byLevel !== undefined) return byLevel;
    const e = trimEnd(g.floor(maxE, start), first);
    if (e <= first) return -1;
    const f = splitsFence(e);
    // End before that fence line instead; if the chunk starts with it, the line itself is too long to keep.
    if (f && f.start > first) return pickCut(start, first, f.start);
    return e;
  };

  const chunks: string[] = [];
  const stop = trimEnd(n, 0);
  let p = 0;
  while (p < stop) {
    const { start, first } = contentStart(p);
    if (first >= stop) break;
    const open = openAt(start);
    const k = fenceIndexFrom(fences, first + 1);
    if (open && chunks.length > 0 && fences[k] && fences[k].start <= first) {
      p = fences[k].end; // the previous chunk already closed this block
      continue;
    }
    const prefix = open?.prefix ?? "";
    const room = limit - prefix.length;
    if (stop - start <= room) {
      chunks.push(prefix + text.slice(start, stop));
      break;
    }
    // Reserve room for a closing fence only if the chosen end needs one; a shorter window may not.
    let cut = -1;
    for (let reserve = 0; ;) {
      cut = pickCut(start, first, start + room - reserve);
      const need = cut < 0 ? 0 : (openAt(cut)?.suffix.length ?? 0);
      if (need <= reserve) break;
      reserve = need;
    }
    if (cut < 0) {
      cut = g.next(first);
      const body = text.slice(first, cut);
      const suffix = openAt(cut)?.suffix ?? "";
      chunks.push(prefix.length + body.length + suffix.length <= limit ? prefix + body + suffix : body);
    } else {
      chunks.push(prefix + text.slice(start, cut) + (openAt(cut)?.suffix ?? ""));
    }
    p = cut;
  }
  return chunks;
}
