/** @module `tau init`: write a starter tau.yaml and policies/ with secure defaults (never overwriting without --force). */
import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { TauError } from "../contracts/errors.ts";
import { STARTER_FILES } from "./starter-files.ts";
import { globals } from "./context.ts";
import { emit } from "./output.ts";

export function registerInit(program: Command): void {
  program
    .command("init")
    .description("write a starter tau.yaml and policies/ with secure defaults")
    .option("--dir <dir>", "where to write", ".")
    .option("--force", "overwrite existing files")
    .option("--json", "machine-readable")
    .action((o: { dir: string; force?: boolean }, cmd: Command) => {
      const dir = path.resolve(o.dir);
      const existing = Object.keys(STARTER_FILES).filter((f) => fs.existsSync(path.join(dir, f)));
      if (existing.length > 0 && !o.force) {
        throw new TauError("USAGE_INIT_EXISTS", `refusing to overwrite ${existing.join(", ")} in ${dir}`, {
          hint: "pass --force to overwrite, or --dir to write elsewhere",
        });
      }
      const written: string[] = [];
      for (const [rel, text] of Object.entries(STARTER_FILES)) {
        const file = path.join(dir, rel);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, text, { mode: 0o600 });
        written.push(rel);
      }
      emit(
        globals(cmd).json,
        { dir, written },
        () =>
          `wrote ${written.join(", ")} in ${dir}\nnext: put secrets in the environment (TAU_TELEGRAM_BOT_TOKEN, …) or \`tau secrets set <id>\`, then \`tau preflight\``,
      );
    });
}
