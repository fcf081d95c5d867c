/**
 * Import rules from ARCHITECTURE.md, checked by scanning the source: static imports and re-exports, side-effect
 * imports, type-only imports and dynamic `import()` alike.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

function files(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []));
}

const IMPORT =
  /(?:^|[\s;])(?:import|export)\s[^;]*?\sfrom\s+["']([^"']+)["']|(?:^|[\s;])import\s+["']([^"']+)["']|\bimport\(\s*["'`]([^"'`]+)["'`]\s*\)/gm;

/** Every module specifier a file names: static, type-only, side-effect and dynamic. */
export function importsOf(text: string): string[] {
  const noComments = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  return [...noComments.matchAll(IMPORT)].map((m) => (m[1] ?? m[2] ?? m[3])!);
}

const imports = (file: string) => importsOf(fs.readFileSync(file, "utf8"));
const resolveRel = (file: string, spec: string) =>
  spec.startsWith(".") ? path.relative(".", path.resolve(path.dirname(file), spec)) : spec;

/** `src/<folder>/…` → folder; a top-level file `src/log.ts` counts as folder `log`; `connectors/…` → `connectors`. */
function folderOf(file: string): string {
  const parts = file.split("/");
  if (parts[0] === "connectors") return "connectors";
  return parts.length > 2 ? parts[1]! : parts[1]!.replace(/\.ts$/, "");
}

/** Lower never imports higher. Folders in one layer may import each other, but never in a cycle. */
const LAYERS: readonly (readonly string[])[] = [
  ["contracts"],
  ["policy"],
  ["config", "log"],
  ["store"],
  ["audit", "ingress", "router", "capabilities", "commands", "responders", "media", "outbound", "health", "runner", "lifecycle", "server"],
  ["app"],
  ["replay"],
  ["cli"],
];
const layerOf = (folder: string) => LAYERS.findIndex((l) => l.includes(folder));

