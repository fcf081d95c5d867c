/**
 * @module Test child for the stop-signal guard (src/cli/shutdown.ts): `node --import tsx <this> <mode> <capMs>`.
 * `handled`: the command has its own SIGTERM listener that never finishes stopping (a stuck provider call);
 * `unhandled`: no listener of its own. Prints "ready" once the listeners are in place, then stays alive.
 */
import { guardStopSignals } from "../../src/cli/shutdown.ts";

const [mode, cap] = process.argv.slice(2);
guardStopSignals({ capMs: Number(cap) });
if (mode === "handled") process.once("SIGTERM", () => process.stdout.write("stopping\n"));
setInterval(() => {}, 1000);
process.stdout.write("ready\n");
