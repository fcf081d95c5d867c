/**
 * @module Capability arguments from chat words and flags (or CLI flags), validated by the capability's zod schema;
 * the flag table read from that schema (what `tau cap run <id> --help` lists); and the canonical hash of the
 * arguments (approvals refuse changed arguments). Every error names the flag as it was typed.
 */
import { createHash } from "node:crypto";
import type { AnyCapability } from "./registry.ts";

/** A flag's value as parsed: `--name value`, a bare `--name`, or every value of a repeated flag. */
export type FlagValue = string | true | readonly (string | true)[];

export type ArgsResult = { ok: true; args: Record<string, unknown> } | { ok: false; detail: string };

/** What a flag takes, read from the zod schema: a switch, a number, one of a set, a repeatable value, or text. */
export type ArgKind = "boolean" | "number" | "enum" | "list" | "string";

/** One argument as a flag: `name` is the schema key (`preview_id`), `flag` its kebab-case spelling (`--preview-id`). */
export interface ArgSpec {
  name: string;
  flag: string;
  kind: ArgKind;
  required: boolean;
  /** Filled by the nth positional word when set. */
  position: number | null;
  choices: readonly string[] | null;
  integer: boolean;
  min: number | null;
  max: number | null;
  default: unknown;
}

/** The zod internals this module reads (zod 4 `_zod.def`); kept structural so no zod internal type is imported. */
interface ZodNode {
  _zod: { def: Record<string, unknown> & { type: string } };
}
const defOf = (s: unknown): Record<string, unknown> & { type: string } => (s as ZodNode)._zod.def;

interface Reading {
  kind: ArgKind;
  required: boolean;
  choices: readonly string[] | null;
  integer: boolean;
  min: number | null;
  max: number | null;
  default: unknown;
}

/** Read one schema node: wrappers (default/optional/pipe) are unwrapped down to the type the value must have. */
function read(schema: unknown, into: Reading): Reading {
  const def = defOf(schema);
  switch (def.type) {
    case "default":
    case "prefault":
      into.required = false;
      into.default = def.defaultValue;
      return read(def.innerType, into);
    case "optional":
    case "nullable":
    case "readonly":
      into.required = false;
      return read(def.innerType, into);
    case "pipe":
      // A preprocess is transform → type (read the type); a refinement chain is type → transform (read the input).
      return read(defOf(def.out).type === "transform" ? def.in : def.out, into);
    case "union": {
      const kinds = (def.options as unknown[]).map((o) => read(o, { ...into, kind: "string" }));
      if (kinds.some((k) => k.kind === "boolean")) into.kind = "boolean";
      else if (kinds.some((k) => k.kind === "list")) into.kind = "list";
      else if (kinds.every((k) => k.kind === "number")) return { ...kinds[0]!, required: into.required, default: into.default };
      else into.kind = "string";
      return into;
    }
    case "boolean":
      into.kind = "boolean";
      return into;
    case "number":
      into.kind = "number";
      for (const c of (def.checks as unknown[] | undefined) ?? []) {
        const cd = defOf(c) as { check?: string; value?: number; format?: string };
        if (cd.check === "number_format" && (cd.format === "safeint" || cd.format === "int32")) into.integer = true;
        if (cd.check === "greater_than" && typeof cd.value === "number") into.min = cd.value;
        if (cd.check === "less_than" && typeof cd.value === "number") into.max = cd.value;
      }
      return into;
    case "enum":
      into.kind = "enum";
      into.choices = Object.values(def.entries as Record<string, string>).map(String);
      return into;
    case "array":
      into.kind = "list";
      return into;
    default:
      into.kind = "string";
      return into;
  }
}

const kebab = (name: string) => name.replace(/_/g, "-");

/** The capability's arguments as flags, in schema order (positional ones say which word fills them). */
export function argSpecs(cap: AnyCapability): ArgSpec[] {
  const def = defOf(cap.args);
  if (def.type !== "object") return [];
  const positional = cap.positional ?? [];
  return Object.entries(def.shape as Record<string, unknown>).map(([name, schema]) => {
    const r = read(schema, { kind: "string", required: true, choices: null, integer: false, min: null, max: null, default: undefined });
    const i = positional.indexOf(name);
    return { name, flag: `--${kebab(name)}`, ...r, position: i < 0 ? null : i };
  });
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/** Up to one known flag within two edits of `given` (`--tpo` → `--top`). */
function didYouMean(given: string, specs: readonly ArgSpec[]): string {
  const dist = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++)
        d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    return d[a.length]![b.length]!;
  };
  const best = specs
    .map((s) => ({ s, d: dist(kebab(given), kebab(s.name)) }))
    .filter((x) => x.d <= 2)
    .sort((a, b) => a.d - b.d)[0];
  return best ? ` (did you mean ${best.s.flag}?)` : "";
}