/** Strongly connected components with more than one node (Tarjan). */
function cycles(edges: Map<string, Set<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) out.push(c.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe("architecture", () => {
  const src = files("src");
  const connectors = files("connectors");
  const product = [...src, ...connectors];
  const srcEdges = src.flatMap((f) =>
    imports(f)
      .map((i) => ({ f, to: resolveRel(f, i) }))
      .filter((e) => e.to.startsWith("src/") || e.to.startsWith("connectors/")),
  );

  it("the scanner sees static, type-only, side-effect and dynamic imports", () => {
    const sample =
      'import a from "./a.ts";\nimport type { B } from "../b.ts";\nexport { c } from "./c.ts";\nimport "./d.ts";\nconst e = await import("../e.ts");\n// import x from "./commented.ts";';
    expect(importsOf(sample)).toEqual(["./a.ts", "../b.ts", "./c.ts", "./d.ts", "../e.ts"]);
  });

  it("every src folder has a layer", () => {
    const unknown = [...new Set(src.map(folderOf))].filter((f) => layerOf(f) < 0);
    expect(unknown).toEqual([]);
  });

  it("layers: contracts → policy → config → store → domain folders → app → replay → cli; lower never imports higher", () => {
    const bad = srcEdges
      .filter((e) => e.to.startsWith("src/"))
      .filter((e) => layerOf(folderOf(e.to)) > layerOf(folderOf(e.f)))
      .map((e) => `${e.f} (${folderOf(e.f)}) imports ${e.to} (${folderOf(e.to)})`);
    expect(bad).toEqual([]);
  });

  it("no import cycle between src folders, type-only and dynamic imports included", () => {
    const edges = new Map<string, Set<string>>();
    for (const e of srcEdges) {
      const a = folderOf(e.f);
      const b = folderOf(e.to);
      if (a === b || !e.to.startsWith("src/")) continue;
      (edges.get(a) ?? edges.set(a, new Set()).get(a)!).add(b);
    }
    expect(cycles(edges)).toEqual([]);
  });

  it("src/contracts imports only zod and other contracts", () => {
    const bad = files("src/contracts")
      .flatMap((f) => imports(f).map((i) => [f, resolveRel(f, i)] as const))
      .filter(([, i]) => i !== "zod" && !i.startsWith("src/contracts/"));
    expect(bad).toEqual([]);
  });

  it("src/policy is pure: only zod, contracts and itself; no I/O, no clock", () => {
    const bad = files("src/policy")
      .flatMap((f) => imports(f).map((i) => [f, resolveRel(f, i)] as const))
      .filter(([, i]) => i !== "zod" && !i.startsWith("src/contracts/") && !i.startsWith("src/policy/"));
    expect(bad).toEqual([]);
    const clock = files("src/policy").filter((f) => /Date\.now\(|new Date\(\)|Math\.random\(/.test(fs.readFileSync(f, "utf8")));
    expect(clock).toEqual([]);
  });

  it("SQL lives only in src/store: .prepare( .transaction( .exec( and better-sqlite3 appear nowhere else", () => {
    const sql = product.filter((f) => !f.startsWith("src/store/") && /\.(prepare|transaction|exec)\(/.test(fs.readFileSync(f, "utf8")));
    expect(sql).toEqual([]);
    const driver = product.filter((f) => imports(f).includes("better-sqlite3") && !f.startsWith("src/store/"));
    expect(driver).toEqual([]);
  });

  it("nothing outside src/store knows the database handle (no Db type, no .db property)", () => {
    const bad = product.filter(
      (f) =>
        !f.startsWith("src/store/") &&
        /\btype Db\b|\bDb\b[,}]|\.db\b/.test(fs.readFileSync(f, "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "")),
    );
    expect(bad).toEqual([]);
  });

  it("connectors/* are imported only by the composition folder src/app (statically or with import())", () => {
    const bad = srcEdges.filter((e) => e.to.startsWith("connectors/") && !e.f.startsWith("src/app/")).map((e) => `${e.f} imports ${e.to}`);
    expect(bad).toEqual([]);
  });

  it("each provider SDK is imported in one connector folder or one adapter file", () => {
    const sdk: Record<string, (f: string) => boolean> = {
      grammy: (f) => f.startsWith("connectors/telegram/"),
      "discord.js": (f) => f.startsWith("connectors/discord/"),
      "@discordjs/rest": (f) => f.startsWith("connectors/discord/"),
      imapflow: (f) => f === "src/capabilities/mail/imap-client.ts",
      mailparser: (f) => f === "src/capabilities/mail/imap-client.ts",
      resend: (f) => f === "src/capabilities/communications/resend-adapter.ts",
      twilio: (f) => f === "src/capabilities/communications/twilio-adapter.ts",
      nodemailer: (f) => f === "src/capabilities/mail/smtp-client.ts",
      openai: (f) => f === "src/responders/llm/openai.ts",
      "@anthropic-ai/sdk": (f) => f === "src/responders/llm/anthropic.ts",
      "@google/genai": (f) => f === "src/responders/llm/gemini.ts",
      tsdav: (f) => f === "src/capabilities/calendar/dav-client.ts",
      "ical.js": (f) => f === "src/capabilities/calendar/ical-codec.ts",
      pg: (f) => f === "src/store/pg/worker.ts",
      "@nats-io/transport-node": (f) => f === "src/ingress/jetstream-client.ts",
      "@nats-io/jetstream": (f) => f === "src/ingress/jetstream-client.ts",
    };
    const bad = product.flatMap((f) =>
      imports(f)
        .filter((i) => sdk[i] && !sdk[i]!(f))
        .map((i) => `${f} imports ${i}`),
    );
    expect(bad).toEqual([]);
  });

  it("connectors import only src/contracts, connectors/shared, their own folder and packages", () => {
    const bad = connectors.flatMap((f) => {
      const own = f.split("/").slice(0, 2).join("/") + "/";
      return imports(f)
        .map((i) => resolveRel(f, i))
        .filter(
          (i) =>
            (i.startsWith("src/") && !i.startsWith("src/contracts/")) ||
            (i.startsWith("connectors/") && !i.startsWith("connectors/shared/") && !i.startsWith(own)),
        )
        .map((i) => `${f} imports ${i}`);
    });
    expect(bad).toEqual([]);
  });

  it("process.env is read only in src/config/env.ts; the system clock is picked only in the composition", () => {
    const envBad = product.filter((f) => f !== "src/config/env.ts" && /process\.env\b/.test(fs.readFileSync(f, "utf8")));
    expect(envBad).toEqual([]);
    const clockBad = product.filter(
      (f) => !f.startsWith("src/app/") && /Date\.now\b/.test(fs.readFileSync(f, "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "")),
    );
    expect(clockBad).toEqual([]);
  });
});
