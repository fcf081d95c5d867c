/** The demo's button scenario (08): an approval decided by a button press, in dry-run, with the exact requests. */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runScenario } from "../../src/replay/run-scenario.ts";

describe("demo scenario 08-approval-by-button", () => {
  it("prompts with an inline keyboard, refuses the requester privately, approves once on the second admin's press, then says already decided", async () => {
    const r = await runScenario(path.resolve("fixtures/scenarios/08-approval-by-button.yaml"));
    const processed = r.steps.flatMap((s) => (s.kind === "process" ? [s] : []));
    expect(processed.map((p) => p.events[0]!.reason)).toEqual([
      "approval_requested",
      "button_accepted",
      "button_accepted",
      "button_already_used",
    ]);

    const prompt = processed[0]!.replies[0]!.requests[0]!;
    expect(prompt.url).toBe("https://api.telegram.org/bot<redacted>/sendMessage");
    const body = prompt.body as {
      parse_mode: string;
      text: string;
      reply_markup: { inline_keyboard: { text: string; callback_data: string }[][] };
    };
    expect(body.parse_mode).toBe("HTML");
    expect(body.text.startsWith("<b>Approval needed: /tau allowlist add</b>")).toBe(true);
    expect(body.reply_markup.inline_keyboard[0]!.map((b) => b.text)).toEqual(["Approve", "Deny"]);
    const token = body.reply_markup.inline_keyboard[0]![0]!.callback_data;

    const own = processed[1]!.replies[0]!.requests[0]!;
    expect(own.url.endsWith("/answerCallbackQuery")).toBe(true);
    expect(own.body).toMatchObject({ callback_query_id: "4382bfdwdsb77c01e4", show_alert: true });

    const [answer, edit] = processed[2]!.replies.map((x) => x.requests[0]!);
    expect(answer!.body).toMatchObject({ callback_query_id: "4382bfdwdsb77c01e5", show_alert: false });
    expect(edit!.url.endsWith("/editMessageText")).toBe(true);
    expect(edit!.body).toMatchObject({
      chat_id: -1001234567890,
      message_id: 70002,
      parse_mode: "HTML",
      reply_markup: { inline_keyboard: [] },
    });
    expect((edit!.body as { text: string }).text).toContain("Decided by:</b> telegram:1002");

    const replay = processed[3]!.replies[0]!.requests[0]!;
    expect(replay.body).toMatchObject({
      callback_query_id: "4382bfdwdsb77c01e6",
      show_alert: true,
      text: "This was already decided.\nNext: Nothing more to do.",
    });
    expect(token).toMatch(/^tau:/);
  });
});
