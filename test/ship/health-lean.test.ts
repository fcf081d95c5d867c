/**
 * Start-up of `tau health` and `tau ingest` (issue 13: `tau health` within 3× of `node -e 0`; a 1 GB ingest in ≤ 100 MB,
 * whose floor is what a one-line ingest loads): they load what they run, not the composition root. `tau health` loads
 * the capability registry (every capability module) only when some responder lists `tools`, the one check that needs
 * it — and its verdict is the service's (`healthFor`, as `/healthz` judges) either way. Modules are read from a
 * module-loader hook in the real `bin/tau.js` child, compiled or from the sources alike.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { healthFor } from "../../src/app/index.ts";
import { loadedModules } from "./loaded-modules.ts";
import { makeTauHome, OPEN_CHANNEL_POLICY, type TauHome } from "../helpers/tau-home.ts";

const homes: TauHome[] = [];
afterAll(() => homes.forEach((h) => h.cleanup()));

/** What neither `tau health` (without responder tools) nor `tau ingest` needs: the composition root and the runtime. */
const HEAVY = [
  /^src\/app\/(index|registry|services|pipeline|runner|connectors-runtime|provider-ports|http-runtime)\.ts$/,
  /^src\/capabilities\/registry\.ts$/,
  /^src\/capabilities\/(core|killswitch|mail|email|sms|alerts)\//,
  /^src\/(router|outbound|runner|commands|media)\//,
  /^src\/responders\/(?!check-config\.ts$)/,
];
const heavy = (modules: string[]) => modules.filter((m) => HEAVY.some((re) => re.test(m)));

function home(extraYaml: string): TauHome {
  const h = makeTauHome(extraYaml, {
    "channel-policy.yaml": OPEN_CHANNEL_POLICY,
    "route-bindings.yaml": "schema_version: 1\nbindings: []\n",
    "rbac.yaml": "schema_version: 1\nadmins: []\n",
  });
  homes.push(h);
  h.open().close();
  return h;
}

/** The service's verdict over the same state (`healthFor`: the capability registry built in full). */
function serviceVerdict(h: TauHome): { state: string; reason_codes: string[] } {
  const app = h.open();
  try {
    const v = healthFor(app);
    return { state: v.state, reason_codes: v.reason_codes };
  } finally {
    app.close();
  }
}

const g = (h: TauHome) => ["--state-dir", h.stateDir, "--config", h.configPath];

describe("tau health loads what its verdict needs", () => {
  it("without responder tools: no capability registry, connector, router or runtime module — and the service's verdict", () => {
    const h = home("responders:\n  helper:\n    kind: llm\n    provider: openai\n    model: gpt-test\n");
    const r = loadedModules([...g(h), "health", "--json"]);
    const cli = JSON.parse(r.stdout) as { state: string; reason_codes: string[] };
    expect({ state: cli.state, reason_codes: cli.reason_codes }).toEqual(serviceVerdict(h));
    expect(r.modules).toContain("src/app/health-verdict.ts");
    expect(heavy(r.modules)).toEqual([]);
    expect(r.modules.filter((m) => m.startsWith("connectors/"))).toEqual([]);
  });

  it("with responder tools: loads the registry to check them and reports an unknown tool as the service does", () => {
    const h = home(
      "responders:\n  assistant:\n    kind: llm\n    provider: openai\n    model: gpt-test\n    tools: [no.such.capability]\n",
    );
    const r = loadedModules([...g(h), "health", "--json"]);
    const cli = JSON.parse(r.stdout) as { state: string; reason_codes: string[] };
    expect(cli.reason_codes).toContain("responder_misconfigured:assistant");
    expect({ state: cli.state, reason_codes: cli.reason_codes }).toEqual(serviceVerdict(h));
    expect(r.modules).toContain("src/app/registry.ts");
  });

  it("a known tool is no finding, in the CLI as in the service", () => {
    const h = home(
      "responders:\n  assistant:\n    kind: llm\n    provider: openai\n    model: gpt-test\n    tools: [tau.allowlist.list]\n",
    );
    const r = loadedModules([...g(h), "health", "--json"]);
    const cli = JSON.parse(r.stdout) as { state: string; reason_codes: string[] };
    expect(cli.reason_codes.filter((c) => c.startsWith("responder_misconfigured"))).toEqual([]);
    expect({ state: cli.state, reason_codes: cli.reason_codes }).toEqual(serviceVerdict(h));
  });
});

describe("tau ingest loads what it runs", () => {
  it("a one-line file: the normalizers and the writer, not the composition root or the runtime", () => {
    const h = home("");
    const file = path.join(h.dir, "one.ndjson");
    fs.writeFileSync(file, fs.readFileSync("fixtures/raw/telegram/private-text.json", "utf8").replace(/\n/g, " ") + "\n");
    const r = loadedModules([...g(h), "ingest", file, "--transport", "telegram", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ accepted: 1 });
    expect(r.modules).toContain("src/ingress/writer.ts");
    expect(heavy(r.modules)).toEqual([]);
  });
});
