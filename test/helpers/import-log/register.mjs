// Test helper: `node --import <this> …` appends every module URL the process loads to the file named by
// TAU_TEST_IMPORT_LOG (one per line), through a module-loader hook (hooks.mjs) in Node's loader thread.
import { register } from "node:module";

register("./hooks.mjs", import.meta.url);
