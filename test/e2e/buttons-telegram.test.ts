/**
 * Approval and pairing buttons on Telegram, end to end: tau in provider mode sends the prompt with the real grammY
 * client to the local Bot API server (which parses the HTML and checks the inline keyboard as Telegram does), a
 * press comes back as a real callback_query update, and tau answers it (answerCallbackQuery) and edits the prompt.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";
import { GROUP_POLICY, makeButtonsHarness, type ButtonsHarness } from "./buttons-harness.ts";

const GROUP = -1001234567890;
const RBAC = 'schema_version: 1\nadmins: ["telegram:1001", "telegram:1002"]\n';
const user = (id: number, name: string) => ({ id, is_bot: false, first_name: name, username: name });

let tg: TelegramBotApiServer;
let h: ButtonsHarness;
let updateId = 5000;
let callbackSeq = 0;

beforeEach(async () => {
  const clock = { ms: 1_763_712_000_000 };
  tg = await startTelegramBotApiServer({ now: () => clock.ms });
  h = makeButtonsHarness({
    yaml: `outbound:\n  mode: provider\n  pacing: { enabled: false }\nconnectors:\n  telegram: { mode: disabled, api_root: "${tg.url}" }\n`,
    env: { TAU_TELEGRAM_BOT_TOKEN: tg.token },
    policies: { "channel-policy.yaml": GROUP_POLICY, "rbac.yaml": RBAC },
    // One clock for tau and the server (the callback answer deadline is measured on it).
    clock,
  });
});
afterEach(async () => {
  h.close();
  await tg.close();
});

/** A group message as Telegram sends it. */
async function say(from: number, text: string) {
  const update = {
    update_id: ++updateId,
    message: {
      message_id: updateId,
      from: user(from, `u${from}`),
      chat: { id: GROUP, type: "supergroup", title: "Ops" },
      date: Math.floor(h.clock.ms / 1000),
      text,
      ...(text.startsWith("/") ? { entities: [{ offset: 0, length: text.split(" ")[0]!.length, type: "bot_command" }] } : {}),
    },
  };
  tg.pushUpdate(update);
  return h.ingest("telegram", update);
}

/** The last prompt the bot posted, with its buttons' callback data. */
function lastPrompt() {
  const m = tg.sentMessages
    .filter((s) => (s.message["reply_markup"] as { inline_keyboard?: unknown[][] } | undefined)?.inline_keyboard?.length)
    .at(-1)!;
  const row = (m.message["reply_markup"] as { inline_keyboard: { text: string; callback_data: string }[][] }).inline_keyboard[0]!;
  return {
    sent: m,
    approve: row.find((b) => b.text === "Approve")!.callback_data,
    deny: row.find((b) => b.text === "Deny")!.callback_data,
  };
}

/** A press of `data` on `message` by `from`, as a callback_query update. */
async function press(from: number, data: string, message: Record<string, unknown>) {
  const id = `cbq-${++callbackSeq}`;
  const update = { update_id: ++updateId, callback_query: { id, from: user(from, `u${from}`), message, chat_instance: "-77", data } };
  tg.pushUpdate(update);
  await h.ingest("telegram", update);
  return id;
}

const answersTo = (id: string) => tg.callbackAnswers.filter((a) => a["callback_query_id"] === id);
const approval = () => h.app.store.commands.listApprovals()[0]!;

