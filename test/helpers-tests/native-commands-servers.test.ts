/**
 * The local servers enforce what the real APIs enforce for native commands and interactions (PROVIDERS.md §10):
 * Telegram `setMyCommands` validation (grammY), Discord bulk-overwrite validation, one initial interaction response
 * within 3 s, and the interaction webhook rules (@discordjs/rest).
 */
import { DiscordAPIError, REST, Routes } from "discord.js";
import { Api, GrammyError } from "grammy";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDiscordServer, type DiscordServer } from "../helpers/discord-server.ts";
import { startTelegramBotApiServer, type TelegramBotApiServer } from "../helpers/telegram-bot-api-server.ts";

let tg: TelegramBotApiServer;
let dc: DiscordServer;
beforeAll(async () => {
  tg = await startTelegramBotApiServer();
  dc = await startDiscordServer();
});
afterAll(async () => {
  await Promise.all([tg.close(), dc.close()]);
});

async function grammyError(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GrammyError);
  return (err as GrammyError).description;
}

describe("Telegram setMyCommands / getMyCommands", () => {
  it("stores a list per scope and refuses invalid names, descriptions, counts and scopes", async () => {
    const api = new Api(tg.token, { apiRoot: tg.url });
    await api.setMyCommands([{ command: "tau_help", description: "list commands" }], { scope: { type: "all_private_chats" } });
    expect(await api.getMyCommands({ scope: { type: "all_private_chats" } })).toEqual([
      { command: "tau_help", description: "list commands" },
    ]);
    expect(await api.getMyCommands()).toEqual([]);
    expect(await grammyError(api.setMyCommands([{ command: "Tau-Help", description: "x" }]))).toBe("Bad Request: BOT_COMMAND_INVALID");
    expect(await grammyError(api.setMyCommands([{ command: "a".repeat(33), description: "x" }]))).toBe("Bad Request: BOT_COMMAND_INVALID");
    expect(await grammyError(api.setMyCommands([{ command: "ok", description: "d".repeat(257) }]))).toBe(
      "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID",
    );
    const many = Array.from({ length: 101 }, (_, i) => ({ command: `c${i}`, description: "x" }));
    expect(await grammyError(api.setMyCommands(many))).toBe("Bad Request: BOT_COMMANDS_TOO_MUCH");
    expect(await grammyError(api.setMyCommands([{ command: "ok", description: "x" }], { scope: { type: "everyone" } as never }))).toBe(
      "Bad Request: unsupported bot command scope type",
    );
  });
});

describe("Discord application commands and interactions", () => {
  const rest = () => new REST({ api: `${dc.url}/api`, version: "10", retries: 0 }).setToken(dc.token);
  const appId = () => String(dc.botUser["id"]);

  async function formError(body: unknown): Promise<string> {
    const err = await rest()
      .put(Routes.applicationCommands(appId()), { body })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(DiscordAPIError);
    expect((err as DiscordAPIError).code).toBe(50035);
    return (err as DiscordAPIError).message;
  }

  it("validates the bulk overwrite like Discord: names, descriptions, option order, nesting and counts", async () => {
    const ok = [{ type: 1, name: "tau", description: "tau", options: [{ type: 1, name: "whoami", description: "who am I" }] }];
    expect(((await rest().put(Routes.applicationCommands(appId()), { body: ok })) as unknown[]).length).toBe(1);
    expect(await formError([{ type: 1, name: "Tau", description: "x" }])).toContain("APPLICATION_COMMAND_INVALID_NAME");
    expect(await formError([{ type: 1, name: "tau", description: "" }])).toContain("BASE_TYPE_BAD_LENGTH");
    const opts = (o: unknown[]) => [{ type: 1, name: "tau", description: "x", options: o }];
    expect(
      await formError(
        opts([
          { type: 3, name: "a", description: "a" },
          { type: 3, name: "b", description: "b", required: true },
        ]),
      ),
    ).toContain("APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID");
    expect(await formError(opts(Array.from({ length: 26 }, (_, i) => ({ type: 3, name: `o${i}`, description: "o" }))))).toContain(
      "BASE_TYPE_MAX_LENGTH",
    );
    expect(
      await formError(
        opts([
          { type: 1, name: "s", description: "s" },
          { type: 3, name: "v", description: "v" },
        ]),
      ),
    ).toContain("APPLICATION_COMMAND_OPTIONS_TYPE_INVALID");
    expect(
      await formError(opts([{ type: 2, name: "g", description: "g", options: [{ type: 3, name: "v", description: "v" }] }])),
    ).toContain("APPLICATION_COMMAND_OPTIONS_TYPE_INVALID");
    // A refused overwrite changes nothing.
    expect(dc.interactions.commands.get("global")!.map((c) => c["name"])).toEqual(["tau"]);
  });

  it("accepts one initial response within 3 s (40060 after one, 10062 when late) and edits only after it", async () => {
    const r = new REST({ api: `${dc.url}/api`, version: "10", retries: 0 });
    const i = dc.interactions.create({ type: 2, data: { name: "tau" } });
    const id = i["id"] as string;
    const token = i["token"] as string;
    const edit = () => r.patch(Routes.webhookMessage(appId(), token, "@original"), { body: { content: "done" }, auth: false });
    await expect(edit()).rejects.toMatchObject({ code: 10008 });
    await r.post(Routes.interactionCallback(id, token), { body: { type: 5 }, auth: false });
    await expect(r.post(Routes.interactionCallback(id, token), { body: { type: 5 }, auth: false })).rejects.toMatchObject({ code: 40060 });
    await edit();
    expect(dc.interactions.byToken.get(token)!.original).toMatchObject({ content: "done" });

    const late = dc.interactions.create({ type: 3, data: { custom_id: "x", component_type: 2 } });
    dc.advanceTime(3001);
    await expect(
      r.post(Routes.interactionCallback(late["id"] as string, late["token"] as string), { body: { type: 6 }, auth: false }),
    ).rejects.toMatchObject({ code: 10062 });
    dc.advanceTime(15 * 60_000);
    await expect(edit()).rejects.toMatchObject({ code: 10015 });
  });
});
