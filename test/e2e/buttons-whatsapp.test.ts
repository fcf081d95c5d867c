/**
 * Approval buttons on WhatsApp, end to end with our axios sender against the local Graph API server (which checks
 * interactive reply buttons: 1–3, titles ≤ 20, unique ids): the prompt is an interactive message in a DM and plain
 * text with the typed command in a group; a tap arrives as `interactive.button_reply` and is answered in the chat.
 * Also: a chat error never shows a server path to a WhatsApp user (issue 12).
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeEnvelope } from "../helpers/envelope-factory.ts";
import { startWhatsAppGraphServer } from "../helpers/whatsapp-graph-server.ts";
import { GROUP_POLICY, makeButtonsHarness, type ButtonsHarness } from "./buttons-harness.ts";

type WaServer = Awaited<ReturnType<typeof startWhatsAppGraphServer>>;
type Json = Record<string, unknown>;

const ANN = "15551230001";
const RBAC = `schema_version: 1\nadmins: ["whatsapp:${ANN}", "whatsapp:15551230002"]\n`;

let wa: WaServer;
let h: ButtonsHarness;
let seq = 0;

beforeEach(async () => {
  const clock = { ms: Date.now() };
  wa = await startWhatsAppGraphServer({ now: () => clock.ms, enforceWindow: false });
  h = makeButtonsHarness({
    yaml: `outbound:\n  mode: provider\n  pacing: { enabled: false }\nconnectors:\n  whatsapp: { mode: disabled, api_root: "${wa.url}/v23.0" }\n`,
    env: { TAU_WHATSAPP_ACCESS_TOKEN: wa.accessToken },
    policies: { "channel-policy.yaml": GROUP_POLICY, "rbac.yaml": RBAC },
    clock,
  });
});
afterEach(async () => {
  h.close();
  await wa.close();
});

/** A webhook body with one message, as Meta sends it. */
function webhook(message: Json) {
  return {
    object: "whatsapp_business_account",
    entry: [
      {
        id: "102290129340398",
        changes: [
          {
            field: "messages",
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: "15550783881", phone_number_id: wa.phoneNumberId },
              contacts: [{ profile: { name: "Ann" }, wa_id: ANN }],
              messages: [{ from: ANN, timestamp: String(Math.floor(h.clock.ms / 1000)), ...message }],
            },
          },
        ],
      },
    ],
  };
}

async function text(body: string) {
  wa.recordInbound(ANN, h.clock.ms);
  return h.ingest("whatsapp", webhook({ id: `wamid.in${++seq}`, type: "text", text: { body } }));
}

async function tap(buttonId: string, title: string, promptId: string) {
  return h.ingest(
    "whatsapp",
    webhook({
      id: `wamid.tap${++seq}`,
      type: "interactive",
      context: { from: "15550783881", id: promptId },
      interactive: { type: "button_reply", button_reply: { id: buttonId, title } },
    }),
  );
}

describe("WhatsApp approval buttons", () => {
  it("sends reply buttons in a DM; a tap is a press: the requester cannot approve a two-person request but can deny it", async () => {
    await text("/tau allowlist add whatsapp:15550009999");
    const prompt = wa.sentMessages.at(-1)!;
    expect(prompt.type).toBe("interactive");
    const interactive = prompt.body["interactive"] as {
      body: { text: string };
      action: { buttons: { reply: { id: string; title: string } }[] };
    };
    expect(interactive.action.buttons.map((b) => b.reply.title)).toEqual(["Approve", "Deny"]);
    expect(interactive.body.text).toContain("*Approval needed: /tau allowlist add*");
    const [approve, deny] = interactive.action.buttons.map((b) => b.reply.id);

    const envs = await tap(approve!, "Approve", prompt.id);
    expect(envs[0]).toMatchObject({
      kind: "callback",
      text: approve,
      meta: { callback_id: expect.stringMatching(/^wamid\.tap/), prompt_message_id: prompt.id },
    });
    expect(wa.sentMessages.at(-1)!.text).toContain("needs a second person");
    expect(h.app.store.commands.listApprovals()[0]!.status).toBe("pending");

    await tap(deny!, "Deny", prompt.id);
    expect(h.app.store.commands.listApprovals()[0]!.status).toBe("denied");
    expect(wa.sentMessages.at(-1)!.text).toMatch(/^\*Denied ap_[0-9a-f]+ \(allowlist add\)\.\*/);

    // A forged id decides nothing.
    await tap("tau:forgedforgedforged", "Approve", prompt.id);
    expect(wa.sentMessages.at(-1)!.text).toContain("This button is not valid here.");
  });

  it("in a group the prompt is text with the typed command (interactive messages are not supported in groups)", async () => {
    await h.ingestEnvelopes([
      makeEnvelope({
        event_id: "whatsapp:wamid.group1",
        transport: "whatsapp",
        provider: "whatsapp-cloud",
        account_id: wa.phoneNumberId,
        conversation_id: "120363025246125486@g.us",
        chat_type: "group",
        actor: { id: ANN, display: "Ann" },
        text: "/tau allowlist add whatsapp:15550008888",
        occurred_at_ms: h.clock.ms,
        received_at_ms: h.clock.ms,
      }),
    ]);
    const rows = h.app.store.inspect.repliesAfter(0);
    const chunks = h.app.store.outbox.chunksOf(rows.at(-1)!.outbox_id);
    expect(chunks[0]!.body).toMatch(/type: \/tau approve ap_[0-9a-f]+ [0-9a-f]{8}/);
    const rich = JSON.parse(h.app.store.outbox.get(rows.at(-1)!.outbox_id)!.rich!) as { group?: boolean };
    expect(rich.group).toBe(true);
  });

  it("a broken policy file is reported to the user in words, without the server path", async () => {
    const policies = path.join(path.dirname(h.app.stateDir), "policies", "communications");
    fs.mkdirSync(policies, { recursive: true });
    fs.writeFileSync(path.join(policies, "stack.yaml"), "schema_version: 1\nmode: [unclosed\n");
    await text("/tau templates list");
    const reply = wa.sentMessages.at(-1)!.text!;
    expect(reply).toContain("The communications settings on the server have an error.");
    expect(reply).toContain("Next: Ask an operator to run `tau policy check`");
    expect(reply).not.toContain(policies);
    expect(reply).not.toMatch(/\/[\w.-]+\/[\w.-]+\//);
    expect(reply).toContain("_/tau templates list · not done_");
  });
});
