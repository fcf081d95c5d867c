/**
 * No secret anywhere (issue 13 §7): a full operator scenario — init, provider tokens stored with `tau secrets set`,
 * ingest, process in dry-run and channel-store, an online probe that reads the stored Telegram token, traces, events,
 * audit, export, an incident bundle — then every file in the home (the raw tau.db and its WAL included) and everything
 * printed (stdout, and stderr where the debug logs go) is searched for each secret value and its base64. None is found.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTau, type TauRun } from "../helpers/run-tau.ts";
import { startTelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";

const SECRETS: Record<string, string> = {
  "telegram-bot-token": "6112:AAH-scenario-TG-token-1f2e3d",
  "discord-bot-token": "MTEw.scenario-DC-token.9x8y7z",
  "whatsapp-access-token": "EAAG-scenario-WA-token-55aa",
  "resend-api-key": "re_scenario_RS_key_0c0ffee",
  "twilio-auth-token": "scenario-TW-auth-8d7c6b5a",
  "openai-api-key": "sk-scenario-OA-key-4242",
  "smtp-password": "scenario-SMTP-pw-!#%",
  "caldav-password": "scenario-CALDAV-pw-ZZ",
};

let home = "";
const outputs: { args: string; out: TauRun }[] = [];
let closeServer: (() => Promise<void>) | null = null;

beforeAll(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "tau-secret-scenario-"));
  const tg = await startTelegramBotApiServer({ token: SECRETS["telegram-bot-token"], botUser: { username: "tau_ops_bot" } });
  closeServer = () => tg.close();
  const env = { TAU_LOG_LEVEL: "debug", TAU_TELEGRAM_API_ROOT: tg.url };
  const tau = async (args: string[], opts: { input?: string; env?: Record<string, string> } = {}) => {
    const out = await runTau(args, { cwd: home, input: opts.input, env: { ...env, ...opts.env } });
    outputs.push({ args: args.join(" "), out });
    return out;
  };
  const init = await tau([
    "init",
    "--dir",
    home,
    "--telegram-bot-id",
    "6112",
    "--telegram-username",
    "tau_ops_bot",
    "--discord-user-id",
    "1100000000000000001",
    "--whatsapp-phone-number-id",
    "106540352242922",
  ]);
  expect(init.code).toBe(0);
  for (const [id, value] of Object.entries(SECRETS)) expect((await tau(["secrets", "set", id], { input: value })).code).toBe(0);
  const fx = (f: string) => path.resolve("fixtures/raw", f);
  expect((await tau(["ingest", fx("telegram/private-text.json"), "--transport", "telegram"])).code).toBe(0);
  expect((await tau(["process", "--once", "--json"])).code).toBe(0); // dry-run: state/outbox/dry-run.ndjson
  expect((await tau(["ingest", fx("discord/dm.json"), "--transport", "discord"])).code).toBe(0);
  expect((await tau(["ingest", fx("whatsapp/text.json"), "--transport", "whatsapp"])).code).toBe(0);
  expect((await tau(["process", "--once", "--json"], { env: { TAU_OUTBOUND_MODE: "channel-store" } })).code).toBe(0);
  // Reads the stored Telegram token through the decrypting method and calls getMe with it.
  const probe = await tau(["channel", "probe", "telegram", "--online", "--json"]);
  expect(probe.stdout).toContain("tau_ops_bot");
  await tau(["preflight", "--json"], { env: { TAU_CONNECTORS_TELEGRAM_MODE: "polling" } });
  await tau(["cap", "run", "communications.auth.status", "--json"]);
  await tau(["secrets", "list", "--json"]);
  await tau(["traces", "--json", "--limit", "20"]);
  await tau(["events", "--json"]);
  await tau(["audit", "list", "--json"]);
  expect((await tau(["export", "--since", "1h", "--out", path.join(home, "export")])).code).toBe(0);
  await tau(["export", "--since", "1h", "--ndjson"]);
  const bundle = await tau(["cap", "run", "communications.alerts.incident.bundle.create", "--write", "--yes", "--json"]);
  expect(bundle.stdout).toContain("incident_bundle_written");
  await tau(["secrets", "rotate-key", "--json"]);
}, 600_000);

afterAll(async () => {
  await closeServer?.();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

/** Every file under the home: state (tau.db, WAL, ingress, outbox, incidents, key file), policies, export. */
function homeFiles(): { file: string; bytes: Buffer }[] {
  return fs
    .readdirSync(home, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => ({ file: path.join(e.parentPath, e.name), bytes: fs.readFileSync(path.join(e.parentPath, e.name)) }));
}

const needles = Object.entries(SECRETS).flatMap(([id, v]) => [
  { id, form: "value", bytes: Buffer.from(v) },
  { id, form: "base64", bytes: Buffer.from(Buffer.from(v).toString("base64")) },
]);

describe("after a full scenario, no secret is found", () => {
  it("the scenario produced what is searched: database, dry-run outbox, ingress, export, an incident bundle, logs", () => {
    const rel = homeFiles().map((f) => path.relative(home, f.file));
    expect(rel).toEqual(
      expect.arrayContaining([
        "state/tau.db",
        "state/secrets.key",
        "state/outbox/dry-run.ndjson",
        "state/ingress/telegram.ndjson",
        "export/traces.ndjson",
        "export/audit.ndjson",
      ]),
    );
    expect(rel.some((f) => /^state\/incidents\/BUNDLE-.*\.json$/.test(f))).toBe(true);
    expect(outputs.some((o) => o.out.stderr.includes('"level"'))).toBe(true); // debug logs were written and are searched
    expect(fs.readFileSync(path.join(home, "export/audit.ndjson"), "utf8")).toContain("secret.set");
  });

  it("in no file of the home, the raw tau.db bytes included", () => {
    const hits = homeFiles().flatMap((f) => needles.filter((n) => f.bytes.includes(n.bytes)).map((n) => `${f.file}: ${n.id} (${n.form})`));
    expect(hits).toEqual([]);
  });

  it("in nothing any command printed: stdout, stderr and logs", () => {
    const hits = outputs.flatMap((o) =>
      needles
        .filter((n) => o.out.stdout.includes(n.bytes.toString()) || o.out.stderr.includes(n.bytes.toString()))
        .map((n) => `tau ${o.args}: ${n.id} (${n.form})`),
    );
    expect(hits).toEqual([]);
  });
});
