/**
 * @module SQLite SQL (as the store files write it for better-sqlite3) to PostgreSQL, once per statement text:
 * `?` and `@name` parameters to `$n` (each occurrence its own `$n`, so PostgreSQL infers each one's type from its own
 * context), a parameter tested with `IS [NOT] NULL` cast to text (PostgreSQL cannot infer its type there),
 * `IFNULL` → `COALESCE`, scalar `MAX(a, b)`/`MIN(a, b)` → `GREATEST`/`LEAST`, `instr` → `strpos`, `group_concat` →
 * `string_agg`, `INSERT OR IGNORE` → `ON CONFLICT DO NOTHING`, `INSERT OR REPLACE` → `ON CONFLICT (<key>) DO UPDATE`
 * (the key from the schema, supplied by the caller). String literals, quoted identifiers and comments are left alone.
 */

/** Where each `$n` takes its value from: the n-th positional argument, or a named property of the bound object. */
export type ParamSource = { kind: "positional"; index: number } | { kind: "named"; name: string };

export interface Translated {
  text: string;
  params: ParamSource[];
  /** `INSERT …` (the adapter may add RETURNING for lastInsertRowid). */
  insertInto: string | null;
  hasReturning: boolean;
  /** For `INSERT OR REPLACE`: the table and the inserted columns; the caller appends the ON CONFLICT clause. */
  replace: { table: string; columns: string[] } | null;
}

interface Token {
  kind: "word" | "param" | "string" | "ident" | "space" | "punct" | "comment";
  text: string;
  /** For params: the source. */
  source?: ParamSource;
}

function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let positional = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (c === "'" || c === '"' || c === "`") {
      let j = i + 1;
      for (;;) {
        if (j >= n) break;
        if (sql[j] === c) {
          if (sql[j + 1] === c) {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      const raw = sql.slice(i, j + 1);
      // SQLite accepts `backtick` identifiers; PostgreSQL only "double quotes".
      out.push({ kind: c === "'" ? "string" : "ident", text: c === "`" ? `"${raw.slice(1, -1)}"` : raw });
      i = j + 1;
    } else if (c === "-" && sql[i + 1] === "-") {
      const j = sql.indexOf("\n", i);
      const end = j < 0 ? n : j;
      out.push({ kind: "comment", text: sql.slice(i, end) });
      i = end;
    } else if (c === "/" && sql[i + 1] === "*") {
      const j = sql.indexOf("*/", i + 2);
      const end = j < 0 ? n : j + 2;
      out.push({ kind: "comment", text: sql.slice(i, end) });
      i = end;
    } else if (c === "?") {
      let j = i + 1;
      while (j < n && /[0-9]/.test(sql[j]!)) j++;
      const explicit = j > i + 1 ? Number(sql.slice(i + 1, j)) - 1 : null;
      out.push({ kind: "param", text: "?", source: { kind: "positional", index: explicit ?? positional++ } });
      i = j;
    } else if ((c === "@" || c === "$" || c === ":") && /[A-Za-z_]/.test(sql[i + 1] ?? "") && !(c === ":" && sql[i - 1] === ":")) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_]/.test(sql[j]!)) j++;
      out.push({ kind: "param", text: sql.slice(i, j), source: { kind: "named", name: sql.slice(i + 1, j) } });
      i = j;
    } else if (/\s/.test(c)) {
      let j = i + 1;
      while (j < n && /\s/.test(sql[j]!)) j++;
      out.push({ kind: "space", text: sql.slice(i, j) });
      i = j;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_$]/.test(sql[j]!)) j++;
      out.push({ kind: "word", text: sql.slice(i, j) });
      i = j;
    } else if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < n && /[0-9.eE]/.test(sql[j]!)) j++;
      out.push({ kind: "word", text: sql.slice(i, j) });
      i = j;
    } else {
      // Two-character operators stay together (||, <=, >=, <>, !=, ::).
      const two = sql.slice(i, i + 2);
      const len = ["||", "<=", ">=", "<>", "!=", "::", "=="].includes(two) ? 2 : 1;
      out.push({ kind: "punct", text: len === 2 && two === "==" ? "=" : sql.slice(i, i + len) });
      i += len;
    }
  }
  return out;
}

/** Index of the token after `start` skipping spaces and comments, or -1. */
function nextSolid(t: Token[], start: number): number {
  for (let k = start; k < t.length; k++) if (t[k]!.kind !== "space" && t[k]!.kind !== "comment") return k;
  return -1;
}

