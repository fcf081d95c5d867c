/**
 * `/tau allowlist add` in chat takes only a stable id per transport (PRODUCT.md §5), the same rule the CLI applies
 * (test/cli/allowlist-stable-id.test.ts): a username or a malformed id is refused before any approval is recorded,
 * with a reply that names the argument and says how to find the id; stable ids (incl. WhatsApp business-scoped user
 * ids, PROVIDERS.md §10.3.3) are accepted.
 */
import { afterEach, describe, expect, it } from "vitest";
import { actorKeyProblem } from "../../src/capabilities/core/allowlist.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { makeHarness, type Harness } from "../helpers/pipeline-harness.ts";

const POLICY = "schema_version: 1\ndefaultPolicy: { dmPolicy: allow, allowFrom: allowlist_or_pairing }\n";
const RBAC = 'schema_version: 1\nadmins: ["telegram:1001"]\n';

let h: Harness | null = null;
afterEach(() => {
  h?.close();
  h = null;
});

function harness(): Harness {
  const hh = makeHarness({ "channel-policy.yaml": POLICY, "rbac.yaml": RBAC });
  hh.app.store.access.addAllowlist({
    actor_key: "telegram:1001",
    transport: "telegram",
    actor_id: "1001",
    note: "",
    added_by: "t",
    added_at_ms: 0,
  });
  return hh;
}

let n = 0;
async function say(hh: Harness, text: string) {
  n += 1;
  const out = await hh.run([makeDm("1001", { event_id: `telegram:6112:u:${n}`, text })]);
  return { out: out[0]!, reply: hh.replies().at(-1)?.text ?? "" };
}

describe("/tau allowlist add in chat", () => {
  it.each([
    ["telegram:@ana", "a Telegram user id"],
    ["telegram:ana", "a Telegram user id"],
    ["telegram:-1001234567890", "a Telegram user id"],
    ["discord:@bob", "a Discord user id"],
    ["discord:4242", "a Discord user id"],
    ["whatsapp:@carla", "a WhatsApp phone id"],
    ["whatsapp:+15550001", "a WhatsApp phone id"],
    ["email:dan", "an email address"],
  ])("refuses %s: names <actor>, says to use the stable id and /tau whoami, records no approval", async (key, what) => {
    h = harness();
    const { out, reply } = await say(h, `/tau allowlist add ${key}`);
    expect(out.reason).toBe("command_args_invalid");
    expect(reply).toContain(`<actor>: "${key}" is not ${what}`);
    expect(reply).toContain("use the stable id, not a username; find it with /tau whoami");
    expect(h.app.store.commands.listApprovals()).toEqual([]);
  });

  it("refuses a WhatsApp parent business-scoped id (messages never come from it)", async () => {
    h = harness();
    const { reply } = await say(h, "/tau allowlist add whatsapp:US.ENT.13491208655302741918");
    expect(reply).toContain("parent business-scoped id");
    expect(h.app.store.commands.listApprovals()).toEqual([]);
  });

  it.each([
    "telegram:4242",
    "discord:1300000000000000077",
    "whatsapp:15550009999",
    "whatsapp:US.13491208655302741918",
    "email:ana@example.com",
  ])("accepts %s (an approval request: two_person)", async (key) => {
    h = harness();
    const { out } = await say(h, `/tau allowlist add ${key}`);
    expect(out.reason).toBe("approval_requested");
    expect(h.app.store.commands.listApprovals().map((a) => a.capability_id)).toEqual(["tau.allowlist.add"]);
  });
});

describe("actorKeyProblem (the one rule chat and CLI share)", () => {
  it("is null for stable ids and a sentence naming the key otherwise", () => {
    expect(actorKeyProblem("telegram:4242")).toBeNull();
    expect(actorKeyProblem("whatsapp:BR.aZ09")).toBeNull();
    expect(actorKeyProblem("discord:12345678901234567890")).toBeNull();
    expect(actorKeyProblem("discord:123456789012345678901")).toContain('"discord:123456789012345678901" is not a Discord user id');
    expect(actorKeyProblem("telegram:0")).toContain("is not a Telegram user id");
    expect(actorKeyProblem("slack:U123")).toBe(
      '"slack:U123" is not <transport>:<stable id> with transport one of telegram, discord, whatsapp, email (e.g. telegram:4242); use the stable id, not a username; find it with /tau whoami',
    );
    expect(actorKeyProblem(`whatsapp:US.${"a".repeat(129)}`)).toContain("is not a WhatsApp phone id");
  });
});
