/**
 * @module Test helper: the fenced code blocks of README.md with their info strings. The README marks each block:
 * ```bash tour (run verbatim by test/readme-tour.test.ts), ```bash example (an illustration with placeholders, not
 * run), ```yaml example (a configuration excerpt), ```text (a diagram or a listing). `README_UNDER_TEST` points the
 * README tests at another file (a proposed README, before it replaces the real one).
 */
import fs from "node:fs";
import path from "node:path";

export interface ReadmeBlock {
  /** Everything after the opening backticks, e.g. `bash tour`. */
  info: string;
  /** 1-based line of the opening fence. */
  line: number;
  body: string;
}

/** The README the tests read. */
export function readmePath(): string {
  return path.resolve(process.env.README_UNDER_TEST ?? "README.md");
}

/** Every fenced block of `text` (``` fences, not nested). */
export function readmeBlocks(text: string): ReadmeBlock[] {
  const out: ReadmeBlock[] = [];
  const lines = text.split("\n");
  let open: { info: string; line: number; body: string[] } | null = null;
  for (const [i, l] of lines.entries()) {
    if (!l.startsWith("```")) {
      open?.body.push(l);
      continue;
    }
    if (open) {
      out.push({ info: open.info, line: open.line, body: open.body.join("\n") });
      open = null;
    } else open = { info: l.slice(3).trim(), line: i + 1, body: [] };
  }
  if (open) throw new Error(`README: the block opened at line ${open.line} is never closed`);
  return out;
}

/** The info strings a README block may carry, and what each means. */
export const README_BLOCK_KINDS: Record<string, string> = {
  "bash tour": "run verbatim by test/readme-tour.test.ts",
  "bash example": "an illustration with placeholders, not run",
  "yaml example": "a configuration excerpt",
  text: "a diagram or listing",
};
