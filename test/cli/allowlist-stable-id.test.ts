/**
 * `tau allowlist add|remove` apply the allowlist capability's stable-id rule (the same sentence chat replies with,
 * test/commands/allowlist-stable-id.test.ts), as `tau` child processes over a real state dir: a username is a usage
 * error (exit 2) naming `<actor>` before any request is recorded; a WhatsApp business-scoped user id is accepted;
 * an entry stored before the rule (any shape) can still be removed.
 */
import { afterEach, describe, expect, it } from "vitest";
import { makeTauHome, type TauHome } from "../helpers/tau-home.ts";
import { runTau } from "../helpers/run-tau.ts";

let home: TauHome | null = null;
afterEach(() => {
  home?.cleanup();
  home = null;
});
const g = (h: TauHome) => ["--state-dir", h.stateDir, "--config", h.configPath];

describe("tau allowlist add: stable ids only", () => {
  it("refuses usernames with exit 2, naming <actor> and how to find the id; records nothing", async () => {
    home = makeTauHome();
    for (const key of ["telegram:@ana", "discord:bob", "whatsapp:@carla"]) {
      const u = await runTau([...g(home), "allowlist", "add", key, "--json"]);
      expect(u.code).toBe(2);
      const err = u.json() as { ok: boolean; error: { code: string; message: string; hint?: string } };
      expect(err.error.code).toBe("USAGE_ACTOR_KEY");
      expect(err.error.message).toMatch(new RegExp(`^<actor>: "${key}" is not a `));
      expect(err.error.message).toContain("use the stable id, not a username; find it with /tau whoami");
      expect(err.error.hint).toContain("/tau whoami");
    }
    const plain = await runTau([...g(home), "allowlist", "add", "telegram:@ana"]);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toContain('<actor>: "telegram:@ana" is not a Telegram user id');
    expect((await runTau([...g(home), "approvals", "list", "--json"])).json()).toEqual([]);
  }, 60_000);

  it("accepts WhatsApp business-scoped user ids (CC. + up to 128 alphanumerics): a two_person request each", async () => {
    home = makeTauHome();
    for (const key of ["whatsapp:US.13491208655302741918", "whatsapp:BR.aZ0kQ7mX2"]) {
      const r = await runTau([...g(home), "allowlist", "add", key, "--json"]);
      expect(r.code).toBe(0);
      expect(r.json()).toMatchObject({ reason_code: "approval_requested", data: { approval_id: expect.stringMatching(/^ap_/) } });
    }
  }, 30_000);
});

describe("tau allowlist remove", () => {
  it("removes an entry stored before the stable-id rule (a username key)", async () => {
    home = makeTauHome();
    const app = home.open();
    app.store.access.addAllowlist({
      actor_key: "telegram:@ana",
      transport: "telegram",
      actor_id: "@ana",
      note: "added by a chat command before the rule",
      added_by: "telegram:1001",
      added_at_ms: 0,
    });
    app.close();
    const r = await runTau([...g(home), "allowlist", "remove", "telegram:@ana", "--yes", "--json"]);
    expect(r.code).toBe(0);
    expect(r.json()).toMatchObject({ status: "reported", reason_code: "allowlist_removed" });
    expect((await runTau([...g(home), "allowlist", "list", "--json"])).json()).toEqual([]);
  }, 30_000);
});
