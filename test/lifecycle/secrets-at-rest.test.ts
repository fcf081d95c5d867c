/**
 * Secrets at rest (issue 13 §7): the integration store is sealed with AES-256-GCM under TAU_SECRETS_KEY or a 0600 key
 * file beside the state; plain-text rows from before are sealed on first open with no copy left in the database files;
 * a wrong key fails closed naming its source; `rotate-key` re-seals atomically; a terminal prompt never echoes.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.ts";
import { runTau } from "../helpers/run-tau.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "tau-secrets-"));
  dirs.push(d);
  return d;
}

/** Every byte of every file under `dir`, as one buffer per file. */
function filesUnder(dir: string): [string, Buffer][] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const p = path.join(e.parentPath, e.name);
      return [p, fs.readFileSync(p)];
    });
}

/** The files under `dir` that contain `value` as UTF-8 or as base64. */
function filesContaining(dir: string, value: string): string[] {
  const needles = [Buffer.from(value), Buffer.from(Buffer.from(value).toString("base64"))];
  return filesUnder(dir)
    .filter(([, bytes]) => needles.some((n) => bytes.includes(n)))
    .map(([p]) => p);
}

const TOKEN = "123456:AAE-sealed-token-Zq9xPLl0";

describe("tau secrets: sealed at rest", () => {
  it("stores a value sealed: no plain text or base64 of it in any state file, key file 0600, list masks it", async () => {
    const state = path.join(tmp(), "state");
    const set = await runTau(["--state-dir", state, "secrets", "set", "telegram-bot-token"], { input: TOKEN });
    expect(set.code).toBe(0);
    expect(set.stdout + set.stderr).not.toContain(TOKEN);
    expect(fs.statSync(path.join(state, "secrets.key")).mode & 0o777).toBe(0o600);
    expect(filesContaining(state, TOKEN)).toEqual([]);

    const list = await runTau(["--state-dir", state, "secrets", "list", "--json"]);
    expect(list.stdout).not.toContain(TOKEN);
    const row = list
      .json<{ id: string; value: string; key_id: string; created_at_ms: number; in_store: boolean }[]>()
      .find((r) => r.id === "telegram-bot-token")!;
    expect(row).toMatchObject({ value: "********", in_store: true });
    expect(row.key_id).toMatch(/^k[0-9a-f]{16}$/);
    expect(row.created_at_ms).toBeGreaterThan(0);

    // The app reads it back through the one decrypting method.
    const store = openStore(state);
    try {
      expect(store.secrets.get("telegram-bot-token")).toBe(TOKEN);
    } finally {
      store.close();
    }
  });

  it("seals plain-text rows from before migration 011 on first open, leaving no plain-text copy in tau.db or its WAL", () => {
    const state = path.join(tmp(), "state");
    openStore(state).close();
    // A database written by an older tau: the value in plain text (key_id NULL), also in the WAL.
    const legacy = new Database(path.join(state, "tau.db"));
    legacy.pragma("journal_mode = WAL");
    legacy.prepare("INSERT INTO secrets (id, value, updated_at_ms) VALUES (?, ?, ?)").run("resend-api-key", "re_legacy_PLAIN_4711", 1000);
    legacy.close();
    expect(filesContaining(state, "re_legacy_PLAIN_4711").length).toBeGreaterThan(0);

    const store = openStore(state);
    try {
      expect(store.secrets.list()).toEqual([
        { id: "resend-api-key", key_id: expect.stringMatching(/^k/), created_at_ms: 1000, updated_at_ms: 1000 },
      ]);
      expect(store.secrets.get("resend-api-key")).toBe("re_legacy_PLAIN_4711");
    } finally {
      store.close();
    }
    expect(filesContaining(state, "re_legacy_PLAIN_4711")).toEqual([]);
  });

  it("fails closed with the key source named when TAU_SECRETS_KEY is wrong or the key file is gone", async () => {
    const state = path.join(tmp(), "state");
    const keyA = randomBytes(32).toString("base64");
    const keyB = randomBytes(32).toString("base64");
    expect(
      (await runTau(["--state-dir", state, "secrets", "set", "discord-bot-token"], { input: "dsc.tok", env: { TAU_SECRETS_KEY: keyA } }))
        .code,
    ).toBe(0);
    expect(fs.existsSync(path.join(state, "secrets.key"))).toBe(false); // the env key is never written down

    const wrong = await runTau(["--state-dir", state, "preflight", "--json"], { env: { TAU_SECRETS_KEY: keyB } });
    const checks = JSON.stringify(wrong.json());
    expect(checks).toContain("credential_store_unreadable");
    expect(checks).toContain("TAU_SECRETS_KEY");
    expect(wrong.stdout).not.toContain("dsc.tok");

    const missing = await runTau(["--state-dir", state, "preflight", "--json"]);
    expect(JSON.stringify(missing.json())).toContain("TAU_SECRETS_KEY (not set)");
    expect(JSON.stringify(missing.json())).toContain(`${path.join(state, "secrets.key")} (absent)`);

    const bad = await runTau(["--state-dir", state, "secrets", "set", "discord-bot-token"], {
      input: "x",
      env: { TAU_SECRETS_KEY: "short" },
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("TAU_SECRETS_KEY is not a secrets key: expected base64 of 32 bytes");
  });

  it("rotate-key re-seals every value under a new key file; the old key no longer opens them", async () => {
    const state = path.join(tmp(), "state");
    await runTau(["--state-dir", state, "secrets", "set", "twilio-auth-token"], { input: "tw-auth-1" });
    await runTau(["--state-dir", state, "secrets", "set", "openai-api-key"], { input: "sk-openai-2" });
    const oldKey = fs.readFileSync(path.join(state, "secrets.key"), "utf8");
    const r = await runTau(["--state-dir", state, "secrets", "rotate-key", "--json"]);
    expect(r.code).toBe(0);
    const rot = r.json<{ resealed: number; from: string[]; to: string }>();
    expect(rot.resealed).toBe(2);
    expect(rot.from).toHaveLength(1);
    expect(rot.to).not.toBe(rot.from[0]);
    const newKey = fs.readFileSync(path.join(state, "secrets.key"), "utf8");
    expect(newKey).not.toBe(oldKey);
    expect(fs.statSync(path.join(state, "secrets.key")).mode & 0o777).toBe(0o600);
    expect(fs.existsSync(path.join(state, "secrets.key.next"))).toBe(false);
    let store = openStore(state);
    try {
      expect([store.secrets.get("twilio-auth-token"), store.secrets.get("openai-api-key")]).toEqual(["tw-auth-1", "sk-openai-2"]);
      expect(new Set(store.secrets.list().map((x) => x.key_id))).toEqual(new Set([rot.to]));
    } finally {
      store.close();
    }
    // The old key, handed in as TAU_SECRETS_KEY with the key file gone, is refused by id.
    fs.rmSync(path.join(state, "secrets.key"));
    store = openStore(state, { secretsKey: oldKey.trim() });
    try {
      expect(() => store.secrets.get("twilio-auth-token")).toThrow(
        /sealed with key k[0-9a-f]{16}, which no key source holds: TAU_SECRETS_KEY \(key k/,
      );
    } finally {
      store.close();
    }
  });

  it("rotate-key with TAU_SECRETS_KEY takes the new key on stdin; afterwards only the new key opens the store", async () => {
    const state = path.join(tmp(), "state");
    const keyA = randomBytes(32).toString("base64");
    const keyB = randomBytes(32).toString("base64");
    await runTau(["--state-dir", state, "secrets", "set", "smtp-password"], { input: "smtp-pw-9", env: { TAU_SECRETS_KEY: keyA } });
    const none = await runTau(["--state-dir", state, "secrets", "rotate-key"], { env: { TAU_SECRETS_KEY: keyA } });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("TAU_SECRETS_KEY is set: the new key must come from you");
    const r = await runTau(["--state-dir", state, "secrets", "rotate-key", "--json"], { input: keyB, env: { TAU_SECRETS_KEY: keyA } });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(keyB);
    const withB = openStore(state, { secretsKey: keyB });
    try {
      expect(withB.secrets.get("smtp-password")).toBe("smtp-pw-9");
    } finally {
      withB.close();
    }
    const withA = openStore(state, { secretsKey: keyA });
    try {
      expect(() => withA.secrets.get("smtp-password")).toThrow(/TAU_SECRETS_KEY/);
    } finally {
      withA.close();
    }
  });

  it("at a terminal, `secrets set` prompts with echo off: the typed value never reaches the screen", async () => {
    const state = path.join(tmp(), "state");
    const typed = "typed-at-tty-SECRET-77";
    // util-linux `script` gives the command a pseudo-terminal; what it prints is what the operator's screen shows.
    const child = spawn(
      "script",
      ["-q", "-e", "-c", `${process.execPath} ${path.resolve("bin/tau.js")} --state-dir ${state} secrets set imap-password`, "/dev/null"],
      {
        env: { ...process.env, TAU_LOG_LEVEL: "silent" },
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    let screen = "";
    const prompted = new Promise<void>((resolve) =>
      child.stdout.on("data", (d) => {
        screen += d;
        if (screen.includes("(not shown), then Enter:")) resolve();
      }),
    );
    const exited = new Promise<number>((resolve) => child.on("exit", (c) => resolve(c ?? -1)));
    await prompted;
    child.stdin.write(typed + "\r");
    expect(await exited).toBe(0);
    expect(screen).toContain("stored imap-password");
    expect(screen).not.toContain(typed);
    const store = openStore(state);
    try {
      expect(store.secrets.get("imap-password")).toBe(typed);
    } finally {
      store.close();
    }
  }, 60_000);
});
