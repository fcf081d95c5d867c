/**
 * @module Parse a YAML (or JSON) file against a zod schema; on failure name the file, line, column,
 * field and what is allowed.
 */
import fs from "node:fs";
import { LineCounter, parseDocument, isMap, isNode, isScalar } from "yaml";
import type { z } from "zod";
import { ConfigError } from "../contracts/errors.ts";

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

/** Describe one zod issue for an operator: the field and what is allowed. */
function describeIssue(issue: z.core.$ZodIssue): string {
  const field = issue.path.length ? issue.path.join(".") : "(top level)";
  if (issue.code === "unrecognized_keys") {
    const keys = (issue as { keys: string[] }).keys;
    const at = issue.path.length ? `${field}.` : "";
    return `unknown key ${keys.map((k) => `"${at}${k}"`).join(", ")} (remove it or check its spelling)`;
  }
  if (issue.code === "invalid_value") {
    const values = (issue as { values?: unknown[] }).values;
    if (values) return `${field}: must be one of ${values.map((v) => JSON.stringify(v)).join(", ")}`;
  }
  return `${field}: ${issue.message}`;
}

/** Parse `text` (YAML 1.2, so JSON is accepted too) and validate it; throws ConfigError naming file, line and field. */
export function parseYamlWith<T extends z.ZodType>(text: string, file: string, schema: T): z.infer<T> {
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
  const data = doc.toJS() ?? {};
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const pos =
    issue.code === "unrecognized_keys"
      ? locateKey(doc, lc, issue.path, (issue as { keys: string[] }).keys[0]!)
      : locate(doc, lc, issue.path);
  const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more)` : "";
  throw new ConfigError(`${file}:${pos.line ?? 1}:${pos.column ?? 1}: ${describeIssue(issue)}${more}`, {
    file,
    line: pos.line,
    column: pos.column,
    field: issue.path.join("."),
    details: { issues: result.error.issues.map(describeIssue) },
  });
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
