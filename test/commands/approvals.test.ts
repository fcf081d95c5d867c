import Database from "better-sqlite3";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createServices } from "../../src/app/index.ts";
import { makeDm } from "../helpers/envelope-factory.ts";
import { makeHarness, type Harness } from "../helpers/pipeline-harness.ts";

const POLICY = "schema_version: 1\ndefaultPolicy: { dmPolicy: allow, allowFrom: allowlist_or_pairing }\n";
const RBAC = 'schema_version: 1\nadmins: ["telegram:1001", "telegram:1002"]\n';

let h: Harness | null = null;
afterEach(() => {
  h?.close();
  h = null;
});

async function requestAllowlistAdd(hh: Harness): Promise<{ id: string; hash: string }> {
  for (const id of ["1001", "1002"])
    hh.app.store.access.addAllowlist({
      actor_key: `telegram:${id}`,
      transport: "telegram",
      actor_id: id,
      note: "",
      added_by: "t",
      added_at_ms: 0,
    });
  const out = await hh.run([makeDm("1001", { event_id: "telegram:6112:u:1", text: "/tau allowlist add telegram:7003" })]);
  expect(out[0]!.reason).toBe("approval_requested");
  const rows = hh.app.store.commands.listApprovals();
  expect(rows).toHaveLength(1);
  return { id: rows[0]!.id, hash: rows[0]!.args_hash };
}

function approve(hh: Harness, id: string, principal: string, extra: Record<string, string> = {}) {
  const services = createServices(hh.app);
  return services.registry
    .get("tau.approve")!
    .run({ id, ...extra }, { principal, role: "admin", surface: "chat", now: hh.now.ms, services, origin: null });
}

describe("approvals", () => {
  it("two_person: refuses the requester, runs once for a second admin, refuses the replay", async () => {
    h = makeHarness({ "channel-policy.yaml": POLICY, "rbac.yaml": RBAC });
    const { id, hash } = await requestAllowlistAdd(h);
    expect((await approve(h, id, "telegram:1001")).reason_code).toBe("approval_same_principal");
    const ok = await approve(h, id, "telegram:1002", { hash: hash.slice(0, 8) });
    expect(ok).toMatchObject({ status: "reported", reason_code: "allowlist_added" });
    expect((await approve(h, id, "telegram:1002")).reason_code).toBe("approval_replayed");
    expect(h.app.store.access.isAllowlisted("telegram:7003")).toBe(true);
    expect(h.app.store.commands.listApprovals().map((r) => r.status)).toEqual(["executed"]);
  });

  it("refuses expired, unknown and changed-argument approvals, and an approver below the required role", async () => {
    h = makeHarness({ "channel-policy.yaml": POLICY, "rbac.yaml": RBAC });
    const { id } = await requestAllowlistAdd(h);
    expect((await approve(h, id, "telegram:1002", { hash: "deadbeef" })).reason_code).toBe("approval_args_mismatch");
    expect((await approve(h, "ap_0000000000", "telegram:1002")).reason_code).toBe("approval_unknown");
    const services = createServices(h.app);
    const low = await services.registry
      .get("tau.approve")!
      .run({ id }, { principal: "telegram:4242", role: "operator", surface: "chat", now: h.now.ms, services, origin: null });
    expect(low.reason_code).toBe("approval_rbac_denied");
    // Tamper with the stored request the way someone with file access would: a second connection to the state file.
    const raw = new Database(path.join(h.app.stateDir, "tau.db"));
    raw.prepare("UPDATE approvals SET args = ? WHERE id = ?").run(JSON.stringify({ actor: "telegram:6666" }), id);
    raw.close();
    expect((await approve(h, id, "telegram:1002")).reason_code).toBe("approval_args_mismatch");
    h.now.ms += 10 * 60_000;
    expect((await approve(h, id, "telegram:1002")).reason_code).toBe("approval_expired");
    expect(h.app.store.access.isAllowlisted("telegram:6666")).toBe(false);
  });
});
