/**
 * @module `send execute` through the real chat approval flow: runner → command stage (approval request) →
 * `/tau approve` (tau.approve) → one live send; replays and second requests are refused.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createAppRunner, openIngressWriter } from "../../../src/app/index.ts";
import { makeDm } from "../../helpers/envelope-factory.ts";
import { startResendServer, type ResendServerHandle } from "../../helpers/resend-server.ts";
import { auditRows, deliveryRows, goLive, makeCommsHome, pick, SHIPPED_VARS, type CommsHome } from "./comms-home.ts";

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
});

async function say(h: CommsHome, seq: number, text: string): Promise<void> {
  const w = openIngressWriter(h.app);
  await w.append("telegram", [makeDm("4242", { event_id: `telegram:6112:u:${seq}`, text, meta: { message_id: seq } })]);
  await w.close();
  const { runner, close } = createAppRunner(h.app, { services: h.services });
  try {
    await runner.drain();
  } finally {
    close();
  }
}

const jobResult = (h: CommsHome, seq: number) => {
  const raw = h.sql().prepare("SELECT result FROM jobs WHERE event_id = ?").pluck().get(`telegram:6112:u:${seq}`) as string | undefined;
  return raw ? (JSON.parse(raw) as { status: string; reason_code: string }) : null;
};
const approvalFor = (h: CommsHome, seq: number) =>
  h.sql().prepare("SELECT id, args_hash, status FROM approvals WHERE reply_target IS NOT NULL ORDER BY created_at_ms, rowid").all()[
    seq
  ] as { id: string; args_hash: string; status: string };

describe("send execute approvals from chat", () => {
  it("runs once per approval; a replayed approval is refused and a second request finds the preview already sent", async () => {
    const server: ResendServerHandle = await startResendServer();
    open.push(server);
    const h = makeCommsHome({ env: { RESEND_API_KEY: server.apiKey }, edit: (c) => goLive(c, { resend: server.url }) });
    open.push(h);
    h.services.store.access.addAllowlist({
      actor_key: "telegram:4242",
      transport: "telegram",
      actor_id: "4242",
      note: "ops",
      added_by: "cli:test",
      added_at_ms: h.now,
    });

    const preview = await h.run(
      "communications.send.preview",
      { template: "order_shipped", to: "ana@example.com", vars: JSON.stringify(SHIPPED_VARS) },
      "telegram:4242",
    );
    const previewId = (preview.data as { preview_id: string }).preview_id;

    await say(h, 1, `/tau send execute ${previewId}`);
    const first = approvalFor(h, 0);
    expect(first.status).toBe("pending");
    expect(server.emails).toHaveLength(0);

    await say(h, 2, `/tau approve ${first.id} ${first.args_hash.slice(0, 8)}`);
    expect(jobResult(h, 2)).toMatchObject({ status: "reported", reason_code: "delivery_sent" });
    expect(approvalFor(h, 0).status).toBe("executed");
    expect(server.emails).toHaveLength(1);
    expect(server.emails[0]!.idempotencyKey).toBe(`tau-preview-${previewId}`);

    await say(h, 3, `/tau approve ${first.id} ${first.args_hash.slice(0, 8)}`);
    expect(jobResult(h, 3)).toMatchObject({ status: "failed", reason_code: "approval_replayed" });

    await say(h, 4, `/tau send execute ${previewId}`);
    const second = approvalFor(h, 1);
    expect(second.id).not.toBe(first.id);
    await say(h, 5, `/tau approve ${second.id}`);
    expect(jobResult(h, 5)).toMatchObject({ status: "failed", reason_code: "preview_already_sent" });

    expect(server.emails).toHaveLength(1);
    expect(deliveryRows(h).filter((d) => d.status === "sent")).toHaveLength(1);
    // The audit trail names the requester and the outcome of each execute.
    expect(pick(auditRows(h, "comms.send.execute"), "actor", "outcome", "reason_code")).toEqual([
      { actor: "telegram:4242", outcome: "sent", reason_code: "delivery_sent" },
      { actor: "telegram:4242", outcome: "refused", reason_code: "preview_already_sent" },
    ]);
  });
});
