import { afterEach, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { RouteBindingsFileSchema } from "../../src/contracts/policy.ts";
import { makeDm, makeEnvelope } from "../helpers/envelope-factory.ts";
import { makeHarness, type Harness } from "../helpers/pipeline-harness.ts";

const SECURE = `schema_version: 1
defaultPolicy: { dmPolicy: allow, allowFrom: allowlist_or_pairing, groupPolicy: deny, requireMention: true }
channels:
  "telegram:-100200": { groupPolicy: allow }
`;

let h: Harness | null = null;
afterEach(() => {
  h?.close();
  h = null;
});

/** An approved pairing for `actorKey`, as `tau pairing approve` leaves it. */
function approvePairing(harness: Harness, code: string, actorKey: string): void {
  harness.app.store.access.insertPairing({ code, actor_key: actorKey, channel_key: actorKey, display: null, expires_at_ms: 1 }, 0);
  harness.app.store.access.decidePairing(code, "approved", "test", 0);
}

const dm = (actor: string, update: number, text = "hello") => makeDm(actor, { event_id: `telegram:6112:u:${update}`, text });
const group = (actor: string, update: number, text: string, mentions: boolean, chat = "-100200") =>
  makeEnvelope({
    event_id: `telegram:6112:u:${update}`,
    conversation_id: chat,
    chat_type: "group",
    mentions_bot: mentions,
    text,
    actor: { id: actor },
  });

describe("decision pipeline with real policies and state", () => {
  it("denies groups by default, gates on mention, and admits allowlisted actors", async () => {
    h = makeHarness({ "channel-policy.yaml": SECURE });
    h.app.store.access.addAllowlist({
      actor_key: "telegram:4242",
      transport: "telegram",
      actor_id: "4242",
      note: "",
      added_by: "test",
      added_at_ms: 0,
    });
    const out = await h.run([
      group("4242", 1, "hi", true, "-100999"),
      group("4242", 2, "no mention", false),
      group("4242", 3, "@tau_ops_bot hi", true),
      group("5555", 4, "@tau_ops_bot hi", true),
    ]);
    expect(out.map((o) => [o.event_id, o.reason])).toEqual([
      ["telegram:6112:u:1", "deny_channel_policy_group"],
      ["telegram:6112:u:2", "deny_channel_policy_mention_required"],
      ["telegram:6112:u:3", "responder_replied"],
      ["telegram:6112:u:4", "deny_actor_not_allowlisted"],
    ]);
  });

  it("gives a stranger one pairing code, reuses it, caps pending codes per transport, and admits after approval", async () => {
    h = makeHarness({ "channel-policy.yaml": SECURE });
    const out = await h.run([dm("7001", 1), dm("7001", 2), dm("7002", 3), dm("7003", 4), dm("7004", 5)]);
    expect(out.map((o) => o.reason)).toEqual([
      "pairing_challenge_issued",
      "pairing_challenge_issued",
      "pairing_challenge_issued",
      "pairing_challenge_issued",
      "pairing_channel_full",
    ]);
    const codes = h.app.store.access
      .listPairings()
      .sort((a, b) => a.created_at_ms - b.created_at_ms || a.actor_key.localeCompare(b.actor_key))
      .map(({ code, actor_key }) => ({ code, actor_key }));
    expect(codes.map((c) => c.actor_key)).toEqual(["telegram:7001", "telegram:7002", "telegram:7003"]);
    for (const c of codes) expect(c.code).toMatch(/^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{8}$/);
    const pairingReplies = h.replies().filter((r) => r.purpose === "pairing");
    expect(pairingReplies).toHaveLength(4);
    expect(pairingReplies[0]!.text).toContain(codes[0]!.code);
    expect(pairingReplies[1]!.text).toContain(codes[0]!.code); // reused, not a new code
    // Approve 7001 through the capability the CLI and chat use.
    h.app.store.access.decidePairing(codes[0]!.code, "approved", "test", 0);
    const after = await h.run([dm("7001", 6, "am I in?")]);
    expect(after[0]!.decisions).toContain("access:allow_pairing");
    expect(after[0]!.reason).toBe("responder_replied");
  });

  it("never admits a paired actor in a group (pairing is DM-only)", async () => {
    h = makeHarness({ "channel-policy.yaml": SECURE.replace("{ groupPolicy: allow }", "{ groupPolicy: allow, requireMention: false }") });
    approvePairing(h, "AAAABBBB", "telegram:7001");
    const out = await h.run([group("7001", 1, "hello group", false)]);
    expect(out[0]!.reason).toBe("deny_actor_not_allowlisted");
  });

  it("stays silent in pairing silent mode and rate-limits a chatty stranger", async () => {
    h = makeHarness({ "channel-policy.yaml": SECURE + "pairing: { silent: true, max_attempts_per_actor_per_hour: 2 }\n" });
    const out = await h.run([dm("7001", 1), dm("7001", 2), dm("7001", 3)]);
    expect(out.map((o) => o.reason)).toEqual(["pairing_challenge_issued", "pairing_challenge_issued", "pairing_rate_limited"]);
    expect(h.replies()).toEqual([]);
  });

  it("fails closed when no policy ever loaded", async () => {
    h = makeHarness({ "channel-policy.yaml": "schema_version: 1\ndefaultPolicy: { dmPolicy: maybe }\n" });
    const out = await h.run([dm("4242", 1)]);
    expect(out[0]!.reason).toBe("deny_channel_policy_load_error");
    expect(h.replies()).toEqual([]);
  });

  it("routes by the most specific binding and records matched_by", async () => {
    h = makeHarness({
      "channel-policy.yaml":
        "schema_version: 1\ndefaultPolicy: { dmPolicy: allow, allowFrom: any, groupPolicy: allow, requireMention: false }\n",
      "route-bindings.yaml": `schema_version: 1
bindings:
  - { binding_id: all-telegram, transport: telegram, responder: ack }
  - { binding_id: ana, transport: telegram, actor_id: "4242", responder: none, session_key_template: "ana-{conversation_id}" }
`,
    });
    const out = await h.run([dm("4242", 1), dm("5555", 2)]);
    expect(out[0]!.decisions).toEqual([
      "channel_policy:channel_policy_allow",
      "access:allow_channel_policy_allow_from_any",
      "route:route_binding_matched",
      "responder:responder_no_reply",
    ]);
    expect(out[1]!.reason).toBe("responder_replied");
    const routes = h.app.store.inspect.tracesAfter(0) as { route: string }[];
    expect(JSON.parse(routes[0]!.route)).toMatchObject({
      binding_id: "ana",
      matched_by: "binding.actor",
      session_key: "ana-4242",
      responder: "none",
    });
    expect(JSON.parse(routes[1]!.route)).toMatchObject({ binding_id: "all-telegram", matched_by: "binding.transport" });
  });

  it("forwards alerts@ mail to the ops chat (responder forward), and the sender gets nothing", async () => {
    h = makeHarness({
      "channel-policy.yaml":
        "schema_version: 1\ndefaultPolicy: { dmPolicy: allow, allowFrom: any, groupPolicy: allow, requireMention: false }\n",
      "route-bindings.yaml": `schema_version: 1
bindings:
  - { binding_id: alerts-mail, transport: email, actor_id: "alerts@example.test", responder: forward, forward_to: "telegram:-1009876543210:77" }
`,
    });
    const mail = makeEnvelope({
      event_id: "email:ops:mail:INBOX:1:42",
      transport: "email",
      provider: "imap",
      account_id: "ops",
      chat_type: "dm",
      conversation_id: "alerts@example.test",
      actor: { id: "alerts@example.test", display: "Alerting" },
      text: "CPU on db-1 above 95% for 10 minutes",
      meta: { subject: "[FIRING] db-1 cpu" },
    });
    const out = await h.run([mail]);
    expect(out[0]!.decisions).toContain("responder:responder_replied");
    const [queued, ...more] = h.app.store.inspect.repliesAfter(0);
    expect(more).toEqual([]);
    const { transport, account_id, conversation_id, thread_id, reply_to, purpose } = h.app.store.outbox.get(queued!.outbox_id)!;
    expect({ transport, account_id, conversation_id, thread_id, reply_to, purpose }).toEqual({
      transport: "telegram",
      account_id: "6112",
      conversation_id: "-1009876543210",
      thread_id: "77",
      reply_to: null,
      purpose: "responder",
    });
    expect(h.replies()[0]!.text).toBe(
      "[email] Alerting <alerts@example.test> → route alerts-mail\nSubject: [FIRING] db-1 cpu\n\nCPU on db-1 above 95% for 10 minutes",
    );
  });

  it("refuses forward_to without responder forward, and forward without forward_to", () => {
    const bad = (b: string) => RouteBindingsFileSchema.safeParse(parseYaml(`schema_version: 1\nbindings:\n  - ${b}\n`)).success;
    expect(bad("{ binding_id: a, transport: email, responder: forward }")).toBe(false);
    expect(bad('{ binding_id: a, transport: email, responder: ack, forward_to: "telegram:1" }')).toBe(false);
    expect(bad('{ binding_id: a, transport: email, responder: forward, forward_to: "email:ops" }')).toBe(false);
    expect(bad('{ binding_id: a, transport: email, responder: forward, forward_to: "discord:1100" }')).toBe(true);
  });

  it("runs a viewer's command, denies an operator command with command_rbac_denied, and answers unknown commands", async () => {
    h = makeHarness({ "channel-policy.yaml": "schema_version: 1\ndefaultPolicy: { dmPolicy: allow, allowFrom: allowlist_or_pairing }\n" });
    approvePairing(h, "AAAABBBB", "telegram:7001");
    const out = await h.run([dm("7001", 1, "/tau whoami"), dm("7001", 2, "/tau pairing list"), dm("7001", 3, "/tau frobnicate")]);
    expect(out.map((o) => o.reason)).toEqual(["command_queued", "command_rbac_denied", "command_unknown"]);
    const texts = h.replies().map((r) => r.text.split("\n").at(-1));
    // The footer is short and human (issue 12); the reason codes stay in the traces (asserted above). whoami is read-only
    // and synchronous: it runs inline, so its answer is written with its event, in the events' order.
    expect(texts).toEqual(["/tau whoami · done", "/tau pairing list · not done", "/tau frobnicate · not done"]);
    expect(h.replies()[0]!.text).toContain("You are telegram:7001 (viewer)");
    expect(h.replies()[1]!.text).toContain("Your role does not allow this command.");
    expect(h.replies()[2]!.text).toContain("I don't know that command.\nNext: Try /tau help");
    // Recorded as a finished job, with its audit record.
    expect(h.app.store.commands.jobsIn("done").map((j) => j.capability_id)).toEqual(["tau.whoami"]);
    expect(
      h.app.store.audit
        .recent(10)
        .filter((a) => a.target === "tau.whoami")
        .map((a) => a.outcome),
    ).toEqual(["reported"]);
  });
});
