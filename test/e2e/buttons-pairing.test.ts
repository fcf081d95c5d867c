/**
 * Pairing by button in the ops chat: a stranger's DM gets a pairing code, the ops chat (`alerts.targets`) gets the
 * request with Approve/Deny buttons (real grammY sends to the local Bot API server), and an operator's press runs
 * `/tau pairing approve` as the presser: the stranger is paired; a viewer's press changes nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";
import { makeButtonsHarness, type ButtonsHarness } from "./buttons-harness.ts";

const OPS = -1009876543210;
const POLICY = `schema_version: 1
defaultPolicy: { dmPolicy: allow, allowFrom: allowlist_or_pairing, groupPolicy: allow, requireMention: false }
`;
const RBAC = 'schema_version: 1\nadmins: ["telegram:1002"]\n';
const user = (id: number, name: string) => ({ id, is_bot: false, first_name: name, username: name });

let tg: TelegramBotApiServer;
let h: ButtonsHarness;

beforeEach(async () => {
  const clock = { ms: 1_763_712_000_000 };
  tg = await startTelegramBotApiServer({ now: () => clock.ms });
  h = makeButtonsHarness({
    yaml:
      `outbound:\n  mode: provider\n  pacing: { enabled: false }\nconnectors:\n  telegram: { mode: disabled, api_root: "${tg.url}" }\n` +
      `alerts:\n  targets:\n    - { transport: telegram, account_id: "6112", conversation_id: "${OPS}" }\n`,
    env: { TAU_TELEGRAM_BOT_TOKEN: tg.token },
    policies: { "channel-policy.yaml": POLICY, "rbac.yaml": RBAC },
    clock,
  });
});
afterEach(async () => {
  h.close();
  await tg.close();
});

async function ingest(update: Record<string, unknown>) {
  tg.pushUpdate(update as never);
  return h.ingest("telegram", update);
}

describe("pairing buttons in the ops chat", () => {
  it("posts the request with buttons to the ops chat; a viewer's press is refused, an operator's pairs the stranger", async () => {
    await ingest({
      update_id: 1,
      message: {
        message_id: 11,
        from: user(8001, "zoe"),
        chat: { id: 8001, type: "private", first_name: "zoe" },
        date: 1763712000,
        text: "hi",
      },
    });
    const code = h.app.store.access.listPairings()[0]!.code;
    expect(tg.sentMessages.find((m) => m.chat_id === 8001)!.text).toContain(code);
    const prompt = tg.sentMessages.find((m) => m.chat_id === OPS)!;
    expect(prompt.text).toContain(`Code: ${code}`);
    const row = (prompt.message["reply_markup"] as { inline_keyboard: { text: string; callback_data: string }[][] }).inline_keyboard[0]!;
    const approve = row.find((b) => b.text === "Approve")!.callback_data;

    const pressBy = (id: number, qid: string, updateId: number) =>
      ingest({
        update_id: updateId,
        callback_query: { id: qid, from: user(id, `u${id}`), message: prompt.message, chat_instance: "-5", data: approve },
      });
    await pressBy(7777, "q-viewer", 2);
    expect(tg.callbackAnswers.find((a) => a["callback_query_id"] === "q-viewer")).toMatchObject({ show_alert: true });
    expect(h.app.store.access.listPairings()[0]!.status).toBe("pending");

    await pressBy(1002, "q-admin", 3);
    expect(tg.callbackAnswers.find((a) => a["callback_query_id"] === "q-admin")).toMatchObject({
      show_alert: false,
      text: expect.stringContaining("Paired telegram:8001"),
    });
    expect(h.app.store.access.listPairings()[0]!.status).toBe("approved");
    expect(tg.sentMessages.find((m) => m.message_id === prompt.message_id && m.chat_id === OPS)!.message["reply_markup"]).toEqual({
      inline_keyboard: [],
    });
  });
});
