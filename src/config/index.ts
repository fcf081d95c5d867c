/** @module Configuration: schema, loading, environment. */
export { TauConfigSchema, type TauConfig } from "./schema.ts";
export { loadConfig, type LoadedConfig } from "./load.ts";
export { loadYamlFile, parseYamlWith } from "./load-yaml.ts";
export { readProcessEnv, listEnvOverrides, applyEnvOverrides, SECRET_ENV, type Env, type SecretId } from "./env.ts";