/** The tokens of a call's arguments: indexes of the top-level commas and of the closing parenthesis. */
function callShape(t: Token[], open: number): { commas: number[]; close: number } | null {
  let depth = 0;
  const commas: number[] = [];
  for (let k = open; k < t.length; k++) {
    const x = t[k]!;
    if (x.kind !== "punct") continue;
    if (x.text === "(") depth++;
    else if (x.text === ")") {
      depth--;
      if (depth === 0) return { commas, close: k };
    } else if (x.text === "," && depth === 1) commas.push(k);
  }
  return null;
}

const upper = (t: Token | undefined): string => (t && t.kind === "word" ? t.text.toUpperCase() : "");

export function translate(sql: string): Translated {
  const t = tokenize(sql);
  let insertInto: string | null = null;
  let replace: Translated["replace"] = null;
  let conflict: "ignore" | null = null;
  const first = nextSolid(t, 0);
  if (upper(t[first]) === "INSERT") {
    const k = nextSolid(t, first + 1);
    if (upper(t[k]) === "OR") {
      const what = nextSolid(t, k + 1);
      const kind = upper(t[what]);
      if (kind === "IGNORE") conflict = "ignore";
      else if (kind === "REPLACE") replace = { table: "", columns: [] };
      else throw new Error(`INSERT OR ${kind} has no PostgreSQL translation`);
      for (let x = k; x <= what; x++) t[x] = { kind: "space", text: "" };
      t[k - 1] = { kind: "space", text: " " };
    }
    const into = nextSolid(t, first + 1);
    const table = nextSolid(t, into + 1);
    if (upper(t[into]) === "INTO" && t[table]) {
      insertInto = t[table]!.text.replace(/"/g, "");
      if (replace) {
        replace.table = insertInto;
        const open = nextSolid(t, table + 1);
        if (t[open]?.text === "(") {
          const shape = callShape(t, open);
          if (shape)
            for (let x = open + 1; x < shape.close; x++)
              if (t[x]!.kind === "word" || t[x]!.kind === "ident") replace.columns.push(t[x]!.text);
        }
      }
    }
  }
  let hasReturning = false;
  for (let k = 0; k < t.length; k++) {
    const x = t[k]!;
    if (x.kind !== "word") continue;
    const w = x.text.toUpperCase();
    if (w === "RETURNING") hasReturning = true;
    const open = nextSolid(t, k + 1);
    if (open < 0 || t[open]!.text !== "(") continue;
    if (w === "IFNULL") x.text = "COALESCE";
    else if (w === "INSTR") x.text = "strpos";
    else if (w === "MAX" || w === "MIN") {
      const shape = callShape(t, open);
      if (shape && shape.commas.length > 0) x.text = w === "MAX" ? "GREATEST" : "LEAST";
    } else if (w === "GROUP_CONCAT") {
      x.text = "string_agg";
      const shape = callShape(t, open);
      if (shape && shape.commas.length === 0) t.splice(shape.close, 0, { kind: "punct", text: ", ','" });
    }
  }
  const params: ParamSource[] = [];
  const parts: string[] = [];
  for (let k = 0; k < t.length; k++) {
    const x = t[k]!;
    if (x.kind !== "param") {
      parts.push(x.text);
      continue;
    }
    params.push(x.source!);
    let text = `$${params.length}`;
    const is = nextSolid(t, k + 1);
    if (upper(t[is]) === "IS") {
      const after = nextSolid(t, is + 1);
      const nul = upper(t[after]) === "NOT" ? nextSolid(t, after + 1) : after;
      if (upper(t[nul]) === "NULL") text += "::text";
    }
    parts.push(text);
  }
  let text = parts.join("").trim().replace(/;$/, "");
  if (conflict === "ignore") text = appendBeforeReturning(text, "ON CONFLICT DO NOTHING");
  return { text, params, insertInto, hasReturning, replace };
}

/** Add a clause at the end of an INSERT, before its RETURNING clause if it has one. */
export function appendBeforeReturning(text: string, clause: string): string {
  const m = text.match(/\sRETURNING\s/i);
  if (!m || m.index === undefined) return `${text} ${clause}`;
  return `${text.slice(0, m.index)} ${clause}${text.slice(m.index)}`;
}
