/**
 * @module Connector reason codes: what `tau connectors status` shows as `last_error_code` and what the logs
 * carry. Stable strings; add codes, never rename them.
 */

const CONNECTOR_CODES = [
  "telegram_conflict_409",
  "telegram_unauthorized",
  "telegram_rate_limited",
  "telegram_provider_error",
  "telegram_transport_error",
  "telegram_poll_stalled",
  "telegram_webhook_secret_mismatch",
  "discord_unauthorized",
  "discord_forbidden",
  "discord_channel_unknown",
  "discord_rate_limited",
  "discord_provider_error",
  "discord_transport_error",
  "discord_gateway_closed",
  "discord_disallowed_intents",
  "whatsapp_signature_invalid",
  "whatsapp_verify_token_mismatch",
  "webhook_malformed_json",
  "webhook_body_too_large",
  "ingress_append_failed",
  "missing_telegram_bot_token",
  "missing_telegram_webhook_secret",
  "missing_discord_bot_token",
  "missing_whatsapp_app_secret",
  "missing_whatsapp_verify_token",
  "ingress_identity_missing",
  "logout_requested",
] as const;
export type ConnectorCode = (typeof CONNECTOR_CODES)[number];
