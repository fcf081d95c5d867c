/**
 * @module `tau config show [--json]`: the configuration tau runs with — every effective setting with where its value
 * comes from (`default`, `tau.yaml:<line>`, or `env TAU_<PATH>`), and every credential as set / not set with its source
 * (env variable or the integration store), never its value. Secret-looking settings and passwords inside URLs are
 * masked too. Reads state only when it exists; never creates it.
 */
import fs from "node:fs";
import type { Command } from "commander";
import { LineCounter, isNode, parseDocument } from "yaml";
import { openAppReadOnly } from "../app/index.ts";
import { listEnvOverrides, loadConfig, readProcessEnv, SECRET_ENV, TauConfigSchema } from "../config/index.ts";
import { createCredentialReader } from "../lifecycle/index.ts";
import { globals } from "./context.ts";
import { emit, table } from "./output.ts";

/** One effective setting. */
export interface ShownValue {
  path: string;
  value: unknown;
  /** `default`, `tau.yaml:<line>` or `env TAU_<PATH>`. */
  source: string;
}

/** One credential: whether it is set and where, never its value. */
export interface ShownSecret {
  id: string;
  env: string | null;
  state: "set" | "not set" | "unreadable";
  source: "env" | "store" | null;
}

const MASK = "********";
/** Setting names whose values would be secrets (none of tau.yaml's are today; this keeps a future one out of sight). */
const SECRET_KEY = /(^|_)(password|token|api_key|private_key)$/;

/** Leaves of a config object, arrays and empty objects as values. */
function leaves(v: unknown, at: string[] = []): { path: string[]; value: unknown }[] {
  if (v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length > 0)
    return Object.entries(v).flatMap(([k, x]) => leaves(x, [...at, k]));
  return [{ path: at, value: v }];
}

/** A value fit to print: secret-named settings masked, `user:password@` in URLs masked. */
function masked(key: string, value: unknown): unknown {
  if (SECRET_KEY.test(key) && value !== "" && value !== null) return MASK;
  if (typeof value === "string") return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*:)[^/@]*@/i, `$1${MASK}@`);
  return value;
}

export function registerConfigShow(program: Command): void {
  const config = program.command("config").description("the configuration tau runs with");
  config
    .command("show")
    .description(
      "effective settings with their source (default, tau.yaml:line, env TAU_X) and credentials set / not set (values never shown)",
    )
    .option("--json", "one JSON object: { file, values, secrets }")
    .action((_o, cmd: Command) => {
      const g = globals(cmd);
      const env = readProcessEnv();
      const loaded = loadConfig({ configPath: g.config, env });
      // Where each key sits in the file.
      const lc = new LineCounter();
      const doc = loaded.file ? parseDocument(fs.readFileSync(loaded.file, "utf8"), { lineCounter: lc }) : null;
      const lineOf = (p: string[]): number | null => {
        const node = doc?.getIn(p, true);
        return isNode(node) && node.range ? lc.linePos(node.range[0]).line : null;
      };
      const envByPath = new Map(listEnvOverrides(TauConfigSchema).map((o) => [o.path.join("."), o.name]));
      const applied = new Set(loaded.envApplied);
      const values: ShownValue[] = leaves(loaded.config).map(({ path, value }) => {
        const key = path.join(".");
        // The env name of this path or of the record/array setting it sits in (`TAU_ALERTS_SEVERITY`).
        const envName = path.map((_, i) => envByPath.get(path.slice(0, path.length - i).join("."))).find((n) => n && applied.has(n));
        const line = lineOf(path);
        const source = envName ? `env ${envName}` : line !== null ? `tau.yaml:${line}` : "default";
        return { path: key, value: masked(path.at(-1) ?? "", value), source };
      });
      let app: ReturnType<typeof openAppReadOnly> | null = null;
      try {
        app = openAppReadOnly({ stateDir: g.stateDir, configPath: g.config, env });
      } catch {
        app = null; // no state (or unreadable): credentials from the environment only
      }
      try {
        const reader = app ? createCredentialReader(env, app.store.secrets) : null;
        const stored = (() => {
          try {
            return app?.store.secrets.list().map((r) => r.id) ?? [];
          } catch {
            return [];
          }
        })();
        const ids = [...new Set([...Object.keys(SECRET_ENV), ...stored])].sort();
        const secrets: ShownSecret[] = ids.map((id) => {
          const envName = (SECRET_ENV as Record<string, string>)[id] ?? null;
          if (reader) {
            const c = reader.read(id);
            return { id, env: envName, state: c.value ? "set" : c.error ? "unreadable" : "not set", source: c.value ? c.source : null };
          }
          const inEnv = envName !== null && env[envName] !== undefined && env[envName] !== "";
          return { id, env: envName, state: inEnv ? "set" : "not set", source: inEnv ? "env" : null };
        });
        const out = { file: loaded.file, values, secrets };
        emit(g.json, out, () =>
          [
            `# ${loaded.file ?? "no tau.yaml: built-in defaults"}${loaded.envApplied.length ? `; environment: ${loaded.envApplied.join(", ")}` : ""}`,
            table([["setting", "value", "source"], ...values.map((v) => [v.path, JSON.stringify(v.value), v.source])]),
            "",
            "# credentials (values never shown)",
            table([["id", "state", "source"], ...secrets.map((s) => [s.id, s.state, s.source === "env" ? `env ${s.env}` : s.source])]),
          ].join("\n"),
        );
      } finally {
        app?.close();
      }
    });
}
