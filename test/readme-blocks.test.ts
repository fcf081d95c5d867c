/**
 * Every README code block is run by a test or marked as an example (issue 13 §3): exactly one ```bash tour block (run
 * by test/readme-tour.test.ts), every other shell block marked ```bash example, every other block `yaml example` or
 * `text`. A new unmarked block fails here, so nothing in the README looks runnable without being run.
 */
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { README_BLOCK_KINDS, readmeBlocks, readmePath } from "./helpers/readme-blocks.ts";

describe("README code blocks", () => {
  const blocks = readmeBlocks(fs.readFileSync(readmePath(), "utf8"));

  it("each block carries a known marker: tour, example or text", () => {
    const unmarked = blocks.filter((b) => !(b.info in README_BLOCK_KINDS)).map((b) => `line ${b.line}: \`\`\`${b.info}`);
    expect(unmarked, `mark each as one of: ${Object.keys(README_BLOCK_KINDS).join(", ")}`).toEqual([]);
  });

  it("there is exactly one tour block, and it is the one test/readme-tour.test.ts runs", () => {
    const tours = blocks.filter((b) => b.info === "bash tour");
    expect(tours).toHaveLength(1);
    expect(fs.readFileSync("test/readme-tour.test.ts", "utf8")).toContain('b.info === "bash tour"');
  });

  it("example shell blocks are the ones with placeholders or side effects outside a temp folder", () => {
    // An example with nothing to fill in and nothing outside a temp folder should have been made part of a test.
    const examples = blocks.filter((b) => b.info === "bash example");
    for (const b of examples) {
      expect(b.body, `line ${b.line}`).toMatch(/…|pv_|export |npm ci|bash \.ci\/run|curl /);
    }
  });
});
