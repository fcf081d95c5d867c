/** @module `tau replay <fixture>`: a scenario through the whole pipeline in an isolated temp state, deterministic output. */
import type { Command } from "commander";
import { renderReplay } from "../replay/render-summary.ts";
import { runScenario } from "../replay/run-scenario.ts";
import { globals } from "./context.ts";
import { oneOf, requireInputFile } from "./options.ts";
import { emit } from "./output.ts";

export function registerReplay(program: Command): void {
  program
    .command("replay")
    .description("replay a scenario fixture end to end in a temporary state (dry-run outbound by default)")
    .argument("<fixture...>", "scenario YAML file(s), e.g. fixtures/scenarios/*.yaml")
    .option("--outbound <mode>", "dry-run | channel-store", oneOf(["dry-run", "channel-store"] as const), "dry-run")
    .option("--json", "one JSON array (one result per fixture)")
    .action(async (files: string[], o: { outbound: "dry-run" | "channel-store" }, cmd: Command) => {
      for (const f of files) requireInputFile(f, "replay: fixture");
      const results: Awaited<ReturnType<typeof runScenario>>[] = [];
      for (const f of files) results.push(await runScenario(f, { outbound: o.outbound }));
      emit(globals(cmd).json, results, () => results.map(renderReplay).join("\n\n"));
    });
}
