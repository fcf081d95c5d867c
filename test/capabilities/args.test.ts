/**
 * The flag table read from a capability's zod schema, argument errors that name the flag as typed, and the "what
 * to run next" hint in each surface's syntax (issue 13 §4). Pure: the real registry, no state.
 */
import { describe, expect, it } from "vitest";
import { createRegistry } from "../../src/app/index.ts";
import { argSpecs, buildArgs } from "../../src/capabilities/args.ts";
import { commandHint } from "../../src/capabilities/capability.ts";
import type { Services } from "../../src/capabilities/services.ts";

const registry = createRegistry();
const cap = (id: string) => registry.get(id)!;

describe("argSpecs", () => {
  it("reads kind, requiredness, bounds, choices, defaults and positions from the schema", () => {
    expect(argSpecs(cap("communications.mail.search"))).toEqual([
      {
        name: "query",
        flag: "--query",
        kind: "string",
        required: false,
        position: 0,
        choices: null,
        integer: false,
        min: null,
        max: null,
        default: "*",
      },
      {
        name: "top",
        flag: "--top",
        kind: "number",
        required: false,
        position: null,
        choices: null,
        integer: true,
        min: 1,
        max: 50,
        default: 5,
      },
      {
        name: "mailbox",
        flag: "--mailbox",
        kind: "string",
        required: false,
        position: null,
        choices: null,
        integer: false,
        min: null,
        max: null,
        default: undefined,
      },
      {
        name: "field",
        flag: "--field",
        kind: "enum",
        required: false,
        position: null,
        choices: ["subject", "from", "text"],
        integer: false,
        min: null,
        max: null,
        default: "subject",
      },
    ]);
    expect(argSpecs(cap("communications.send.preview")).map((s) => [s.flag, s.kind, s.required, s.position])).toEqual([
      ["--template", "string", true, 0],
      ["--to", "string", true, 1],
      ["--channel", "enum", false, null],
      ["--var", "list", false, null],
      ["--vars", "string", false, null],
    ]);
    expect(argSpecs(cap("communications.alerts.incident.bundle.create")).map((s) => [s.flag, s.kind, s.default])).toEqual([
      ["--write", "boolean", false],
    ]);
    expect(argSpecs(cap("communications.send.execute")).map((s) => [s.flag, s.kind, s.required, s.position])).toEqual([
      ["--preview-id", "string", true, 0],
    ]);
  });
});

describe("buildArgs errors name the flag", () => {
  const err = (id: string, words: string[], flags: Record<string, string | true | (string | true)[]>) => buildArgs(cap(id), words, flags);
  it("numbers, enums, repeats, typos, missing and doubled arguments", () => {
    expect(err("communications.delivery.log", [], { limit: "abc" })).toEqual({
      ok: false,
      detail: '--limit: expected a whole number from 1 to 500, got "abc"',
    });
    expect(err("communications.delivery.log", [], { limit: true })).toEqual({ ok: false, detail: "--limit needs a value" });
    expect(err("communications.mail.search", [], { top: "99" })).toEqual({
      ok: false,
      detail: "--top: expected a whole number from 1 to 50, got 99",
    });
    expect(err("communications.mail.search", [], { field: "sender" })).toEqual({
      ok: false,
      detail: '--field: expected one of subject, from, text, got "sender"',
    });
    expect(err("communications.mail.search", [], { top: ["1", "2"] })).toEqual({ ok: false, detail: "flag --top given more than once" });
    expect(err("communications.mail.search", [], { tpo: "1" })).toEqual({
      ok: false,
      detail: "unknown argument --tpo (did you mean --top?)",
    });
    expect(err("communications.send.execute", [], {})).toEqual({ ok: false, detail: "missing <preview_id> (or --preview-id)" });
    expect(err("communications.send.execute", ["pv_1"], { "preview-id": "pv_2" })).toEqual({
      ok: false,
      detail: "preview_id given twice (as <preview_id> and as --preview-id)",
    });
  });
  it("accepts the valid forms: a number from text, a repeated list flag, a switch", () => {
    expect(err("communications.mail.search", ["invoice"], { top: "2" })).toEqual({
      ok: true,
      args: { query: "invoice", top: 2, field: "subject" },
    });
    expect(err("communications.send.preview", ["t", "x"], { var: ["a=1", "b=2"] })).toEqual({
      ok: true,
      args: { template: "t", to: "x", var: ["a=1", "b=2"] },
    });
    expect(err("communications.alerts.incident.bundle.create", [], { write: true })).toEqual({ ok: true, args: { write: true } });
  });
});

describe("commandHint", () => {
  const services = { registry, config: { commands: { prefix: "/tau" } } } as unknown as Services;
  it("CLI syntax on the CLI (with --yes when the capability confirms), chat syntax in chat", () => {
    expect(commandHint({ surface: "cli", services }, "communications.send.execute", ["pv_1"])).toBe(
      "tau cap run communications.send.execute pv_1 --yes",
    );
    expect(commandHint({ surface: "chat", services }, "communications.send.execute", ["pv_1"])).toBe("/tau send execute pv_1");
    expect(commandHint({ surface: "cli", services }, "communications.alerts.incident.bundle.create", [], { write: true })).toBe(
      "tau cap run communications.alerts.incident.bundle.create --write",
    );
    expect(commandHint({ surface: "chat", services }, "communications.mail.search", ["two words"], { top: "5" })).toBe(
      "/tau mail search 'two words' --top 5",
    );
  });
});
