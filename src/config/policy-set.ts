/**
 * @module Load `policies/channel-policy.yaml`, `route-bindings.yaml` and `rbac.yaml` (JSON accepted) into one
 * validated, compiled policy set with a content hash. A file whose feature is on (tau.yaml `features`; the channel
 * policy always) is required: when it is missing the set still loads on that file's secure default, and says so in
 * `missing`, which `tau policy check` reports as an error and health as `policy_file_missing:<file>`.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import {
  ChannelPolicyFileSchema,
  RbacFileSchema,
  RouteBindingsFileSchema,
  type ChannelPolicyFile,
  type RbacFile,
  type RouteBindingsFile,
} from "../contracts/policy.ts";
import { compileRouteBindings, type CompiledRoutes } from "../policy/index.ts";
import { parseYamlWith } from "./load-yaml.ts";

export const POLICY_FILES = {
  channel: "channel-policy.yaml",
  routes: "route-bindings.yaml",
  rbac: "rbac.yaml",
} as const;

/** Which policy files are turned on (tau.yaml `features`); the channel policy is always on. */
export interface PolicyFeatures {
  route_bindings: boolean;
  rbac: boolean;
}

/** Every feature on: what `tau.yaml` defaults to. */
export const ALL_POLICY_FEATURES: PolicyFeatures = { route_bindings: true, rbac: true };

/** The policy files a feature set requires, in a stable order. */
export function requiredPolicyFiles(f: PolicyFeatures): string[] {
  return [POLICY_FILES.channel, ...(f.route_bindings ? [POLICY_FILES.routes] : []), ...(f.rbac ? [POLICY_FILES.rbac] : [])];
}

export interface PolicySet {
  channel: ChannelPolicyFile;
  bindings: RouteBindingsFile;
  routes: CompiledRoutes;
  rbac: RbacFile;
  /** File name → exact contents ("" when absent or turned off), kept so a known-good set can be restored. */
  sources: Record<string, string>;
  sha256: string;
  /** Required files that were not there (their secure default is in effect). Empty for a set restored from sources. */
  missing: string[];
}

/** Read a policy file, accepting `.json` next to the `.yaml` name; null when neither exists. */
export function readPolicySource(dir: string, name: string): { file: string; text: string } | null {
  for (const candidate of [name, name.replace(/\.yaml$/, ".json")]) {
    const file = path.join(dir, candidate);
    try {
      return { file, text: fs.readFileSync(file, "utf8") };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  return null;
}

/** Build a policy set from file contents (empty text = defaults). Throws ConfigError naming the file and line. */
export function policySetFromSources(dir: string, sources: Record<string, string>, missing: string[] = []): PolicySet {
  const parse = <T>(name: string, schema: Parameters<typeof parseYamlWith>[2]): T => {
    const text = sources[name] ?? "";
    return parseYamlWith(text.trim() === "" ? "schema_version: 1\n" : text, path.join(dir, name), schema) as T;
  };
  const channel = parse<ChannelPolicyFile>(POLICY_FILES.channel, ChannelPolicyFileSchema);
  const bindings = parse<RouteBindingsFile>(POLICY_FILES.routes, RouteBindingsFileSchema);
  const rbac = parse<RbacFile>(POLICY_FILES.rbac, RbacFileSchema);
  const sha256 = createHash("sha256")
    .update(JSON.stringify(Object.entries(sources).sort()))
    .digest("hex");
  return { channel, bindings, routes: compileRouteBindings(bindings.bindings), rbac, sources, sha256, missing };
}

/** Load the policy set from a folder; files of features that are off are not read. */
export function loadPolicySet(dir: string, features: PolicyFeatures = ALL_POLICY_FEATURES): PolicySet {
  const sources: Record<string, string> = {};
  const missing: string[] = [];
  const required = requiredPolicyFiles(features);
  for (const name of Object.values(POLICY_FILES)) {
    if (!required.includes(name)) {
      sources[name] = "";
      continue;
    }
    const src = readPolicySource(dir, name);
    if (src === null) missing.push(name);
    sources[name] = src?.text ?? "";
  }
  return policySetFromSources(dir, sources, missing);
}
