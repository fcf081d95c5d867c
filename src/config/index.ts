/** @module Configuration: schema, loading, environment. */
export {
  TauConfigSchema,
  BUILTIN_RESPONDERS,
  LLM_BASE_URLS,
  apiKeySecretOf,
  SEVERITIES,
  type AlertTarget,
  type Severity,
  type TauConfig,
  type ResponderConfig,
  type LlmResponderConfig,
  type WebhookResponderConfig,
} from "./schema.ts";
export { loadConfig, type LoadedConfig } from "./load.ts";
export { loadYamlFile, parseYamlWith } from "./load-yaml.ts";
export {
  readProcessEnv,
  listEnvOverrides,
  applyEnvOverrides,
  knownTauEnv,
  unknownTauEnv,
  SECRET_ENV,
  type Env,
  type SecretId,
} from "./env.ts";
export { closest, levenshtein, keysAt } from "./did-you-mean.ts";
export { type ConfigProblem } from "./load-yaml.ts";
export { fileCursorKey, nodeIdOf, runnerStateKey } from "./node-id.ts";
export { MediaSchema, transcriptionModelOf, type MediaConfig } from "./media-schema.ts";
