import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { completionScript } from "../../src/cli/completion.ts";
import { buildProgram, COMMANDS } from "../../src/cli/main.ts";
import { runTau } from "../helpers/run-tau.ts";

/** What bash completes for the words typed so far (the last one is being completed), with the real script. */
function bashComplete(script: string, words: string[]): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-completion-"));
  const file = path.join(dir, "tau.bash");
  fs.writeFileSync(file, script);
  const arr = words.map((w) => `'${w}'`).join(" ");
  const r = spawnSync(
    "bash",
    ["-c", `source '${file}'; COMP_WORDS=(tau ${arr}); COMP_CWORD=${words.length}; _tau; printf '%s\\n' "\${COMPREPLY[@]}"`],
    {
      encoding: "utf8",
    },
  );
  fs.rmSync(dir, { recursive: true, force: true });
  expect(r.stderr).toBe("");
  return r.stdout.split("\n").filter(Boolean);
}

describe("tau completion", { timeout: 60_000 }, () => {
  it("bash completes commands, subcommands and options from the program tree", async () => {
    const script = completionScript(await buildProgram(), "bash");
    const top = bashComplete(script, [""]);
    for (const c of COMMANDS) expect(top, c.name).toContain(c.name);
    expect(top).toEqual(expect.arrayContaining(["doctor", "logs", "completion", "config", "--state-dir", "--config", "--log-format"]));
    expect(bashComplete(script, ["channel", ""])).toEqual(["login", "logout", "status", "probe", "help", "--help"]);
    expect(bashComplete(script, ["ch"])).toEqual(["channel"]);
    expect(bashComplete(script, ["--state-dir", "/tmp/x", "events", "--"])).toEqual([
      "--since",
      "--limit",
      "--follow",
      "--json",
      "--ndjson",
      "--help",
    ]);
    expect(bashComplete(script, ["connectors", "run", "--o"])).toEqual(["--once"]);
    expect(bashComplete(script, ["config", ""])).toEqual(["show", "help", "--help"]);
  });

  it("zsh and fish scripts carry the same tree (subcommands per path, options with descriptions)", async () => {
    const program = await buildProgram();
    const zsh = completionScript(program, "zsh");
    expect(zsh.startsWith("#compdef tau\n")).toBe(true);
    expect(zsh).toContain(`    'channel') print -l -- 'login' 'logout' 'status' 'probe' 'help' ;;`);
    expect(zsh).toContain(`    'doctor') print -l -- '--online:also probe the providers with the credentials' `);
    expect(zsh).toContain("compdef _tau tau");
    const fish = completionScript(program, "fish");
    expect(fish).toContain(`complete -c tau -n '__tau_is \\'channel\\'' -a 'login' -d `);
    expect(fish).toContain(`complete -c tau -n '__tau_is \\'events\\'' -l since -r -d `);
    expect(fish).toContain(`complete -c tau -n '__tau_is \\'doctor\\'' -l json -d `);
  });

  it("the executable prints the whole tree (not the help stubs) and refuses an unknown shell with exit 2", async () => {
    const r = await runTau(["completion", "bash"]);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith("# bash completion for tau")).toBe(true);
    expect(r.stdout).toContain(`'channel') echo 'login logout status probe help' ;;`);
    const bad = await runTau(["completion", "tcsh"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('USAGE_SHELL: unknown shell "tcsh"');
  });
});
