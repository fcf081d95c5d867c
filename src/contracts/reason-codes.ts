/**
 * @module Reason codes: stable strings that explain every decision, refusal and outcome (PRODUCT.md §5, §7, §8, §10).
 * Scripts and dashboards match on these; add codes, never rename them.
 */

/** Why an ingress item was refused at write time or quarantined at read time. */
export const INGRESS_CODES = [
  "ingress_malformed_json",
  "ingress_invalid_utf8",
  "ingress_line_too_large",
  "ingress_unknown_transport",
  "ingress_transport_mismatch",
  "ingress_schema_version_unsupported",
  "ingress_missing_id",
  "ingress_payload_invalid",
  "ingress_envelope_invalid",
  "ingress_identity_missing",
] as const;
export type IngressCode = (typeof INGRESS_CODES)[number];

/** Channel policy, pairing and allowlist outcomes. */
export const POLICY_CODES = [
  "allow_allowlist",
  "allow_pairing",
  "allow_allowlist_and_pairing",
  "allow_channel_policy_allow_from_any",
  "deny_actor_not_paired_or_allowlisted",
  "deny_actor_not_allowlisted",
  "deny_actor_id_missing",
  "deny_channel_policy_dm",
  "deny_channel_policy_group",
  "deny_channel_policy_mention_required",
  "deny_channel_policy_load_error",
  "pairing_challenge_issued",
  "ignored_self",
  "ignored_bot",
  "duplicate_event_skipped",
  /** Email loop breaker: the sender already got the configured number of replies this hour. */
  "email_reply_rate_limited",
  /** A provider reported an actor's new id (WhatsApp BSUID or phone change): the old id's access follows. */
  "actor_alias_recorded",
] as const;
export type PolicyCode = (typeof POLICY_CODES)[number];

/** Outbound delivery outcomes. */
export const DELIVERY_CODES = [
  "delivery_sent",
  "delivery_dry_run",
  "delivery_channel_store",
  "delivery_missing_telegram_bot_token",
  "delivery_missing_discord_bot_token",
  "delivery_missing_whatsapp_access_token",
  "delivery_missing_whatsapp_phone_number_id",
  "delivery_missing_smtp_password",
  "delivery_email_simulation",
  "delivery_rate_limited",
  "delivery_provider_unavailable",
  "delivery_request_rejected",
  "delivery_transport_error",
  "delivery_ambiguous",
  "delivery_recipient_blocked",
  "delivery_window_closed",
  "delivery_chat_migrated",
  "delivery_kill_switch",
] as const;
export type DeliveryCode = (typeof DELIVERY_CODES)[number];

/** Runner cycle reason codes written to runtime events. */
export const CYCLE_CODES = [
  "healthy_cycle",
  "queue_backpressure_applied",
  "duplicate_events_skipped",
  "retry_attempted",
  "transient_failures_observed",
  "event_processing_failed",
  "pairing_policy_permissive",
  "pairing_policy_enforced",
  "pairing_policy_denied_events",
  "telemetry_lifecycle_emitted",
  "telemetry_usage_summary_emitted",
] as const;
export type CycleCode = (typeof CYCLE_CODES)[number];

/** Connector lifecycle codes (PRODUCT.md §8). */
export const LIFECYCLE_CODES = [
  "ready",
  "missing_telegram_bot_token",
  "missing_discord_bot_token",
  "missing_whatsapp_access_token",
  "missing_whatsapp_phone_number_id",
  "ingress_missing",
  "ingress_not_file",
  "credential_store_unreadable",
  "logout_requested",
] as const;
export type LifecycleCode = (typeof LIFECYCLE_CODES)[number];

/** Reasons a non-message event is recorded without an answer. */
export const KIND_CODES = [
  "recorded_edit",
  "recorded_callback",
  "recorded_reaction",
  "recorded_status",
  "recorded_membership",
  "recorded_system",
] as const;
export type KindCode = (typeof KIND_CODES)[number];

/** Button presses (`kind: callback`, src/router/stages/callback.ts): accepted (the capability runs), or refused privately. */
export const BUTTON_CODES = ["button_accepted", "button_unknown", "button_already_used", "button_expired"] as const;
export type ButtonCode = (typeof BUTTON_CODES)[number];
