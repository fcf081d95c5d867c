/** @module Tests for route bindings: specificity order, file-order ties, defaults, session keys, and monotonicity. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Role } from "../../src/contracts/decision.ts";
import { RouteBindingsFileSchema, type RouteBinding } from "../../src/contracts/policy.ts";
import { compileRouteBindings, renderSessionKey, resolveRoute, routeDecisionToDecision } from "../../src/policy/routes.ts";
import { makeEnvelope } from "../helpers/envelope-factory.ts";

/** Parse bindings through the real schema so defaults apply. */
const bindings = (...bs: Array<Record<string, unknown>>): RouteBinding[] =>
  RouteBindingsFileSchema.parse({ schema_version: 1, bindings: bs }).bindings;

// Telegram group -1001234 on bot account 6112, actor 4242.
const env = makeEnvelope({ thread_id: "77" });
const msg: { isCommand: boolean; role: Role } = { isCommand: false, role: "operator" };

const route = (bs: RouteBinding[], e = env, facts = msg) => resolveRoute(compileRouteBindings(bs), e, facts);

describe("resolveRoute defaults", () => {
  it("with no bindings a message is delegated, keyed by the conversation id", () => {
    expect(route([])).toEqual({
      binding_id: null,
      matched_by: "default",
      phase: "delegated_step",
      category_hint: "general",
      session_key: "-1001234",
      responder: "ack",
      forward_to: null,
    });
  });

  it("commands go to the planner", () => {
    expect(route([], env, { isCommand: true, role: "admin" }).phase).toBe("planner");
  });

  it("system events go to review", () => {
    expect(route([], makeEnvelope({ kind: "system" })).phase).toBe("review");
  });

  it("other kinds are delegated", () => {
    expect(route([], makeEnvelope({ kind: "edit" })).phase).toBe("delegated_step");
  });

  it("a non-matching binding leaves the default", () => {
    expect(route(bindings({ binding_id: "d", transport: "discord" })).matched_by).toBe("default");
  });
});