describe("Telegram approval buttons", () => {
  it("posts the prompt as HTML with Approve/Deny; the requester and a viewer are refused privately; a second admin approves once", async () => {
    await say(1001, "/tau allowlist add telegram:7003");
    const { sent, approve } = lastPrompt();
    // Parsed by the server's HTML parser: the bold title is an entity, the text has no tags left.
    expect(sent.text).toContain("Approval needed: /tau allowlist add");
    expect(sent.entities.some((e) => e.type === "bold")).toBe(true);
    expect(sent.params["parse_mode"]).toBe("HTML");
    expect(approve).toMatch(/^tau:[A-Za-z0-9_-]{16}$/);
    expect(Buffer.byteLength(approve)).toBeLessThanOrEqual(64);

    // The requester presses Approve: two-person rule → a private alert, nothing changes, the keyboard stays.
    const own = await press(1001, approve, sent.message);
    expect(answersTo(own)).toEqual([expect.objectContaining({ show_alert: true, text: expect.stringContaining("needs a second person") })]);
    expect(approval().status).toBe("pending");

    // A viewer (not allowlisted, not in rbac) presses it: RBAC refuses, privately.
    const viewer = await press(1003, approve, sent.message);
    expect(answersTo(viewer)).toEqual([
      expect.objectContaining({ show_alert: true, text: expect.stringContaining("Your role does not allow") }),
    ]);
    expect(approval().status).toBe("pending");

    // A second admin approves: a toast, the prompt edited to the outcome without buttons, the allowlist changed.
    const ok = await press(1002, approve, sent.message);
    expect(answersTo(ok)).toEqual([
      expect.objectContaining({ show_alert: false, text: expect.stringContaining(`Approved ${approval().id}`) }),
    ]);
    expect(approval().status).toBe("executed");
    expect(h.app.store.access.isAllowlisted("telegram:7003")).toBe(true);
    const edited = tg.sentMessages.find((m) => m.message_id === sent.message_id)!;
    expect(edited.text).toContain(`Approved ${approval().id}`);
    expect(edited.text).toContain("Decided by: telegram:1002");
    expect(edited.message["reply_markup"]).toEqual({ inline_keyboard: [] });
    // The audit log has the approval under the presser.
    expect(h.app.store.audit.recent(50).some((a) => a.actor === "telegram:1002" && a.action === "approval.approve")).toBe(true);

    // Replayed: the same button pressed again answers "already decided"; nothing runs twice.
    const again = await press(1002, approve, sent.message);
    expect(answersTo(again)).toEqual([expect.objectContaining({ show_alert: true, text: expect.stringContaining("already decided") })]);
    expect([...h.reasons().values()].at(-1)).toBe("button_already_used");
  });

  it("Deny moves the request to denied and edits the prompt", async () => {
    await say(1001, "/tau allowlist add telegram:7004");
    const { sent, deny } = lastPrompt();
    const id = await press(1002, deny, sent.message);
    expect(answersTo(id)).toEqual([
      expect.objectContaining({ show_alert: false, text: expect.stringContaining(`Denied ${approval().id}`) }),
    ]);
    expect(approval().status).toBe("denied");
    expect(h.app.store.access.isAllowlisted("telegram:7004")).toBe(false);
    expect(tg.sentMessages.find((m) => m.message_id === sent.message_id)!.message["reply_markup"]).toEqual({ inline_keyboard: [] });
  });

  it("a forged token and a token from another chat decide nothing; an expired one is refused", async () => {
    await say(1001, "/tau allowlist add telegram:7005");
    const { sent, approve } = lastPrompt();
    const forged = await press(1002, "tau:AAAAAAAAAAAAAAAA", sent.message);
    expect(answersTo(forged)).toEqual([expect.objectContaining({ show_alert: true, text: expect.stringContaining("not valid") })]);
    const elsewhere = await press(1002, approve, { ...sent.message, chat: { id: -100999, type: "supergroup", title: "Other" } });
    expect(answersTo(elsewhere)).toEqual([expect.objectContaining({ show_alert: true, text: expect.stringContaining("not valid") })]);
    expect(approval().status).toBe("pending");
    h.clock.ms += 11 * 60_000; // approvals (and their buttons) expire after 10 minutes
    const late = await press(1002, approve, sent.message);
    expect(answersTo(late)).toEqual([expect.objectContaining({ show_alert: true, text: expect.stringContaining("expired") })]);
    expect(approval().status).toBe("pending");
    expect(h.app.store.access.isAllowlisted("telegram:7005")).toBe(false);
  });
});

describe("local Bot API server rules the buttons depend on", () => {
  it("BUTTON_DATA_INVALID over 64 bytes, a second answer and a late answer are refused, an identical edit is not modified", async () => {
    const { Api, GrammyError } = await import("grammy");
    const api = new Api(tg.token, { apiRoot: tg.url });
    const err = async (p: Promise<unknown>) => {
      try {
        await p;
        return "ok";
      } catch (e) {
        return e instanceof GrammyError ? `${e.error_code} ${e.description}` : String(e);
      }
    };
    expect(
      await err(api.sendMessage(GROUP, "x", { reply_markup: { inline_keyboard: [[{ text: "A", callback_data: "é".repeat(33) }]] } })),
    ).toBe("400 Bad Request: BUTTON_DATA_INVALID");
    expect(await err(api.sendMessage(GROUP, "<b>a & b</b> <br>", { parse_mode: "HTML" }))).toMatch(
      /^400 Bad Request: can't parse entities: Unsupported start tag "br" at byte offset \d+$/,
    );
    const m = await api.sendMessage(GROUP, "hello", { reply_markup: { inline_keyboard: [[{ text: "A", callback_data: "tau:x" }]] } });
    expect(
      await err(
        api.editMessageText(GROUP, m.message_id, "hello", { reply_markup: { inline_keyboard: [[{ text: "A", callback_data: "tau:x" }]] } }),
      ),
    ).toMatch(/^400 Bad Request: message is not modified/);
    expect(await err(api.editMessageReplyMarkup(GROUP, m.message_id, { reply_markup: { inline_keyboard: [] } }))).toBe("ok");
    expect(await err(api.editMessageReplyMarkup(GROUP, m.message_id, { reply_markup: { inline_keyboard: [] } }))).toMatch(
      /message is not modified/,
    );
    tg.pushUpdate({ update_id: ++updateId, callback_query: { id: "q1", from: user(1, "a"), chat_instance: "1", data: "tau:x" } });
    expect(await err(api.answerCallbackQuery("q1"))).toBe("ok");
    expect(await err(api.answerCallbackQuery("q1"))).toBe(
      "400 Bad Request: query is too old and response timeout expired or query ID is invalid",
    );
    tg.pushUpdate({ update_id: ++updateId, callback_query: { id: "q2", from: user(1, "a"), chat_instance: "1", data: "tau:x" } });
    h.clock.ms += 60_000;
    expect(await err(api.answerCallbackQuery("q2"))).toBe(
      "400 Bad Request: query is too old and response timeout expired or query ID is invalid",
    );
  });
});
