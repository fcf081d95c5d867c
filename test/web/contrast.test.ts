/** The control page's one stylesheet: every text colour meets WCAG AA (4.5:1) on the background, light and dark. */
import { describe, expect, it } from "vitest";
import { STYLE_CSS } from "../../src/app/web/assets.ts";

/** The `--name:#hex` custom properties of one `:root{…}` block. */
function palette(block: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of block.matchAll(/--([a-z]+):(#[0-9a-f]{3,6})/gi)) out[m[1]!] = m[2]!;
  return out;
}

function luminance(hex: string): number {
  const h = hex.length === 4 ? hex.replace(/#(.)(.)(.)/, "#$1$1$2$2$3$3") : hex;
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(h.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

const contrast = (a: string, b: string) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
};

describe("control page colours", () => {
  const light = palette(STYLE_CSS.slice(0, STYLE_CSS.indexOf("@media (prefers-color-scheme:dark)")));
  const dark = palette(STYLE_CSS.slice(STYLE_CSS.indexOf("@media (prefers-color-scheme:dark)")));

  it.each([
    ["light", light],
    ["dark", dark],
  ])("%s: text, muted, link and state colours are at least 4.5:1 on the background", (_name, p) => {
    expect(p.bg, "background colour").toBeDefined();
    for (const key of ["fg", "mut", "acc", "ok", "warn", "bad"]) {
      expect(p[key], key).toBeDefined();
      expect(contrast(p[key]!, p.bg!), `--${key} ${p[key]} on ${p.bg}`).toBeGreaterThanOrEqual(4.5);
    }
  });
});
