/**
 * The native command plan (issue 12 §2): Discord commands from zod schemas within Discord's limits, Telegram lists
 * per role, and the way back (slash command → `/tau …` text; a tapped `/tau_x_y` → `/tau x y`).
 */
import { z } from "zod";
import { describe, expect, it } from "vitest";
import { defineCapability, reported } from "../../src/capabilities/capability.ts";
import type { AnyCapability } from "../../src/capabilities/registry.ts";
import { expandNativeCommand, interactionCommandText, planNativeCommands } from "../../src/commands/native-commands.ts";
import { parseTauCommand } from "../../src/commands/parse-command.ts";

const cap = (c: Partial<AnyCapability> & Pick<AnyCapability, "id" | "alias">): AnyCapability =>
  defineCapability({
    summary: `${c.alias.join(" ")} summary`,
    args: z.object({}).strict(),
    role: "viewer",
    sideEffect: "read",
    approval: "none",
    run: () => reported("ok", "ok"),
    ...c,
  });

const plan = (capabilities: AnyCapability[], roleOverrides: Record<string, "viewer" | "operator" | "admin"> = {}) =>
  planNativeCommands({
    capabilities,
    prefix: "/tau",
    roleOverrides,
    telegramOpsChats: ["-100"],
    telegramRoles: [{ userId: "42", role: "admin" }],
  });

const report = cap({
  id: "ops.report.send",
  alias: ["report", "send"],
  sideEffect: "send",
  positional: ["to"],
  args: z
    .object({
      limit: z.coerce.number().int().optional(),
      ratio: z.number().optional(),
      to: z.string().describe("who gets the report"),
      dry_run: z.union([z.boolean(), z.string()]).optional(),
      strict: z.boolean().optional(),
    })
    .strict(),
});

describe("Discord commands from the registry", () => {
  it("groups by area and alias, maps zod types to option types and puts required options first", () => {
    const p = plan([cap({ id: "tau.whoami", alias: ["whoami"] }), report]);
    expect(p.discord).toEqual([
      {
        type: 1,
        name: "tau",
        description: "tau chat-ops commands",
        options: [{ type: 1, name: "whoami", description: "whoami summary", options: [] }],
      },
      {
        type: 1,
        name: "tau-ops",
        description: "tau ops commands",
        options: [
          {
            type: 2,
            name: "report",
            description: "report commands",
            options: [
              {
                type: 1,
                name: "send",
                description: "report send summary",
                options: [
                  { type: 3, name: "to", description: "who gets the report", required: true },
                  { type: 4, name: "limit", description: "limit" },
                  { type: 10, name: "ratio", description: "ratio" },
                  { type: 5, name: "dry_run", description: "dry run" },
                  { type: 5, name: "strict", description: "strict" },
                ],
              },
            ],
          },
        ],
      },
    ]);
  });

  it("turns an invocation back into the /tau text the command parser reads, quoting values", () => {
    const p = plan([report]);
    const data = {
      name: "tau-ops",
      options: [
        {
          name: "report",
          type: 2,
          options: [
            {
              name: "send",
              type: 1,
              options: [
                { name: "to", type: 3, value: 'ops "night" team' },
                { name: "limit", type: 4, value: 5 },
                { name: "dry_run", type: 5, value: false },
                { name: "strict", type: 5, value: true },
              ],
            },
          ],
        },
      ],
    };
    const out = interactionCommandText(p, data)!;
    expect(out).toEqual({ text: '/tau report send --to "ops \\"night\\" team" --limit 5 --dry_run=false --strict', ephemeral: false });
    const parsed = parseTauCommand(out.text, { prefix: "/tau", botUsername: null });
    expect(parsed).toMatchObject({
      kind: "command",
      words: ["report", "send"],
      flags: { to: 'ops "night" team', limit: "5", dry_run: "false", strict: true },
    });
    expect(
      interactionCommandText(p, { name: "tau-ops", options: [{ name: "report", type: 2, options: [{ name: "delete", type: 1 }] }] }),
    ).toBe(null);
    expect(interactionCommandText(p, { name: "other" })).toBe(null);
  });

  it("leaves out, with a reason, what Discord would refuse: too many options, too many subcommands", () => {
    const wide = cap({
      id: "tau.wide",
      alias: ["wide"],
      args: z.object(Object.fromEntries(Array.from({ length: 26 }, (_, i) => [`a${i}`, z.string().optional()]))).strict(),
    });
    const many = Array.from({ length: 26 }, (_, i) => cap({ id: `tau.c${i}`, alias: [`c${String(i).padStart(2, "0")}`] }));
    const p = plan([wide, ...many]);
    const top = p.discord.find((c) => c.name === "tau")!;
    expect(top.options).toHaveLength(25);
    expect(p.skipped).toEqual([
      { platform: "discord", capability: "tau.c25", reason: "/tau already has 25 subcommands" },
      { platform: "discord", capability: "tau.wide", reason: "26 arguments (Discord allows 25 options)" },
    ]);
  });

  it("keeps a bare area command next to its group (`calendar` → `/tau-calendar list`)", () => {
    const p = plan([
      cap({ id: "calendar.events.list", alias: ["calendar"] }),
      cap({ id: "calendar.events.create", alias: ["calendar", "create"], sideEffect: "write" }),
      cap({ id: "calendar.sync.plan", alias: ["calendar", "sync", "plan"], sideEffect: "write" }),
    ]);
    expect(p.discord[0]!.options.map((o) => [o.type, o.name])).toEqual([
      [1, "list"],
      [1, "create"],
      [2, "sync"],
    ]);
    expect(interactionCommandText(p, { name: "tau-calendar", options: [{ name: "list", type: 1 }] })).toEqual({
      text: "/tau calendar",
      ephemeral: true,
    });
  });
});

