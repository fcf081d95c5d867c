/**
 * @module Test child: the `tau` CLI with the connector and run command groups registered even if
 * src/cli/main.ts does not register them yet (skipped when it does). Run as `node --import tsx <this> …args`.
 */
import { buildProgram } from "../../src/cli/main.ts";
import { registerConnectors } from "../../src/cli/connectors.ts";
import { registerRun } from "../../src/cli/run.ts";
import { reportError } from "../../src/cli/output.ts";

const program = await buildProgram();
if (!program.commands.some((c) => c.name() === "connectors")) registerConnectors(program);
if (!program.commands.some((c) => c.name() === "run")) registerRun(program);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportError(err, process.argv.includes("--json"));
}
