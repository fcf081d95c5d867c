/**
 * Start-up: `tau --help`, `tau --version` and `tau health` import only what they run (issue 13: "commands import
 * lazily"; the start-up times themselves are in `npm run bench -- startup`). The loaded modules are read from a
 * module-loader hook in the real `bin/tau.js` child, compiled or from the sources alike.
 */
import fs from "node:fs";
import type { Command } from "commander";
import { afterAll, describe, expect, it } from "vitest";
import { buildProgram, COMMANDS, invokedCommand } from "../../src/cli/main.ts";
import { loadedModules } from "./loaded-modules.ts";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";

const homes: TauHome[] = [];
afterAll(() => homes.forEach((h) => h.cleanup()));

/** The command modules: what the table in main.ts loads (`(await import("./x.ts")).registerX`). */
const COMMAND_MODULES = [...fs.readFileSync("src/cli/main.ts", "utf8").matchAll(/import\("\.\/([a-z-]+)\.ts"\)\)\.register/g)].map(
  (m) => `src/cli/${m[1]}.ts`,
);
const commandModules = (mods: string[]) => [...new Set(mods.filter((m) => COMMAND_MODULES.includes(m)))].sort();

describe("lazy command loading", () => {
  it("tau --help lists every command from the table and loads no command module", () => {
    const r = loadedModules(["--help"]);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toContain(`  ${c.name}`);
    expect(r.modules).toContain("src/cli/main.ts");
    expect(commandModules(r.modules)).toEqual([]);
    expect(r.modules.filter((m) => m.startsWith("src/app/") && m !== "src/app/package-info.ts")).toEqual([]);
  });

  it("tau --version prints the package version and loads no command module", () => {
    const version = (JSON.parse(fs.readFileSync("package.json", "utf8")) as { version: string }).version;
    const r = loadedModules(["--version"]);
    expect(r).toMatchObject({ code: 0, stdout: `${version}\n` });
    expect(r.modules).toContain("src/cli/main.ts");
    expect(commandModules(r.modules)).toEqual([]);
  });

  it("tau health loads the health command's module and none of the other commands'", () => {
    const home = makeTauHome();
    homes.push(home);
    home.open().close();
    const r = loadedModules(["--state-dir", home.stateDir, "--config", home.configPath, "health", "--json"]);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: expect.any(String) });
    expect(COMMAND_MODULES.length).toBeGreaterThan(20);
    expect(commandModules(r.modules)).toEqual(["src/cli/observe.ts"]);
  });
});

describe("the command table", () => {
  it("names every command the modules register, with the same arguments, and nothing else", async () => {
    const program = await buildProgram();
    const term = (c: Command) =>
      c.registeredArguments
        .map((a) => (a.required ? `<${a.name()}${a.variadic ? "..." : ""}>` : `[${a.name()}${a.variadic ? "..." : ""}]`))
        .join(" ");
    const registered = program.commands.map((c) => ({ name: c.name(), args: term(c) }));
    const table = COMMANDS.map((c) => ({ name: c.name, args: c.args ?? "" }));
    expect(registered.sort((a, b) => a.name.localeCompare(b.name))).toEqual(table.sort((a, b) => a.name.localeCompare(b.name)));
  });

  it("with argv, registers the invoked command for real and every other as a stub", async () => {
    const program = await buildProgram(["node", "tau", "--state-dir", "/x", "backup", "f.db"]);
    const backup = program.commands.find((c) => c.name() === "backup")!;
    expect(backup.options.map((o) => o.long)).toEqual(["--force", "--json"]);
    // observe registers four commands: none of them is loaded for `backup`.
    expect(program.commands.find((c) => c.name() === "health")!.options).toEqual([]);
    expect(program.commands.map((c) => c.name()).sort()).toEqual(COMMANDS.map((c) => c.name).sort());
  });

  it("finds the command word past global options and their values, and after `help`", () => {
    const p = (...a: string[]) => ["node", "tau", ...a];
    expect(invokedCommand({ options: [] } as unknown as Command, p("health"))).toBe("health");
    const cmd = {
      options: [
        { long: "--state-dir", required: true },
        { long: "--config", required: true },
        { long: "--version", short: "-V" },
      ],
    };
    const c = cmd as unknown as Command;
    expect(invokedCommand(c, p("--state-dir", "process", "health"))).toBe("health");
    expect(invokedCommand(c, p("--config=x.yaml", "status", "--json"))).toBe("status");
    expect(invokedCommand(c, p("help", "channel"))).toBe("channel");
    expect(invokedCommand(c, p("-V"))).toBeUndefined();
  });
});
