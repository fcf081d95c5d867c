/** @module Configuration: schema, loading, environment. */
export { TauConfigSchema, type TauConfig } from "./schema.ts";
export { loadConfig, DEFAULT_CONFIG_PATH, type LoadedConfig } from "./load.ts";
export { loadYamlFile, parseYamlWith, describeIssue } from "./load-yaml.ts";
export { readProcessEnv, listEnvOverrides, applyEnvOverrides, SECRET_ENV, API_ROOT_ENV, type Env, type SecretId } from "./env.ts";