describe("resolveRoute matching", () => {
  it("matches the runbook example and renders its session key", () => {
    const bs = bindings({
      binding_id: "discord-ops",
      transport: "discord",
      account_id: "discord-main",
      conversation_id: "ops-room",
      actor_id: "*",
      phase: "delegated_step",
      category_hint: "incident",
      session_key_template: "session-{role}",
    });
    const e = makeEnvelope({ transport: "discord", account_id: "discord-main", conversation_id: "ops-room", event_id: "discord:1" });
    expect(route(bs, e)).toEqual({
      binding_id: "discord-ops",
      matched_by: "binding.conversation",
      phase: "delegated_step",
      category_hint: "incident",
      session_key: "session-operator",
      responder: "ack",
      forward_to: null,
    });
  });

  it("matched_by names the most specific exact selector", () => {
    expect(route(bindings({ binding_id: "a", actor_id: "4242", transport: "telegram" })).matched_by).toBe("binding.actor");
    expect(route(bindings({ binding_id: "c", conversation_id: "-1001234" })).matched_by).toBe("binding.conversation");
    expect(route(bindings({ binding_id: "acc", account_id: "6112", transport: "telegram" })).matched_by).toBe("binding.account");
    expect(route(bindings({ binding_id: "t", transport: "telegram" })).matched_by).toBe("binding.transport");
    expect(route(bindings({ binding_id: "w" })).matched_by).toBe("binding.wildcard");
  });

  it("more exact selectors win regardless of file order", () => {
    const bs = bindings(
      { binding_id: "actor-only", actor_id: "4242" },
      { binding_id: "conv-and-transport", transport: "telegram", conversation_id: "-1001234" },
    );
    expect(route(bs).binding_id).toBe("conv-and-transport");
    expect(route([...bs].reverse()).binding_id).toBe("conv-and-transport");
  });

  it("on equal counts: actor > conversation > account > transport", () => {
    const actor = { binding_id: "actor", actor_id: "4242" };
    const conv = { binding_id: "conv", conversation_id: "-1001234" };
    const acct = { binding_id: "acct", account_id: "6112" };
    const tr = { binding_id: "tr", transport: "telegram" };
    expect(route(bindings(tr, acct, conv, actor)).binding_id).toBe("actor");
    expect(route(bindings(tr, acct, conv)).binding_id).toBe("conv");
    expect(route(bindings(tr, acct)).binding_id).toBe("acct");
    expect(route(bindings(acct, actor, conv, tr)).binding_id).toBe("actor");
  });

  it("on equal counts and equal top selector, the next selector decides (account beats transport)", () => {
    const bs = bindings(
      { binding_id: "actor.transport", transport: "telegram", actor_id: "4242" },
      { binding_id: "actor.account", account_id: "6112", actor_id: "4242" },
    );
    expect(route(bs).binding_id).toBe("actor.account");
    expect(route([...bs].reverse()).binding_id).toBe("actor.account");
  });

  it("identical selectors: the earlier binding in the file wins", () => {
    const bs = bindings({ binding_id: "first", conversation_id: "-1001234" }, { binding_id: "second", conversation_id: "-1001234" });
    expect(route(bs).binding_id).toBe("first");
    expect(compileRouteBindings(bs).shadowed).toEqual([{ binding_id: "second", shadowed_by: "first" }]);
  });

  it("every selector must match", () => {
    const bs = bindings({ binding_id: "x", transport: "telegram", account_id: "6112", conversation_id: "-1001234", actor_id: "9" });
    expect(route(bs).binding_id).toBeNull();
    expect(route(bs, makeEnvelope({ actor: { id: "9" } })).binding_id).toBe("x");
  });

  it("an actor selector never matches an event without an actor id", () => {
    const bs = bindings({ binding_id: "a", actor_id: "4242" }, { binding_id: "w" });
    expect(route(bs, makeEnvelope({ actor: { id: null } })).binding_id).toBe("w");
  });

  it("values that could collide when concatenated do not", () => {
    const bs = bindings({ binding_id: "x", account_id: "61", conversation_id: "12-1001234" });
    expect(route(bs).binding_id).toBeNull(); // account 6112 + conversation -1001234 is a different tuple
  });

  it("uses the binding's phase, hint and responder, even for commands", () => {
    const bs = bindings({ binding_id: "r", transport: "telegram", phase: "review", category_hint: "ops", responder: "none" });
    expect(route(bs, env, { isCommand: true, role: "viewer" })).toEqual({
      binding_id: "r",
      matched_by: "binding.transport",
      phase: "review",
      category_hint: "ops",
      session_key: "telegram:-1001234",
      responder: "none",
      forward_to: null,
    });
  });

  it("renders every placeholder, null as empty", () => {
    const t = "{transport}|{account_id}|{conversation_id}|{actor_id}|{thread_id}|{role}|{binding_id}";
    expect(route(bindings({ binding_id: "all", session_key_template: t })).session_key).toBe("telegram|6112|-1001234|4242|77|operator|all");
    const noThread = makeEnvelope({ thread_id: null, actor: { id: null } });
    expect(route(bindings({ binding_id: "all", session_key_template: t }), noThread).session_key).toBe(
      "telegram|6112|-1001234|||operator|all",
    );
  });
});

describe("renderSessionKey", () => {
  const vars = {
    transport: "discord",
    account_id: "a",
    conversation_id: "c",
    actor_id: null,
    thread_id: "t",
    role: "admin",
    binding_id: "b",
  };
  it("replaces known placeholders and keeps unknown ones literally", () => {
    expect(renderSessionKey("{transport}:{conversation_id}:{actor_id}:{nope}", vars)).toBe("discord:c::{nope}");
    expect(renderSessionKey("plain", vars)).toBe("plain");
  });
});