describe("Telegram command lists per scope", () => {
  it("gives DMs the viewer list, ops chats the operator list and an rbac admin their own list, honouring overrides", () => {
    const p = plan(
      [
        cap({ id: "tau.whoami", alias: ["whoami"] }),
        cap({ id: "tau.status", alias: ["status"] }),
        cap({ id: "tau.pairing.approve", alias: ["pairing", "approve"], role: "operator", positional: ["code"] }),
        cap({ id: "tau.killswitch.on", alias: ["killswitch", "on"], role: "admin" }),
      ],
      { "tau.status": "operator" },
    );
    const names = (i: number) => p.telegram[i]!.commands.map((c) => c.command);
    expect(p.telegram.map((s) => s.scope)).toEqual([
      { type: "default" },
      { type: "all_private_chats" },
      { type: "chat", chat_id: "-100" },
      { type: "chat", chat_id: "42" },
    ]);
    expect(names(1)).toEqual(["tau_whoami"]);
    expect(names(2)).toEqual(["tau_pairing_approve", "tau_status", "tau_whoami"]);
    expect(names(3)).toEqual(["tau_killswitch_on", "tau_pairing_approve", "tau_status", "tau_whoami"]);
    expect(p.telegram[2]!.commands[0]!.description).toBe("pairing approve summary — <code>");
  });

  it("reads a tapped menu entry as the command it stands for", () => {
    expect(expandNativeCommand("/tau_pairing_approve@tau_ops_bot AB12", "/tau")).toBe("/tau@tau_ops_bot pairing approve AB12");
    expect(expandNativeCommand("/tau_whoami", "/tau")).toBe("/tau whoami");
    expect(expandNativeCommand("/taunt_me", "/tau")).toBe("/taunt_me");
    expect(parseTauCommand("/tau_pairing_approve@tau_ops_bot AB12", { prefix: "/tau", botUsername: "tau_ops_bot" })).toMatchObject({
      kind: "command",
      words: ["pairing", "approve", "AB12"],
    });
    expect(parseTauCommand("/tau_status@other_bot", { prefix: "/tau", botUsername: "tau_ops_bot" })).toEqual({
      kind: "other_bot",
      target: "other_bot",
    });
  });
});
