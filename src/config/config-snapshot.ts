/**
 * @module Every configuration file tau runs on, as one snapshot: the policy files, the communications contracts
 * (`policies/communications/*`) and tau.yaml, each part validated on its own. `tau policy apply` records a snapshot
 * as a version, `tau policy rollback` writes the previous one back, and the policy manager keeps the parts that
 * validate as the last known good. Keys are paths relative to the policies folder; tau.yaml is `tau.yaml`.
 */
import fs from "node:fs";
import path from "node:path";
import { describeError } from "../contracts/errors.ts";
import { parseYamlWith } from "./load-yaml.ts";
import { loadPolicySet, POLICY_FILES, readPolicySource } from "./policy-set.ts";
import { TauConfigSchema } from "./schema.ts";

/** Where the files are, which features are on, and how to validate what this layer cannot (communications). */
export interface SnapshotOptions {
  policiesDir: string;
  /** Absolute tau.yaml path, or null when running on defaults. */
  configFile: string | null;
  features: { route_bindings: boolean; rbac: boolean; communications: boolean };
  /** Validate the contracts in a folder (throws a ConfigError naming file and line); supplied by the composition. */
  validateComms?: (commsDir: string) => void;
}

export interface SnapshotPart {
  name: "policies" | "communications" | "tau.yaml";
  /** Relative path → text ("" = absent). */
  files: Record<string, string>;
  /** Why this part does not validate, or null. */
  error: string | null;
}

export interface ConfigSnapshot {
  parts: SnapshotPart[];
}

/** The key tau.yaml has in a snapshot. */
export const TAU_YAML_KEY = "tau.yaml";

const COMMS_SUBDIR = "communications";

function tryRead(file: string): string | null {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** Read and validate every part. */
export function readConfigSnapshot(o: SnapshotOptions): ConfigSnapshot {
  const parts: SnapshotPart[] = [];
  const pol: Record<string, string> = {};
  for (const name of Object.values(POLICY_FILES)) {
    const src = readPolicySource(o.policiesDir, name);
    pol[src ? path.basename(src.file) : name] = src?.text ?? "";
  }
  let polError: string | null = null;
  try {
    const set = loadPolicySet(o.policiesDir, o.features);
    if (set.missing.length) polError = `required policy file missing: ${set.missing.join(", ")}`;
  } catch (err) {
    polError = describeError(err);
  }
  parts.push({ name: "policies", files: pol, error: polError });

  if (o.features.communications) {
    const dir = path.join(o.policiesDir, COMMS_SUBDIR);
    const files: Record<string, string> = {};
    if (fs.existsSync(dir))
      for (const name of fs.readdirSync(dir).sort())
        if (/\.(ya?ml|json)$/.test(name) && fs.statSync(path.join(dir, name)).isFile())
          files[`${COMMS_SUBDIR}/${name}`] = fs.readFileSync(path.join(dir, name), "utf8");
    let error: string | null = null;
    try {
      o.validateComms?.(dir);
    } catch (err) {
      error = describeError(err);
    }
    parts.push({ name: "communications", files, error });
  }

  if (o.configFile) {
    const text = tryRead(o.configFile);
    let error: string | null = text === null ? `${o.configFile}: missing` : null;
    if (text !== null)
      try {
        parseYamlWith(text, o.configFile, TauConfigSchema);
      } catch (err) {
        error = describeError(err);
      }
    parts.push({ name: "tau.yaml", files: { [TAU_YAML_KEY]: text ?? "" }, error });
  }
  return { parts };
}

/** All files of a snapshot, by key. */
export function snapshotFiles(s: ConfigSnapshot): Record<string, string> {
  return Object.assign({}, ...s.parts.map((p) => p.files)) as Record<string, string>;
}

/**
 * Write files back (rollback): each key to its place, "" removing the file. Communications contracts present now but
 * not in `files` are left alone only when `files` has no communications key at all (an older version without them).
 */
export function writeConfigFiles(o: Pick<SnapshotOptions, "policiesDir" | "configFile">, files: Record<string, string>): string[] {
  const written: string[] = [];
  const place = (key: string) => (key === TAU_YAML_KEY ? o.configFile : path.join(o.policiesDir, key));
  const hasComms = Object.keys(files).some((k) => k.startsWith(`${COMMS_SUBDIR}/`));
  if (hasComms) {
    const dir = path.join(o.policiesDir, COMMS_SUBDIR);
    if (fs.existsSync(dir))
      for (const name of fs.readdirSync(dir))
        if (/\.(ya?ml|json)$/.test(name) && !Object.hasOwn(files, `${COMMS_SUBDIR}/${name}`)) {
          fs.rmSync(path.join(dir, name), { force: true });
          written.push(`${COMMS_SUBDIR}/${name}`);
        }
  }
  for (const [key, text] of Object.entries(files)) {
    const file = place(key);
    if (!file) continue;
    if (text === "") fs.rmSync(file, { force: true });
    else {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text, { mode: 0o600 });
    }
    written.push(key);
  }
  return written;
}
