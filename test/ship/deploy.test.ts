/**
 * The deployment recipes: the systemd unit passes `systemd-analyze verify` without a warning and scores as hardened
 * in `systemd-analyze security`; the container image builds and runs where a Docker engine is available; the
 * compose file and Caddyfile parse. (.ci/run installs systemd's tools when they are missing.)
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { knownTauEnv } from "../../src/config/env.ts";
import { TauConfigSchema } from "../../src/config/schema.ts";

const UNIT = path.resolve("deploy/systemd/tau.service");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tau-deploy-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const dockerEngine = has("docker") && spawnSync("docker", ["info"], { timeout: 20_000 }).status === 0;

/**
 * The unit with its ExecStart binary pointed at this checkout's bin/tau.js: verify checks that the binary exists, and
 * /usr/local/bin/tau (where `npm install -g` puts it, docs/DEPLOY.md) does not on a build machine.
 */
function unitHere(text = fs.readFileSync(UNIT, "utf8")): string {
  expect(text).toContain("ExecStart=/usr/local/bin/tau ");
  const file = path.join(tmp, "tau.service");
  fs.writeFileSync(file, text.replace("ExecStart=/usr/local/bin/tau ", `ExecStart=${path.resolve("bin/tau.js")} `));
  return file;
}

describe("deploy/systemd/tau.service", () => {
  // CI installs systemd's tools (.ci/run); elsewhere the check runs where they exist.
  const run = has("systemd-analyze") || process.env.CI !== undefined;

  it.runIf(run)("passes systemd-analyze verify with no warning", () => {
    const r = spawnSync("systemd-analyze", ["verify", unitHere()], { encoding: "utf8", timeout: 60_000 });
    expect({ status: r.status, stderr: r.stderr.trim() }).toEqual({ status: 0, stderr: "" });
  });

  it.runIf(run)("verify does report a mistake (the check above can fail)", () => {
    const broken = unitHere(fs.readFileSync(UNIT, "utf8").replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"));
    const r = spawnSync("systemd-analyze", ["verify", broken], { encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toContain("Unknown key 'NoNewPrivilege'");
  });

  it.runIf(run)("is hardened: systemd-analyze security rates its exposure at most 2.0 (OK)", () => {
    const r = spawnSync("systemd-analyze", ["security", "--offline=true", "--threshold=20", unitHere()], {
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.stdout).toContain("Overall exposure level for tau.service");
    expect(r.status).toBe(0);
  });
});

describe("deploy/Dockerfile and compose.yaml", () => {
  it("compose.yaml parses: tau with its state volume and config mount, Caddy in front on 80/443", () => {
    const c = parse(fs.readFileSync("deploy/compose.yaml", "utf8")) as {
      services: Record<string, { volumes?: string[]; ports?: string[]; build?: { dockerfile: string } }>;
      volumes: Record<string, unknown>;
    };
    expect(Object.keys(c.services).sort()).toEqual(["caddy", "tau"]);
    expect(c.services.tau!.build!.dockerfile).toBe("deploy/Dockerfile");
    expect(c.services.tau!.volumes).toEqual(["tau-state:/var/lib/tau", "./tau:/etc/tau:ro"]);
    expect(c.services.caddy!.ports).toEqual(expect.arrayContaining(["80:80", "443:443"]));
    expect(Object.keys(c.volumes)).toContain("tau-state");
  });

  it.runIf(has("caddy"))("the Caddyfile is valid for Caddy", () => {
    const r = spawnSync("caddy", ["adapt", "--config", "deploy/Caddyfile", "--adapter", "caddyfile"], {
      encoding: "utf8",
      env: { ...process.env, TAU_DOMAIN: "bot.example.org" },
      timeout: 60_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("tau:8788");
  });

  // No Docker engine on the CI machines of this project (the client alone answers): the build runs where one is.
  it.runIf(dockerEngine)(
    "the image builds, runs `tau --version` as a non-root user, and has a HEALTHCHECK",
    () => {
      const build = spawnSync("docker", ["build", "-f", "deploy/Dockerfile", "-t", "tau:test", "."], {
        encoding: "utf8",
        timeout: 1_200_000,
      });
      expect(build.status, build.stderr).toBe(0);
      const version = (JSON.parse(fs.readFileSync("package.json", "utf8")) as { version: string }).version;
      const run = spawnSync("docker", ["run", "--rm", "tau:test", "--version"], { encoding: "utf8", timeout: 120_000 });
      expect(run.stdout).toBe(`${version}\n`);
      const user = spawnSync("docker", ["run", "--rm", "--entrypoint", "id", "tau:test", "-u"], { encoding: "utf8", timeout: 120_000 });
      expect(user.stdout.trim()).not.toBe("0");
      const inspect = spawnSync("docker", ["inspect", "--format", "{{json .Config.Healthcheck.Test}}", "tau:test"], { encoding: "utf8" });
      expect(inspect.stdout).toContain("health");
    },
    1_500_000,
  );
});

describe("deploy/cluster: PostgreSQL, NATS JetStream, two tau nodes and Caddy", () => {
  it("compose.yaml parses: two nodes with their own state volumes on one PostgreSQL and one NATS, Caddy in front", () => {
    const c = parse(fs.readFileSync("deploy/cluster/compose.yaml", "utf8"), { merge: true }) as {
      services: Record<string, { environment?: Record<string, string>; volumes?: string[]; command?: string[]; ports?: string[] }>;
      volumes: Record<string, unknown>;
    };
    expect(Object.keys(c.services).sort()).toEqual(["caddy", "nats", "postgres", "tau-a", "tau-b"]);
    for (const [node, id] of [
      ["tau-a", "tau-a"],
      ["tau-b", "tau-b"],
    ] as const) {
      const env = c.services[node]!.environment!;
      expect(env).toMatchObject({ TAU_STORE_DRIVER: "postgres", TAU_INGRESS_DRIVER: "nats", TAU_CLUSTER_NODE_ID: id });
      expect(env.TAU_DATABASE_URL).toMatch(/^postgres:\/\/tau:.*@postgres:5432\/tau$/);
      expect(c.services[node]!.volumes).toEqual([`${node}-state:/var/lib/tau`, "../tau:/etc/tau:ro"]);
    }
    expect(c.services.nats!.command).toEqual(expect.arrayContaining(["-js", "-sd", "/data"]));
    expect(c.services.caddy!.ports).toEqual(expect.arrayContaining(["80:80", "443:443"]));
    // Every setting the nodes are given is one tau reads (a misspelt TAU_* is otherwise silently ignored).
    const known = new Set(knownTauEnv(TauConfigSchema));
    const unknown = Object.keys(c.services["tau-a"]!.environment!).filter((k) => k.startsWith("TAU_") && !known.has(k));
    expect(unknown).toEqual([]);
  });

  it.runIf(has("caddy"))("the cluster Caddyfile is valid for Caddy and balances over both nodes", () => {
    const r = spawnSync("caddy", ["adapt", "--config", "deploy/cluster/Caddyfile", "--adapter", "caddyfile"], {
      encoding: "utf8",
      env: { ...process.env, TAU_DOMAIN: "bot.example.org" },
      timeout: 60_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("tau-a:8788");
    expect(r.stdout).toContain("tau-b:8788");
  });
});
