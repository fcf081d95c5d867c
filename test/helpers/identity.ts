/** @module Shared bot identity for connector tests (the ids used throughout fixtures/raw). */
import type { BotIdentity } from "../../src/contracts/envelope.ts";

/** The bot as configured in every test: Telegram @tau_ops_bot, one Discord app, one WhatsApp number. */
export const TEST_IDENTITY: BotIdentity = {
  telegram: { bot_id: "6112", username: "tau_ops_bot" },
  discord: { user_id: "1100000000000000001", application_id: "1100000000000000001" },
  whatsapp: { phone_number_id: "106540352242922" },
  email: { account_id: "ops" },
};
