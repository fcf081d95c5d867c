/**
 * @module Split reply text into chunks a platform accepts: paragraph, then line, then word boundaries, never
 * inside a grapheme cluster (`Intl.Segmenter`), code fences closed at the end of a chunk and reopened (with
 * their info string) at the start of the next. Limits are in code points (PROVIDERS.md §4); we bound the UTF-16
 * length, which is never smaller, so every chunk is safe on every platform.
 */

/** Platform text limits in code points (PRODUCT.md §7). */
export const PLATFORM_LIMITS = { telegram: 4096, discord: 2000, whatsapp: 4096, email: 100_000 } as const;

/** The platform limit capped by `outbound.max_chars` (never below 16, so fences always fit). */
export function effectiveLimit(transport: keyof typeof PLATFORM_LIMITS, maxChars: number): number {
  return Math.max(16, Math.min(PLATFORM_LIMITS[transport], maxChars));
}

const FENCE = "```";
const CLOSE = "\n```";
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

interface FenceLine {
  start: number;
  end: number; // offset after the line's newline (or text end)
  info: string;
}

function fenceLines(text: string): FenceLine[] {
  const out: FenceLine[] = [];
  let lineStart = 0;
  while (lineStart < text.length) {
    let nl = text.indexOf("\n", lineStart);
    if (nl === -1) nl = text.length;
    const line = text.slice(lineStart, nl);
    const t = line.trimStart();
    if (t.startsWith(FENCE)) out.push({ start: lineStart, end: Math.min(nl + 1, text.length), info: t.slice(3).trim() });
    lineStart = nl + 1;
  }
  return out;
}

/**
 * Grapheme boundaries near `pos`, computed on a window that starts at `pos` (always a boundary). Segmenting
 * the whole text is quadratic in Node 20's `Intl.Segmenter`; a window of one chunk keeps each call cheap.
 */
function windowAt(text: string, pos: number, size: number) {
  const end = Math.min(text.length, pos + size + 64);
  const segments = segmenter.segment(text.slice(pos, end));
  return {
    /** Largest boundary ≤ x (x within the window). */
    floor(x: number): number {
      if (x >= end) return end === text.length ? end : pos + segments.containing(end - pos - 1)!.index;
      if (x <= pos) return pos;
      return pos + segments.containing(x - pos)!.index;
    },
    /** The boundary after the grapheme at `pos`. */
    next(): number {
      const g = segments.containing(0);
      return g ? pos + g.segment.length : end;
    },
  };
}

/** Split `text` into chunks of at most `limit` UTF-16 units (hence code points). Empty input gives []. */
export function chunkText(text: string, limit: number): string[] {
  if (text.trim() === "") return [];
  if (text.length <= limit) return [text];
  const fences = fenceLines(text);
  const reserve = fences.length > 0 ? CLOSE.length : 0;
  /** The open fence (its info) after consuming `[0, offset)`, counting only complete fence lines. */
  const openAt = (offset: number): string | null => {
    let open: string | null = null;
    for (const f of fences) {
      if (f.end > offset) break;
      open = open === null ? f.info : null;
    }
    return open;
  };
  const isBlank = (a: number, b: number) => text.slice(a, b).trim() === "";
  const chunks: string[] = [];
  let pos = 0;
  while (pos < text.length) {
    // Skip whitespace-only graphemes between chunks (keep indentation inside fences: skip newlines only).
    const inFence = openAt(pos) !== null;
    while (pos < text.length) {
      const next = windowAt(text, pos, 64).next();
      const g = text.slice(pos, next);
      if (inFence ? g === "\n" || g === "\r\n" : g.trim() === "") pos = next;
      else break;
    }
    if (pos >= text.length) break;
    const info = openAt(pos);
    const prefix = info === null ? "" : `${FENCE}${info}\n`;
    const budget = Math.max(1, limit - prefix.length - reserve);
    const w = windowAt(text, pos, budget);
    let split: number;
    if (text.length - pos + prefix.length <= limit && (openAt(text.length) === null || text.length - pos + prefix.length + reserve <= limit)) {
      split = text.length;
    } else {
      const hard = pos + budget;
      const window = text.slice(pos, hard);
      const candidates = [window.lastIndexOf("\n\n"), window.lastIndexOf("\n"), Math.max(window.lastIndexOf(" "), window.lastIndexOf("\t"))];
      split = -1;
      for (const c of candidates) {
        if (c > 0 && !isBlank(pos, pos + c)) {
          split = w.floor(pos + c + 1);
          break;
        }
      }
      if (split <= pos) split = w.floor(hard);
      if (split <= pos) split = w.next(); // one grapheme larger than the budget: emit it whole
      // Never cut through a fence line: end the chunk before it instead.
      const cut = fences.find((f) => f.start < split && split < f.end && f.start > pos);
      if (cut) split = cut.start;
    }
    let body = text.slice(pos, split).replace(/\s+$/u, "");
    if (openAt(split) !== null && split < text.length) body += CLOSE;
    const chunk = prefix + body;
    if (chunk.trim() !== "" && chunk.replace(/```[^\n]*\n?/g, "").trim() !== "") chunks.push(chunk);
    pos = split;
  }
  return chunks;
}
