/**
 * Shared control (issue 15 §5): policies and their last-known-good live in the store when several nodes share it. A
 * reload on one node validates its folder and publishes the set as a new generation; every node polls the generation
 * and applies it (a reload reaches all nodes within 1 s — the test only waits for it, with a generous deadline); a node
 * starting up takes the stored set. A manager without `shared` (one node, the SQLite default) works from its folder as
 * it always did. Each "node" is its own Store on one database and its own policies folder.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  createPolicyManager,
  SHARED_POLICIES,
  watchPolicyGeneration,
  type PolicyManager,
  type SharedControl,
  type SharedDocument,
  type SyncOutcome,
} from "../../src/config/policy-manager.ts";
import type { Store } from "../../src/store/index.ts";
import { contractEngines, ENGINE_HOOK_TIMEOUT_MS } from "../store/contract/engines.ts";

const T0 = 1_763_712_000_000;
const policy = (dm: "allow" | "deny") =>
  `schema_version: 1\ndefaultPolicy: { dmPolicy: ${dm}, allowFrom: any, groupPolicy: allow, requireMention: false }\n`;
const RBAC = "schema_version: 1\n";

const dirs: string[] = [];
function policiesDir(channel: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tau-control-"));
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, "channel-policy.yaml"), channel);
  fs.writeFileSync(path.join(dir, "rbac.yaml"), RBAC);
  return dir;
}

const features = { route_bindings: false, rbac: true };

function manager(store: Store, dir: string, node: string | null): PolicyManager {
  return createPolicyManager(dir, { get: (k) => store.kv.get(k), put: (k, v) => store.kv.put(k, v) }, () => T0, {
    features,
    shared: node === null ? undefined : { control: store.control, node },
  });
}

const dmPolicy = (m: PolicyManager) => m.current()?.channel.defaultPolicy?.dmPolicy;

/** Wait for `ok()` with a deadline (never a timing assertion: only a bound so a broken build fails instead of hanging). */
async function until(ok: () => boolean, deadlineMs: number): Promise<void> {
  const end = performance.now() + deadlineMs;
  while (!ok()) {
    if (performance.now() > end) throw new Error(`not reached within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const engine of contractEngines()) {
  describe(`shared control on ${engine.name}`, { timeout: ENGINE_HOOK_TIMEOUT_MS }, () => {
    const stops: (() => void)[] = [];
    afterEach(async () => {
      for (const s of stops.splice(0)) s();
      await engine.closeAll();
      for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
    });
    afterAll(() => engine.stop());

    it("the first node publishes its folder; a node starting later runs the stored set, not its own folder", async () => {
      const o = await engine.open();
      const storeB = engine.reopen(o);
      const a = manager(o.store, policiesDir(policy("deny")), "tau-a");
      expect(dmPolicy(a)).toBe("deny");
      expect(o.store.control.get(SHARED_POLICIES)).toMatchObject({
        generation: 1,
        set_by: "tau-a",
        trigger: "startup",
        sha256: a.status().active_sha256,
      });

      const b = manager(storeB, policiesDir(policy("allow")), "tau-b");
      expect(dmPolicy(b)).toBe("deny");
      expect(b.status()).toMatchObject({ state: "ok", active_sha256: a.status().active_sha256 });
      expect(storeB.control.generation(SHARED_POLICIES)).toBe(1);
    });

    it("a reload on node A reaches node B through the generation watch (deadline, not a timing assertion)", async () => {
      const o = await engine.open();
      const storeB = engine.reopen(o);
      const dirA = policiesDir(policy("deny"));
      const a = manager(o.store, dirA, "tau-a");
      const b = manager(storeB, policiesDir(policy("deny")), "tau-b");
      const seen: SyncOutcome[] = [];
      stops.push(watchPolicyGeneration(b, (s) => seen.push(s)));

      fs.writeFileSync(path.join(dirA, "channel-policy.yaml"), policy("allow"));
      expect(a.reload("sighup")).toMatchObject({ state: "ok" });
      expect(o.store.control.get(SHARED_POLICIES)).toMatchObject({ generation: 2, set_by: "tau-a", trigger: "sighup" });

      await until(() => dmPolicy(b) === "allow", 5000);
      expect(b.status()).toMatchObject({ state: "ok", active_sha256: a.status().active_sha256 });
      expect(seen.map((s) => [s.generation, s.set_by, s.trigger, s.status.state])).toEqual([[2, "tau-a", "sighup", "ok"]]);
    });

    it("a rejected reload publishes nothing: every node keeps the last known good", async () => {
      const o = await engine.open();
      const storeB = engine.reopen(o);
      const dirA = policiesDir(policy("deny"));
      const a = manager(o.store, dirA, "tau-a");
      const b = manager(storeB, policiesDir(policy("allow")), "tau-b");

      fs.writeFileSync(path.join(dirA, "channel-policy.yaml"), "schema_version: 1\ndefaultPolicy: { dmPolicy: sometimes }\n");
      const st = a.reload("sighup");
      expect(st.state).toBe("reload_rejected");
      expect(st.error).toContain("channel-policy.yaml");
      expect(dmPolicy(a)).toBe("deny");
      expect(storeB.control.generation(SHARED_POLICIES)).toBe(1);
      expect(b.sync()).toBeNull();
      expect(dmPolicy(b)).toBe("deny");
    });

    it("a stored set this node cannot read is refused with the generation and publisher named; the known good stays", async () => {
      const o = await engine.open();
      const storeB = engine.reopen(o);
      const a = manager(o.store, policiesDir(policy("deny")), "tau-a");
      const b = manager(storeB, policiesDir(policy("allow")), "tau-b");
      // As a newer tau on another node might publish it: a field this build does not know.
      o.store.control.publish(SHARED_POLICIES, {
        sha256: "f".repeat(64),
        documents: { "channel-policy.yaml": "schema_version: 1\nfuture_field: 1\n", "route-bindings.yaml": "", "rbac.yaml": RBAC },
        set_by: "tau-c",
        trigger: "policy_apply",
        set_at_ms: T0,
      });
      const outcome = b.sync();
      expect(outcome).toMatchObject({ generation: 2, set_by: "tau-c", status: { state: "reload_rejected" } });
      expect(outcome?.status.error).toContain("shared policies generation 2 from tau-c");
      expect(dmPolicy(b)).toBe("deny");
      expect(b.sync()).toBeNull(); // refused once, not on every poll
      expect(dmPolicy(a)).toBe("deny");
    });

    it("without `shared` (one node, the default) the folder is the source and nothing is published", async () => {
      const o = await engine.open();
      const dir = policiesDir(policy("deny"));
      const m = manager(o.store, dir, null);
      expect(dmPolicy(m)).toBe("deny");
      fs.writeFileSync(path.join(dir, "channel-policy.yaml"), policy("allow"));
      expect(m.reload("sighup").state).toBe("ok");
      expect(dmPolicy(m)).toBe("allow");
      expect(m.sync()).toBeNull();
      expect(o.store.control.generation(SHARED_POLICIES)).toBe(0);
      // A restart reads the folder again (not a stored set), as it always did.
      fs.writeFileSync(path.join(dir, "channel-policy.yaml"), policy("deny"));
      expect(dmPolicy(manager(o.store, dir, null))).toBe("deny");
    });
  });
}

describe("shared control when the store refuses the publish", () => {
  it("the reload is rejected and the node keeps running the set every node runs", () => {
    const dir = policiesDir(policy("deny"));
    const kv = new Map<string, string>();
    let refuse = false;
    const stored: { doc: SharedDocument | null } = { doc: null };
    const control: SharedControl = {
      generation: () => stored.doc?.generation ?? 0,
      get: () => stored.doc,
      publish(_name, doc) {
        if (refuse) throw new Error("connection terminated");
        stored.doc = { ...doc, generation: (stored.doc?.generation ?? 0) + 1 };
        return stored.doc.generation;
      },
    };
    const m = createPolicyManager(dir, { get: (k) => kv.get(k), put: (k, v) => void kv.set(k, v) }, () => T0, {
      features,
      shared: { control, node: "tau-a" },
    });
    expect(dmPolicy(m)).toBe("deny");
    refuse = true;
    fs.writeFileSync(path.join(dir, "channel-policy.yaml"), policy("allow"));
    const st = m.reload("sighup");
    expect(st.state).toBe("reload_rejected");
    expect(st.error).toBe("policies not published to the shared store: connection terminated");
    expect(dmPolicy(m)).toBe("deny");
    expect(stored.doc?.generation).toBe(1);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
