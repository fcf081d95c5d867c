/**
 * @module Parse a YAML (or JSON) file against a zod schema; on failure name the file, line, column,
 * field and what is allowed.
 */
import fs from "node:fs";
import { LineCounter, parseDocument, isMap, isNode, isScalar } from "yaml";
import type { z } from "zod";
import { ConfigError } from "../contracts/errors.ts";
import { closest, keysAt } from "./did-you-mean.ts";

/** Position of a path inside a parsed YAML document, 1-based. */
function locate(doc: ReturnType<typeof parseDocument>, lc: LineCounter, path: PropertyKey[]): { line?: number; column?: number } {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as unknown[], true);
    if (isNode(node) && node.range) {
      const pos = lc.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return {};
}

/** Position of the key `key` inside the map at `path` (unknown keys point at the key, not its value). */
function locateKey(
  doc: ReturnType<typeof parseDocument>,
  lc: LineCounter,
  path: PropertyKey[],
  key: string,
): { line?: number; column?: number } {
  const map = path.length === 0 ? doc.contents : doc.getIn(path as unknown[], true);
  if (isMap(map)) {
    const pair = map.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
    if (pair && isNode(pair.key) && pair.key.range) {
      const pos = lc.linePos(pair.key.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return locate(doc, lc, path);
}

/** One configuration problem: where it is and what is wrong, for an operator. */
export interface ConfigProblem {
  file: string;
  line?: number;
  column?: number;
  /** Dotted path of the field (`runner.queue_limit`), "" for the top level. */
  field: string;
  message: string;
}

/** Describe one zod issue (one unknown key at a time) for an operator: the field, what is allowed, the closest key. */
function describeIssue(issue: z.core.$ZodIssue, schema: z.ZodType, given: unknown, key?: string): string {
  const field = issue.path.length ? issue.path.join(".") : "(top level)";
  if (issue.code === "unrecognized_keys" && key !== undefined) {
    const at = issue.path.length ? `${field}.` : "";
    const near = closest(key, keysAt(schema, issue.path));
    return `unknown key "${at}${key}" (${near ? `did you mean "${near}"?` : "remove it or check its spelling"})`;
  }
  if (issue.code === "invalid_value") {
    const values = (issue as { values?: unknown[] }).values;
    const near = typeof given === "string" && values ? closest(given, values.map(String)) : null;
    if (values)
      return `${field}: must be one of ${values.map((v) => JSON.stringify(v)).join(", ")}${near ? ` (did you mean "${near}"?)` : ""}`;
  }
  return `${field}: ${issue.message}`;
}

/** Every zod issue as a problem (an unknown-keys issue becomes one problem per key), in file order. */
export function problemsOf(
  issues: readonly z.core.$ZodIssue[],
  schema: z.ZodType,
  file: string,
  position: (issue: z.core.$ZodIssue, key?: string) => { line?: number; column?: number },
  data?: unknown,
): ConfigProblem[] {
  // The value the file gave at a path (zod issues do not carry it), for "did you mean" on enum values.
  const valueAt = (p: readonly PropertyKey[]) =>
    p.reduce<unknown>((v, k) => (v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[k] : undefined), data);
  const out = issues.flatMap((issue) => {
    const keys = issue.code === "unrecognized_keys" ? (issue as { keys: string[] }).keys : [undefined];
    return keys.map((key) => ({
      file,
      ...position(issue, key),
      field: [...issue.path, ...(key === undefined ? [] : [key])].join("."),
      message: describeIssue(issue, schema, valueAt(issue.path), key),
    }));
  });
  return out.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}

const at = (p: ConfigProblem) => (p.line !== undefined ? `${p.file}:${p.line}:${p.column ?? 1}` : p.file);

/** One ConfigError listing every problem: one line for one, else a count and then one `file:line:col: …` line each. */
export function configErrorOf(problems: ConfigProblem[], opts: { hint?: string } = {}): ConfigError {
  const first = problems[0]!;
  const message =
    problems.length === 1
      ? `${at(first)}: ${first.message}`
      : `${first.file}: ${problems.length} problems\n${problems.map((p) => `  ${at(p)}: ${p.message}`).join("\n")}`;
  return new ConfigError(message, {
    file: first.file,
    line: first.line,
    column: first.column,
    field: first.field,
    hint: opts.hint,
    details: { issues: problems.map(({ line, column, field, message }) => ({ line, column, field, message })) },
  });
}

/**
 * Validation of a file read once (at start, or on reload): zod's interpreter, not its JIT. zod compiles a parser per
 * object schema on its first parse (`new Function`), which pays for itself on hot paths (envelopes) and never for a
 * configuration file; the same checks either way. `tau health` starts ~7% faster with it (npm run bench -- startup).
 */
export const ONCE = { jitless: true } as const;

/** Parse `text` (YAML 1.2, so JSON is accepted too) and validate it; throws ConfigError naming file, line and field of every problem. */
export function parseYamlWith<T extends z.ZodType>(text: string, file: string, schema: T): z.infer<T> {
  return parseYamlDataWith(text, file, schema).value;
}

/**
 * {@link parseYamlWith}, also returning the document's own data (`data`: as written, before validation and defaults;
 * a fresh object the caller may change, e.g. to layer environment overrides, without touching `value`).
 */
export function parseYamlDataWith<T extends z.ZodType>(text: string, file: string, schema: T): { value: z.infer<T>; data: unknown } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = lc.linePos(e.pos[0]);
    throw new ConfigError(`${file}:${pos.line}:${pos.col}: not valid YAML: ${e.message.split("\n")[0]}`, {
      file,
      line: pos.line,
      column: pos.col,
      hint: "fix the YAML syntax at that position",
    });
  }
  const data: unknown = doc.toJS() ?? {};
  const result = schema.safeParse(data, ONCE);
  if (result.success) return { value: result.data, data };
  throw configErrorOf(
    problemsOf(
      result.error.issues,
      schema,
      file,
      (issue, key) => (key !== undefined ? locateKey(doc, lc, issue.path, key) : locate(doc, lc, issue.path)),
      data,
    ),
  );
}

/** Read and validate a YAML/JSON file. */
export function loadYamlFile<T extends z.ZodType>(file: string, schema: T): z.infer<T> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      file,
      cause: err,
      hint: "check the path and permissions",
    });
  }
  return parseYamlWith(text, file, schema);
}
