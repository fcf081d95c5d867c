// Module-loader hook for register.mjs: log each loaded URL, then load it as usual.
import fs from "node:fs";

const out = process.env.TAU_TEST_IMPORT_LOG;

export async function load(url, context, next) {
  if (out) fs.appendFileSync(out, url + "\n");
  return next(url, context);
}
