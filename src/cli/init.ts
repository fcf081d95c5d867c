/**
 * @module `tau init`: write a starter tau.yaml and policies/ with secure defaults (never overwriting without --force),
 * with the bot's identity filled in from flags or from Telegram's getMe (`--probe-telegram`), so the first
 * `tau ingest` is not refused with ingress_identity_missing.
 */
import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { TauError } from "../contracts/errors.ts";
import { loadConfig, readProcessEnv } from "../config/index.ts";
import { EMPTY_IDENTITY, STARTER_FILES, starterTauYaml, type StarterIdentity } from "./starter-files.ts";
import { globals } from "./context.ts";
import { emit } from "./output.ts";

interface InitOptions {
  dir: string;
  force?: boolean;
  telegramBotId?: string;
  telegramUsername?: string;
  discordUserId?: string;
  discordApplicationId?: string;
  whatsappPhoneNumberId?: string;
  emailAccountId?: string;
  probeTelegram?: boolean;
}

/** A flag's value checked against what the platform uses: numeric ids, plain names. */
function checked(flag: string, value: string | undefined, pattern: RegExp, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (!pattern.test(value)) {
    throw new TauError("USAGE_INIT_IDENTITY", `${flag} "${value}" is not ${what}`, {
      hint: "see the identity comments in the starter tau.yaml for where each id comes from",
    });
  }
  return value;
}

/** Ask Telegram who the bot is (getMe) with TAU_TELEGRAM_BOT_TOKEN, against the configured (or env) API root. */
async function probeTelegramIdentity(): Promise<{ bot_id: string; username: string }> {
  const env = readProcessEnv();
  const token = env.TAU_TELEGRAM_BOT_TOKEN;
  if (!token) {
    throw new TauError("USAGE_INIT_PROBE_NO_TOKEN", "--probe-telegram needs the bot token in TAU_TELEGRAM_BOT_TOKEN", {
      hint: "export TAU_TELEGRAM_BOT_TOKEN=… for this command, or pass --telegram-bot-id and --telegram-username",
    });
  }
  // Built-in defaults plus TAU_* overrides (TAU_TELEGRAM_API_ROOT): no tau.yaml exists yet.
  const config = loadConfig({ env }).config;
  const { createProviderPorts } = await import("../app/index.ts");
  const outcome = await createProviderPorts(config).probe("telegram", { token });
  const me = outcome.ok ? outcome.detail.match(/^@(\S+) \(id (\d+)\)$/) : null;
  if (!outcome.ok || !me) {
    throw new TauError("INIT_PROBE_FAILED", `Telegram getMe failed: ${outcome.detail}`, {
      hint: "check the token (and TAU_TELEGRAM_API_ROOT), or pass --telegram-bot-id and --telegram-username",
    });
  }
  return { username: me[1]!, bot_id: me[2]! };
}

export function registerInit(program: Command): void {
  program
    .command("init")
    .description("write a starter tau.yaml and policies/ with secure defaults and the bot's identity")
    .option("--dir <dir>", "where to write", ".")
    .option("--force", "overwrite existing files")
    .option("--telegram-bot-id <id>", "identity.telegram.bot_id: the number before ':' in the bot token")
    .option("--telegram-username <name>", "identity.telegram.username: the bot's @username (with or without @)")
    .option("--probe-telegram", "fill the Telegram identity from getMe (token in TAU_TELEGRAM_BOT_TOKEN)")
    .option("--discord-user-id <id>", "identity.discord.user_id: the bot user's id")
    .option("--discord-application-id <id>", "identity.discord.application_id (defaults to --discord-user-id)")
    .option("--whatsapp-phone-number-id <id>", "identity.whatsapp.phone_number_id")
    .option("--email-account-id <name>", "identity.email.account_id (default mail)")
    .option("--json", "machine-readable")
    .action(async (o: InitOptions, cmd: Command) => {
      const dir = path.resolve(o.dir);
      const existing = Object.keys(STARTER_FILES).filter((f) => fs.existsSync(path.join(dir, f)));
      if (existing.length > 0 && !o.force) {
        throw new TauError("USAGE_INIT_EXISTS", `refusing to overwrite ${existing.join(", ")} in ${dir}`, {
          hint: "pass --force to overwrite, or --dir to write elsewhere",
        });
      }
      const digits = /^[0-9]{1,32}$/;
      const name = /^[A-Za-z0-9_.-]{1,64}$/;
      const probed = o.probeTelegram ? await probeTelegramIdentity() : null;
      const discordUser = checked("--discord-user-id", o.discordUserId, digits, "a numeric Discord id");
      const identity: StarterIdentity = {
        telegram: {
          bot_id: checked("--telegram-bot-id", o.telegramBotId, digits, "a numeric bot id") ?? probed?.bot_id ?? "",
          username:
            checked("--telegram-username", o.telegramUsername?.replace(/^@/, ""), name, "a Telegram username") ?? probed?.username ?? "",
        },
        discord: {
          user_id: discordUser ?? "",
          application_id: checked("--discord-application-id", o.discordApplicationId, digits, "a numeric Discord id") ?? discordUser ?? "",
        },
        whatsapp: {
          phone_number_id: checked("--whatsapp-phone-number-id", o.whatsappPhoneNumberId, digits, "a numeric phone number id") ?? "",
        },
        email: { account_id: checked("--email-account-id", o.emailAccountId, name, "a plain name") ?? EMPTY_IDENTITY.email.account_id },
      };
      const written: string[] = [];
      for (const [rel, text] of Object.entries(STARTER_FILES)) {
        const file = path.join(dir, rel);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, rel === "tau.yaml" ? starterTauYaml(identity) : text, { mode: 0o600 });
        written.push(rel);
      }
      const missing = [
        ...(identity.telegram.bot_id && identity.telegram.username ? [] : ["telegram"]),
        ...(identity.discord.user_id ? [] : ["discord"]),
        ...(identity.whatsapp.phone_number_id ? [] : ["whatsapp"]),
      ];
      emit(globals(cmd).json, { dir, written, identity, identity_missing: missing }, () =>
        [
          `wrote ${written.join(", ")} in ${dir}`,
          ...(missing.length > 0
            ? [
                `identity not set for ${missing.join(", ")}: their messages are refused (ingress_identity_missing) until it is ` +
                  `(see identity in tau.yaml, or tau init --help)`,
              ]
            : []),
          "next: put secrets in the environment (TAU_TELEGRAM_BOT_TOKEN, …) or `tau secrets set <id>`, then `tau preflight`",
        ].join("\n"),
      );
    });
}
