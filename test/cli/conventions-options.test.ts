import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "commander";
import { limitOption, oneOf, outputFormat } from "../../src/cli/options.ts";
import { parseWhenText, resolveWhen, whenOption } from "../../src/cli/time-range.ts";
import { TauError } from "../../src/contracts/errors.ts";

const NOW = Date.parse("2026-03-10T15:30:00Z");

describe("shared option parsers (src/cli/options.ts, src/cli/time-range.ts)", () => {
  it("--limit takes positive integers only", () => {
    expect(limitOption("5")).toBe(5);
    expect(limitOption(" 100000 ")).toBe(100000);
    for (const bad of ["abc", "-1", "0", "1.5", "1e3", "", "100001"]) expect(() => limitOption(bad), bad).toThrow(InvalidArgumentError);
  });

  it("time flags: durations, ISO, now, today and yesterday (midnight UTC), resolved against the given clock", () => {
    const at = (s: string) => resolveWhen(whenOption(s), NOW);
    expect(at("yesterday")).toBe(Date.parse("2026-03-09T00:00:00Z"));
    expect(at("today")).toBe(Date.parse("2026-03-10T00:00:00Z"));
    expect(at("now")).toBe(NOW);
    expect(at("2h")).toBe(Date.parse("2026-03-10T13:30:00Z"));
    expect(at("30m")).toBe(Date.parse("2026-03-10T15:00:00Z"));
    expect(at("7d")).toBe(Date.parse("2026-03-03T15:30:00Z"));
    expect(at("2026-01-02T03:04:05Z")).toBe(Date.parse("2026-01-02T03:04:05Z"));
    expect(at("2026-01-02")).toBe(Date.parse("2026-01-02T00:00:00Z"));
    for (const bad of ["tuesday", "1", "2h ago", "last week", ""]) {
      expect(parseWhenText(bad), bad).toBeNull();
      expect(() => whenOption(bad), bad).toThrow(InvalidArgumentError);
    }
  });

  it("enum flags and output formats", () => {
    expect(oneOf(["a", "b"] as const)("b")).toBe("b");
    expect(() => oneOf(["a", "b"] as const)("c")).toThrow("expected one of a, b");
    expect(outputFormat({})).toBe("human");
    expect(outputFormat({ json: true })).toBe("json");
    expect(outputFormat({ ndjson: true }, { streaming: true })).toBe("ndjson");
    expect(() => outputFormat({ json: true }, { streaming: true })).toThrow(TauError);
    expect(() => outputFormat({ json: true, ndjson: true })).toThrow("--json and --ndjson are exclusive");
  });
});
