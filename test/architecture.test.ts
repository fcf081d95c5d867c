/** Import rules from ARCHITECTURE.md, checked by scanning the source (the rules that matter most). */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

function files(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []));
}

function imports(file: string): string[] {
  const text = fs.readFileSync(file, "utf8");
  return [...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']/gm)].map((m) => m[1]!);
}

const resolveRel = (file: string, spec: string) => (spec.startsWith(".") ? path.relative(".", path.resolve(path.dirname(file), spec)) : spec);

describe("architecture", () => {
  const src = files("src");
  const connectors = files("connectors");

  it("src/contracts imports only zod and other contracts", () => {
    const bad = files("src/contracts").flatMap((f) => imports(f).map((i) => [f, resolveRel(f, i)] as const)).filter(([, i]) => i !== "zod" && !i.startsWith("src/contracts/"));
    expect(bad).toEqual([]);
  });

  it("src/policy is pure: only zod, contracts and itself; no I/O, no clock", () => {
    const bad = files("src/policy").flatMap((f) => imports(f).map((i) => [f, resolveRel(f, i)] as const)).filter(([, i]) => i !== "zod" && !i.startsWith("src/contracts/") && !i.startsWith("src/policy/"));
    expect(bad).toEqual([]);
    const clock = files("src/policy").filter((f) => /Date\.now\(|new Date\(\)|Math\.random\(/.test(fs.readFileSync(f, "utf8")));
    expect(clock).toEqual([]);
  });

  it("better-sqlite3 is imported only in src/store", () => {
    const bad = [...src, ...connectors].filter((f) => imports(f).includes("better-sqlite3") && !f.startsWith("src/store/"));
    expect(bad).toEqual([]);
  });

  it("each provider SDK is imported in one connector folder or one adapter file", () => {
    const sdk: Record<string, (f: string) => boolean> = {
      grammy: (f) => f.startsWith("connectors/telegram/"),
      "discord.js": (f) => f.startsWith("connectors/discord/"),
      "@discordjs/rest": (f) => f.startsWith("connectors/discord/"),
      imapflow: (f) => f === "src/capabilities/mail/imap-client.ts",
      resend: (f) => f === "src/capabilities/communications/resend-adapter.ts",
      twilio: (f) => f === "src/capabilities/communications/twilio-adapter.ts",
      nodemailer: (f) => f === "src/capabilities/mail/smtp-client.ts",
    };
    const bad = [...src, ...connectors].flatMap((f) => imports(f).filter((i) => sdk[i] && !sdk[i]!(f)).map((i) => `${f} imports ${i}`));
    expect(bad).toEqual([]);
  });

  it("connectors import only src/contracts, connectors/shared, their own folder and packages", () => {
    const bad = connectors.flatMap((f) => {
      const own = f.split("/").slice(0, 2).join("/") + "/";
      return imports(f)
        .map((i) => resolveRel(f, i))
        .filter((i) => (i.startsWith("src/") && !i.startsWith("src/contracts/")) || (i.startsWith("connectors/") && !i.startsWith("connectors/shared/") && !i.startsWith(own)))
        .map((i) => `${f} imports ${i}`);
    });
    expect(bad).toEqual([]);
  });

  it("src/router and src/server never import connectors; process.env is read only in src/config/env.ts", () => {
    const routerBad = [...files("src/router"), ...files("src/server")].flatMap((f) => imports(f).map((i) => resolveRel(f, i)).filter((i) => i.startsWith("connectors/")).map((i) => `${f} imports ${i}`));
    expect(routerBad).toEqual([]);
    const envBad = [...src, ...connectors].filter((f) => f !== "src/config/env.ts" && /process\.env\b/.test(fs.readFileSync(f, "utf8")));
    expect(envBad).toEqual([]);
  });
});
