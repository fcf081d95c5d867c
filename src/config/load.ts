/**
 * @module Load `tau.yaml` (or built-in defaults when the default path is absent), then apply `TAU_*`
 * environment overrides, then validate once.
 */
import fs from "node:fs";
import path from "node:path";
import { ConfigError } from "../contracts/errors.ts";
import { applyEnvOverrides, type Env } from "./env.ts";
import { configErrorOf, ONCE, parseYamlDataWith, problemsOf } from "./load-yaml.ts";
import { TauConfigSchema, type TauConfig } from "./schema.ts";

export interface LoadedConfig {
  config: TauConfig;
  /** Absolute path of the file, or null when running on defaults + environment. */
  file: string | null;
  /** Absolute policies folder. */
  policiesDir: string;
  /** Names of the `TAU_*` variables that overrode a setting. */
  envApplied: string[];
}

const DEFAULT_CONFIG_PATH = "./tau.yaml";

/** Load and validate the configuration. A missing default `./tau.yaml` means built-in defaults; a missing explicit path is an error. */
export function loadConfig(opts: { configPath?: string; env: Env; cwd?: string }): LoadedConfig {
  const cwd = opts.cwd ?? process.cwd();
  const explicit = opts.configPath !== undefined && opts.configPath !== DEFAULT_CONFIG_PATH;
  const file = path.resolve(cwd, opts.configPath ?? DEFAULT_CONFIG_PATH);
  let text = "";
  let present = false;
  try {
    text = fs.readFileSync(file, "utf8");
    present = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT" || explicit) {
      throw new ConfigError(`${file}: cannot read config: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
        file,
        cause: err,
        hint: "run `tau init` to write a starter tau.yaml, or pass --config <path>",
      });
    }
  }
  // Validate the file on its own first, so errors point at the YAML line; then layer the environment. One YAML parse
  // and, without overrides, one validation: the file's validated value is the answer (start-up of every command).
  const parsed = present ? parseYamlDataWith(text, file, TauConfigSchema) : null;
  const raw = (parsed?.data ?? {}) as Record<string, unknown>;
  const envApplied = applyEnvOverrides(raw, TauConfigSchema, opts.env);
  const result = parsed && envApplied.length === 0 ? { success: true as const, data: parsed.value } : TauConfigSchema.safeParse(raw, ONCE);
  if (!result.success) {
    // The file alone validated, so every problem comes from a TAU_* override: name the variable of each.
    const envOf = (field: string) => `TAU_${field.replace(/\./g, "_").toUpperCase()}`;
    const problems = problemsOf(result.error.issues, TauConfigSchema, present ? file : "(environment)", () => ({}), raw).map((p) => ({
      ...p,
      message: `environment override ${envOf(p.field)}: ${p.message}`,
    }));
    const names = [...new Set(problems.map((p) => envOf(p.field)))];
    throw configErrorOf(problems, { hint: `fix or unset ${names.join(", ")}` });
  }
  const configDir = present ? path.dirname(file) : cwd;
  return {
    config: result.data,
    file: present ? file : null,
    policiesDir: path.resolve(configDir, result.data.policies_dir),
    envApplied,
  };
}
