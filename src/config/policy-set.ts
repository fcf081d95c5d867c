/**
 * @module Load `policies/channel-policy.yaml`, `route-bindings.yaml` and `rbac.yaml` (JSON accepted) into one
 * validated, compiled policy set with a content hash. A missing file means that file's secure default.
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

export interface PolicySet {
  channel: ChannelPolicyFile;
  bindings: RouteBindingsFile;
  routes: CompiledRoutes;
  rbac: RbacFile;
  /** File name → exact contents ("" when absent), kept so a known-good set can be restored. */
  sources: Record<string, string>;
  sha256: string;
}

/** Read a policy file, accepting `.json` next to the `.yaml` name. */
function readSource(dir: string, name: string): { file: string; text: string } {
  for (const candidate of [name, name.replace(/\.yaml$/, ".json")]) {
    const file = path.join(dir, candidate);
    try {
      return { file, text: fs.readFileSync(file, "utf8") };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  return { file: path.join(dir, name), text: "" };
}

/** Build a policy set from file contents (empty text = defaults). Throws ConfigError naming the file and line. */
export function policySetFromSources(dir: string, sources: Record<string, string>): PolicySet {
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
  return { channel, bindings, routes: compileRouteBindings(bindings.bindings), rbac, sources, sha256 };
}

/** Load the policy set from a folder. */
export function loadPolicySet(dir: string): PolicySet {
  const sources: Record<string, string> = {};
  for (const name of Object.values(POLICY_FILES)) sources[name] = readSource(dir, name).text;
  return policySetFromSources(dir, sources);
}
