/** @module Tests for `/tau` parsing: prefix and @bot checks, quoting, escapes and flags. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseTauCommand, type ParseCommandOptions, type ParsedCommand } from "../../src/commands/parse-command.ts";

const opts = { prefix: "/tau", botUsername: "tau_ops_bot" };
const parse = (text: string, o: ParseCommandOptions = opts): ParsedCommand => parseTauCommand(text, o);
const cmd = (words: string[], flags: Record<string, string | true>, raw: string): ParsedCommand => ({ kind: "command", words, flags, raw });

describe("prefix and addressee", () => {
  it("parses /tau status", () => {
    expect(parse("/tau status")).toEqual(cmd(["status"], {}, "status"));
  });

  it("bare /tau is a command with no words", () => {
    expect(parse("/tau")).toEqual(cmd([], {}, ""));
  });

  it("accepts leading and trailing whitespace and newlines", () => {
    expect(parse("  \n /tau   status \t\n")).toEqual(cmd(["status"], {}, "status"));
  });

  it("/taunt and other commands are not /tau", () => {
    expect(parse("/taunt")).toEqual({ kind: "none" });
    // `/tau_x` is a Telegram menu entry (`/tau x`, see native-commands.test.ts); other joiners are not /tau.
    expect(parse("/tau-x status")).toEqual({ kind: "none" });
    expect(parse("/help")).toEqual({ kind: "none" });
    expect(parse("hello /tau status")).toEqual({ kind: "none" });
    expect(parse("tau status")).toEqual({ kind: "none" });
    expect(parse("")).toEqual({ kind: "none" });
  });

  it("the prefix is compared case-insensitively", () => {
    expect(parse("/TAU status")).toEqual(cmd(["status"], {}, "status"));
  });

  it("honours a configured prefix", () => {
    expect(parse("/ops status", { prefix: "/ops", botUsername: null })).toEqual(cmd(["status"], {}, "status"));
    expect(parse("/tau status", { prefix: "/ops", botUsername: null })).toEqual({ kind: "none" });
  });

  it("/tau@ourbot is ours, compared case-insensitively", () => {
    expect(parse("/tau@tau_ops_bot status")).toEqual(cmd(["status"], {}, "status"));
    expect(parse("/tau@TAU_Ops_Bot status")).toEqual(cmd(["status"], {}, "status"));
    expect(parse("/tau@tau_ops_bot")).toEqual(cmd([], {}, ""));
    expect(parse("/tau status", { prefix: "/tau", botUsername: "@tau_ops_bot" })).toEqual(cmd(["status"], {}, "status"));
    expect(parse("/tau@tau_ops_bot status", { prefix: "/tau", botUsername: "@tau_ops_bot" })).toEqual(cmd(["status"], {}, "status"));
  });

  it("/tau@otherbot is not ours", () => {
    expect(parse("/tau@other_bot status")).toEqual({ kind: "other_bot", target: "other_bot" });
    expect(parse('/tau@other_bot "unterminated')).toEqual({ kind: "other_bot", target: "other_bot" });
  });

  it("any @username is another bot's when ours is unknown (fail closed)", () => {
    expect(parse("/tau@tau_ops_bot status", { prefix: "/tau", botUsername: null })).toEqual({ kind: "other_bot", target: "tau_ops_bot" });
  });

  it("a malformed addressee is a parse error", () => {
    expect(parse("/tau@ status")).toEqual({ kind: "error", code: "command_parse_error", detail: "expected a bot username after @" });
    expect(parse("/tau@tau_ops_bot.status")).toEqual({
      kind: "error",
      code: "command_parse_error",
      detail: 'unexpected "." after @tau_ops_bot',
    });
  });

  it("an @word after a space is an ordinary argument", () => {
    expect(parse("/tau whoami @ana")).toEqual(cmd(["whoami", "@ana"], {}, "whoami @ana"));
  });
});

describe("tokenizer", () => {
  it("splits words on any whitespace", () => {
    expect(parse("/tau pairing\tapprove\nABCD2345")).toEqual(cmd(["pairing", "approve", "ABCD2345"], {}, "pairing\tapprove\nABCD2345"));
  });

  it("double and single quotes group words", () => {
    expect(parse(`/tau mail search "unpaid invoice" 'from ana'`)).toEqual(
      cmd(["mail", "search", "unpaid invoice", "from ana"], {}, `mail search "unpaid invoice" 'from ana'`),
    );
  });

  it("quotes of the other kind are literal inside quotes", () => {
    expect(parse(`/tau send preview "it's here" 'say "hi"'`).kind).toBe("command");
    expect((parse(`/tau send preview "it's here" 'say "hi"'`) as { words: string[] }).words).toEqual([
      "send",
      "preview",
      "it's here",
      'say "hi"',
    ]);
  });

  it("backslash escapes the next character, inside and outside quotes", () => {
    expect((parse(String.raw`/tau a\ b "c\"d" 'e\'f' g\\h`) as { words: string[] }).words).toEqual(["a b", 'c"d', "e'f", "g\\h"]);
  });

  it("adjacent quoted and unquoted parts join into one word; empty quotes are an empty word", () => {
    expect((parse(`/tau ab"c d"e ""`) as { words: string[] }).words).toEqual(["abc de", ""]);
  });

  it("an unterminated quote is an error", () => {
    expect(parse(`/tau mail search "unpaid`)).toEqual({ kind: "error", code: "command_parse_error", detail: "unterminated double quote" });
    expect(parse(`/tau mail search 'unpaid`)).toEqual({ kind: "error", code: "command_parse_error", detail: "unterminated single quote" });
  });

  it("a dangling backslash is an error", () => {
    expect(parse("/tau status \\")).toEqual({ kind: "error", code: "command_parse_error", detail: "dangling backslash at end of input" });
  });
});

describe("flags", () => {
  it("--flag value", () => {
    expect(parse("/tau mail search invoice --top 5")).toEqual(
      cmd(["mail", "search", "invoice"], { top: "5" }, "mail search invoice --top 5"),
    );
  });

  it("--flag=value, with quoted values", () => {
    expect(parse(`/tau mail search --top=5 --query="unpaid invoice"`)).toEqual(
      cmd(["mail", "search"], { top: "5", query: "unpaid invoice" }, `mail search --top=5 --query="unpaid invoice"`),
    );
    expect((parse("/tau x --empty=") as { flags: object }).flags).toEqual({ empty: "" });
  });

  it("boolean --flag at the end", () => {
    expect(parse("/tau doctor --online")).toEqual(cmd(["doctor"], { online: true }, "doctor --online"));
  });

  it("boolean --flag before another flag", () => {
    expect(parse("/tau doctor --online --verbose")).toEqual(cmd(["doctor"], { online: true, verbose: true }, "doctor --online --verbose"));
    expect(parse("/tau doctor --online --top=3")).toEqual(cmd(["doctor"], { online: true, top: "3" }, "doctor --online --top=3"));
  });

  it("flags may come before words", () => {
    expect(parse("/tau --top 5 mail search")).toEqual(cmd(["mail", "search"], { top: "5" }, "--top 5 mail search"));
  });

  it("-- ends flags; later --x are words", () => {
    expect(parse("/tau send preview --to ops -- --not-a-flag")).toEqual(
      cmd(["send", "preview", "--not-a-flag"], { to: "ops" }, "send preview --to ops -- --not-a-flag"),
    );
    expect(parse("/tau doctor --online --")).toEqual(cmd(["doctor"], { online: true }, "doctor --online --"));
  });

  it("a quoted --x is a word or a value, never a flag", () => {
    expect(parse(`/tau echo "--top" 5`)).toEqual(cmd(["echo", "--top", "5"], {}, `echo "--top" 5`));
    expect((parse(`/tau x --arg "--y"`) as { flags: object }).flags).toEqual({ arg: "--y" });
    expect((parse(`/tau x "--"`) as { words: string[] }).words).toEqual(["x", "--"]);
  });

  it("single-dash values like negative numbers are values", () => {
    expect((parse("/tau x --offset -5") as { flags: object }).flags).toEqual({ offset: "-5" });
  });

  it("a repeated flag collects its values in order (the capability's schema decides whether it takes a list)", () => {
    expect((parse("/tau x --top 1 --top=2 --top") as { flags: object }).flags).toEqual({ top: ["1", "2", true] });
  });

  it("an invalid flag name is an error", () => {
    expect(parse("/tau x --=5")).toEqual({ kind: "error", code: "command_parse_error", detail: 'invalid flag name "--"' });
    expect(parse("/tau x ---y")).toEqual({ kind: "error", code: "command_parse_error", detail: 'invalid flag name "---y"' });
    expect(parse("/tau x --__proto__ 1")).toEqual({
      kind: "error",
      code: "command_parse_error",
      detail: 'invalid flag name "--__proto__"',
    });
  });

  it("flag names like constructor are plain own keys", () => {
    const r = parse("/tau x --constructor y") as { flags: Record<string, string | true> };
    expect(r.flags).toEqual({ constructor: "y" });
    expect(Object.getPrototypeOf(r.flags)).toBe(Object.prototype);
  });
});

describe("parse properties", () => {
  it("never throws, and only /tau-prefixed text is a command or error", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        const r = parse(s);
        if (r.kind !== "none") expect(s.trim().toLowerCase().startsWith("/tau")).toBe(true);
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        expect(() => parse(`/tau ${s}`)).not.toThrow();
      }),
      { numRuns: 1000 },
    );
  });

  it("plain words round-trip through double-quoting with escapes", () => {
    const word = fc.string({ minLength: 0, maxLength: 12 });
    fc.assert(
      fc.property(fc.array(word, { maxLength: 6 }), (words) => {
        const quoted = words.map((w) => `"${w.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(" ");
        const r = parse(`/tau ${quoted}`);
        expect(r).toEqual({ kind: "command", words, flags: {}, raw: quoted });
      }),
      { numRuns: 500 },
    );
  });
});