describe("routeDecisionToDecision", () => {
  it("a matched binding", () => {
    const rd = route(bindings({ binding_id: "t", transport: "telegram" }));
    expect(routeDecisionToDecision(rd)).toEqual({
      stage: "route",
      outcome: "info",
      reason: "route_binding_matched",
      matched_by: "binding.transport",
      detail: { binding_id: "t", phase: "delegated_step", category_hint: "general", session_key: "telegram:-1001234", responder: "ack" },
    });
  });
  it("the default", () => {
    expect(routeDecisionToDecision(route([]))).toEqual({
      stage: "route",
      outcome: "info",
      reason: "route_default",
      matched_by: "default",
      detail: { binding_id: null, phase: "delegated_step", category_hint: "general", session_key: "-1001234", responder: "ack" },
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Properties, checked against a naive linear-scan oracle written independently of the index.

const SEL = ["telegram", "discord"] as const;
const bindingArb = (id: string) =>
  fc.record({
    binding_id: fc.constant(id),
    transport: fc.constantFrom("*", ...SEL),
    account_id: fc.constantFrom("*", "6112", "7000"),
    conversation_id: fc.constantFrom("*", "-1001234", "-2"),
    actor_id: fc.constantFrom("*", "4242", "1"),
  });
const listArb = fc
  .array(fc.nat(), { maxLength: 12 })
  .chain((xs) => fc.tuple(...xs.map((_, i) => bindingArb(`b${i}`))))
  .map((bs) => bindings(...bs));
const envArb = fc
  .record({
    transport: fc.constantFrom(...SEL),
    account_id: fc.constantFrom("6112", "7000"),
    conversation_id: fc.constantFrom("-1001234", "-2"),
    id: fc.constantFrom("4242", "1"),
  })
  .map(({ id, ...rest }) => makeEnvelope({ ...rest, actor: { id } }));

/** Rank as documented: (exact count, actor, conversation, account, transport), higher first; file order breaks ties. */
function oracle(bs: RouteBinding[], e: ReturnType<typeof makeEnvelope>): string | null {
  const fits = (sel: string, v: string | null) => sel === "*" || sel === v;
  const rank = (b: RouteBinding) => {
    const bits = [b.actor_id, b.conversation_id, b.account_id, b.transport].map((s): number => (s === "*" ? 0 : 1));
    return [bits.reduce((a, x) => a + x, 0), ...bits];
  };
  let best: RouteBinding | null = null;
  for (const b of bs) {
    if (!(
      fits(b.transport, e.transport) &&
      fits(b.account_id, e.account_id) &&
      fits(b.conversation_id, e.conversation_id) &&
      fits(b.actor_id, e.actor.id)
    ))
      continue;
    if (best === null) best = b;
    else {
      const [r, q] = [rank(b), rank(best)];
      const i = r.findIndex((x, k) => x !== q[k]);
      if (i >= 0 && (r[i] as number) > (q[i] as number)) best = b;
    }
  }
  return best?.binding_id ?? null;
}

describe("route properties", () => {
  it("agrees with a linear-scan oracle of the documented order, and is deterministic", () => {
    fc.assert(
      fc.property(listArb, envArb, (bs, e) => {
        const compiled = compileRouteBindings(bs);
        const rd = resolveRoute(compiled, e, msg);
        expect(rd.binding_id).toBe(oracle(bs, e));
        expect(resolveRoute(compileRouteBindings(structuredClone(bs)), e, msg)).toEqual(rd);
      }),
      { numRuns: 500 },
    );
  });

  it("adding a less specific binding anywhere never changes the winner", () => {
    fc.assert(
      fc.property(listArb, envArb, bindingArb("extra"), fc.nat(), (bs, e, extraRaw, at) => {
        const winner = resolveRoute(compileRouteBindings(bs), e, msg);
        fc.pre(winner.binding_id !== null);
        const w = bs.find((b) => b.binding_id === winner.binding_id) as RouteBinding;
        const exact = (b: { transport: string; account_id: string; conversation_id: string; actor_id: string }) =>
          [b.transport, b.account_id, b.conversation_id, b.actor_id].filter((s) => s !== "*").length;
        // Less specific: fewer exact selectors than the winner.
        fc.pre(exact(extraRaw) < exact(w));
        const [extra] = bindings(extraRaw);
        const withExtra = [...bs];
        withExtra.splice(at % (bs.length + 1), 0, extra as RouteBinding);
        expect(resolveRoute(compileRouteBindings(withExtra), e, msg).binding_id).toBe(winner.binding_id);
      }),
      { numRuns: 500 },
    );
  });

  it("scales to 1,000 bindings: the index holds them all and still picks the specific one", () => {
    const many = bindings(
      ...Array.from({ length: 999 }, (_, i) => ({ binding_id: `conv-${i}`, transport: "telegram", conversation_id: `c${i}` })),
      { binding_id: "mine", transport: "telegram", conversation_id: "-1001234", actor_id: "4242" },
    );
    const compiled = compileRouteBindings(many);
    expect(compiled.size).toBe(1000);
    expect(resolveRoute(compiled, env, msg).binding_id).toBe("mine");
    expect(resolveRoute(compiled, makeEnvelope({ conversation_id: "c500" }), msg).binding_id).toBe("conv-500");
  });
});