/** ` from 1 to 50`, ` ≥ 1`, ` ≤ 9`, or "" for an unbounded number (help texts and errors). */
export function numberRange(s: Pick<ArgSpec, "min" | "max">): string {
  if (s.min !== null && s.max !== null) return ` from ${s.min} to ${s.max}`;
  if (s.min !== null) return ` ≥ ${s.min}`;
  if (s.max !== null) return ` ≤ ${s.max}`;
  return "";
}

/**
 * Positional words fill `positional` names in order (extra words join into the last one); flags map `--top-n` →
 * `top_n`. Numbers are parsed here, so `--limit abc` says which flag and what it got; a repeated flag is refused
 * unless its argument is a list (`--var a=1 --var b=2`).
 */
export function buildArgs(cap: AnyCapability, words: readonly string[], flags: Record<string, FlagValue>): ArgsResult {
  const fail = (detail: string): ArgsResult => ({ ok: false, detail });
  const specs = argSpecs(cap);
  const byName = new Map(specs.map((s) => [s.name, s]));
  const raw: Record<string, unknown> = {};
  /** How each argument was given, for messages: the flag as typed, or `<name>` for a word. */
  const given = new Map<string, string>();
  const names = cap.positional ?? [];
  if (words.length > 0 && names.length === 0)
    return fail(`${cap.alias.join(" ")} takes no positional arguments (got "${words.join(" ")}")`);
  names.forEach((name, i) => {
    if (i >= words.length) return;
    const word = i === names.length - 1 ? words.slice(i).join(" ") : words[i]!;
    const s = byName.get(name);
    raw[name] = s?.kind === "number" && NUMBER.test(word.trim()) ? Number(word) : word;
    given.set(name, `<${name}>`);
  });
  for (const [typed, v] of Object.entries(flags)) {
    const flag = `--${typed}`;
    const name = typed.replace(/-/g, "_");
    const s = byName.get(name);
    if (!s) return fail(`unknown argument ${flag}${didYouMean(typed, specs)}`);
    if (given.has(name)) return fail(`${name} given twice (as ${given.get(name)} and as ${flag})`);
    given.set(name, flag);
    if (Array.isArray(v) && s.kind !== "list") return fail(`flag ${flag} given more than once`);
    const values = (Array.isArray(v) ? v : [v]) as (string | true)[];
    if (s.kind !== "boolean" && values.some((x) => x === true)) return fail(`${flag} needs a value`);
    if (s.kind === "number") {
      const text = (values[0] as string).trim();
      if (!NUMBER.test(text)) return fail(`${flag}: expected a${s.integer ? " whole" : ""} number${numberRange(s)}, got "${values[0]}"`);
      raw[name] = Number(text);
    } else raw[name] = Array.isArray(v) ? [...values] : v;
  }
  const r = cap.args.safeParse(raw);
  if (r.success) return { ok: true, args: r.data as Record<string, unknown> };
  const i = r.error.issues[0]!;
  const key = typeof i.path[0] === "string" ? i.path[0] : null;
  if (i.code === "unrecognized_keys")
    return fail(`unknown argument ${(i as { keys: string[] }).keys.map((k) => `--${kebab(k)}`).join(", ")}`);
  if (key === null) return fail(`(arguments): ${i.message}`);
  const s = byName.get(key);
  const shown = given.get(key) ?? (s && s.position !== null ? `<${key}> (or ${s.flag})` : (s?.flag ?? key));
  if (!given.has(key) && raw[key] === undefined) return fail(`missing ${shown}`);
  if (s?.kind === "enum" && s.choices) return fail(`${shown}: expected one of ${s.choices.join(", ")}, got "${String(raw[key])}"`);
  if (s?.kind === "number")
    return fail(`${shown}: expected a${s.integer ? " whole" : ""} number${numberRange(s)}, got ${String(raw[key])}`);
  return fail(`${shown}: ${i.message}`);
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/** sha256 over the capability id and canonical JSON arguments. */
export function argsHash(capabilityId: string, args: Record<string, unknown>): string {
  return createHash("sha256")
    .update(JSON.stringify([capabilityId, canonical(args)]))
    .digest("hex");
}

/** The reply footer (PRODUCT.md §2.2). */
export function footer(prefix: string, command: string, status: "reported" | "failed" | "pending_approval", reason: string): string {
  return `tau ${prefix} ${command} | status ${status} | reason_code ${reason}`;
}
