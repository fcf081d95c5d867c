/**
 * @module The files `tau init` writes: secure defaults, commented — tau.yaml, the three policy files and the five
 * communications contracts in simulation mode (nothing leaves tau until an operator switches a provider to live), so
 * `tau policy check`, `tau preflight` and `/tau doctor` agree on a fresh home.
 */

const TAU_YAML = `# tau configuration. Every setting can be overridden by an environment variable named after its path,
# e.g. TAU_OUTBOUND_MODE=dry-run, TAU_SERVER_BIND=127.0.0.1:8788, TAU_CONNECTORS_TELEGRAM_MODE=polling.
# Secrets never go here: use the environment (TAU_TELEGRAM_BOT_TOKEN, ...) or \`tau secrets set <id>\`.
schema_version: 1
policies_dir: ./policies

# Who the bot is on each platform. Required for every transport you ingest or run: an empty id makes \`tau ingest\`
# and the connectors refuse that transport's messages with ingress_identity_missing. Fill them here, or let init do it:
#   tau init --telegram-bot-id 6112 --telegram-username tau_ops_bot     (any of the flags below, or)
#   TAU_TELEGRAM_BOT_TOKEN=… tau init --probe-telegram                  (asks Telegram's getMe)
identity:
  # telegram.bot_id: the numeric part of the bot token before ":" (--telegram-bot-id); username: the bot's
  # @username without the @ (--telegram-username). Both are in getMe: \`tau channel probe telegram --online\`.
  telegram: { bot_id: "@@TELEGRAM_BOT_ID@@", username: "@@TELEGRAM_USERNAME@@" }
  # discord.user_id: the bot user's id (--discord-user-id); application_id: the application's id, usually the same
  # (--discord-application-id). Developer Portal → your application → General Information.
  discord: { user_id: "@@DISCORD_USER_ID@@", application_id: "@@DISCORD_APPLICATION_ID@@" }
  # whatsapp.phone_number_id: the business number's id from the WhatsApp Manager (--whatsapp-phone-number-id).
  whatsapp: { phone_number_id: "@@WHATSAPP_PHONE_NUMBER_ID@@" }
  # email.account_id: a name for the mailbox tau reads (--email-account-id); it becomes part of email event ids.
  email: { account_id: "@@EMAIL_ACCOUNT_ID@@" }

runner:
  queue_limit: 5000          # events per cycle; the rest stays queued (queue_depth), never dropped
  batch_size: 1000           # events per SQLite transaction
  coalesce_window_ms: 2500   # same-conversation bursts answered once; 0 disables
  backlog_threshold_ms: 60000  # health degrades when the oldest queued event is older than this
  stale_after_ms: 60000      # health fails when the runner's last cycle is older than this while work is queued

outbound:
  mode: dry-run              # channel-store | dry-run | provider — start safe, switch to provider after preflight
  max_chars: 4096

server:
  bind: 127.0.0.1:8788       # loopback by default; put a TLS proxy in front for webhooks
  max_body_bytes: 1048576

connectors:
  telegram: { mode: disabled }   # disabled | polling | webhook
  discord: { mode: disabled }    # disabled | gateway | polling
  whatsapp: { mode: disabled }   # disabled | webhook
  email: { mode: disabled }      # disabled | imap

telemetry:
  include_identifiers: false # phone numbers, bodies and ids stay out of logs

# Policy files tau requires in policies_dir; false turns a feature off (its file is not read).
features:
  route_bindings: true
  rbac: true
  communications: true       # policies/communications/*.yaml (simulation mode until you change providers.yaml)

# The watchdog inside \`tau run\`: health, backlog, dead letters, connectors, kill switches, runner staleness and
# delivery anomalies, posted to the ops chat(s) on transition (SEV-1/2/3), deduplicated, with a cooldown.
alerts:
  enabled: true
  interval_ms: 15000
  cooldown_ms: 900000
  targets: []                # e.g. - { transport: telegram, account_id: "<bot id>", conversation_id: "<ops chat id>" }
  severity: {}               # per kind, e.g. { connector: SEV-1 }
`;

const CHANNEL_POLICY = `# Secure defaults: DMs by allowlist or pairing, groups denied, mention required, strict mode on.
schema_version: 1
strictMode: true
defaultPolicy: { dmPolicy: allow, allowFrom: allowlist_or_pairing, groupPolicy: deny, requireMention: true }
channels: {}
`;

const ROUTE_BINDINGS = `# No bindings: every event takes the deterministic default route.
schema_version: 1
bindings: []
`;

const RBAC = `# Admins by stable actor key, e.g. "telegram:4242". Allowlisted actors are operators.
schema_version: 1
admins: []
operators: []
capabilities: {}
`;

const COMMS_STACK = `# Communications stack. simulation: every send, search and poll stays inside tau.
# Passwords are secret ids (tau secrets set imap-password), never values here.
schema_version: 1
mode: simulation
imap: { host: mail.example.com, port: 993, secure: true, user: ops@example.com, password_secret: imap-password }
smtp: { host: mail.example.com, port: 587, secure: false, user: noreply@example.com, password_secret: smtp-password }
mailboxes:
  - { id: ops, address: ops@example.com, role: ops }
  - { id: noreply, address: noreply@example.com, role: noreply }
catalog: []
`;

const COMMS_PROVIDERS = `# Provider routes and cutover. A send is live only when stack.yaml says live-pilot, the provider's mode is live and
# its cutover_phase is pilot or live. Credentials: RESEND_API_KEY, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN.
schema_version: 1
routes: { email: resend, sms: twilio }
providers:
  resend: { mode: simulation, cutover_phase: shadow, from: "Ops <noreply@example.com>" }
  twilio: { mode: simulation, cutover_phase: shadow, from: "+15005550006" }
`;

const COMMS_POLICY = `# Consent, quiet hours and SMS compliance. Consent is its own registry (STOP/START), never the chat allowlist.
schema_version: 1
default_timezone: UTC
consent:
  transactional: { required: not_required }
  alerts: { required: opt_in }
quiet_hours: { start: "21:00", end: "08:00", channels: [sms], exempt_message_types: [alerts] }
sms:
  stop_footer: "Reply STOP to opt out."
  max_segments: 4
  keywords: { opt_out: [STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT], opt_in: [START, YES, UNSTOP], help: [HELP, INFO] }
`;

const COMMS_TEMPLATES = `# Message templates: every {{placeholder}} is declared in required or optional.
schema_version: 1
templates:
  ops_alert_sms: { channel: sms, message_type: alerts, body: "[tau] {{summary}}", required: [summary] }
`;

const COMMS_DELIVERY = `# Delivery anomaly thresholds (judged with a minimum sample) and the chat anomaly dispatch posts to.
schema_version: 1
anomaly:
  window_minutes: 60
  min_sample: 20
  thresholds: { failure_rate: 0.2, policy_block_rate: 0.5, timeout_rate: 0.05 }
alerts:
  target: { transport: telegram, account_id: "0", conversation_id: "0" }   # set your ops chat before dispatching
  cooldown_minutes: 30
deadletter: { max_attempts: 3 }
`;

/** Optional CalDAV/CardDAV contract, every line commented: a comments-only file means "no calendar configured". */
const COMMS_CALENDAR = `# Calendar and contacts over CalDAV/CardDAV (issue 16). OPTIONAL: without this file tau runs as before and the
# calendar capabilities answer calendar_not_configured. The password is never written here: \`password_secret\` names
# an integration secret (env TAU_CALDAV_PASSWORD, or \`echo … | tau secrets set caldav-password\`).
# Check it with \`tau cap run calendar.caldav.status\` (discovery, authentication, calendars, ctag/sync-token).
# schema_version: 1

# caldav:
#   url: http://127.0.0.1:5232/          # server root; the principal and calendar home are discovered (RFC 6764/4791)
#   user: ops
#   password_secret: caldav-password     # env TAU_CALDAV_PASSWORD
#   calendar: spine-ops                  # display name or path segment of the default calendar
#   time_zone: Europe/Berlin             # for answers in chat (and floating / all-day times)
#   timeout_ms: 10000                    # bound on every request to the server
#   max_staleness_seconds: 60            # listings answer from tau's copy when it was checked this recently (0: always ask)

# carddav:
#   addressbook: contacts                # optional: the first address book when null
#   url: null                            # optional: when contacts live on another server (same user and password)

# oncall:
#   # Events whose summary matches (case-insensitive) are on-call shifts; \`(?<who>…)\` names the person in answers.
#   summary_pattern: "^on[- ]?call:?\\\\s*(?<who>.*)$"

# sync:
#   # Sources by name (\`/tau calendar sync plan rota\`). A feed URL that carries a private token is a secret:
#   # \`tau secrets set rota-feed-url\`, so it never appears in chat, the audit log or approvals.
#   sources:
#     rota: { url_secret: rota-feed-url }
#   file_root: calendar-sources          # folder (next to this file) chat may read .ics files from
#   allow_http_hosts: []                 # hosts a plain-http source may use; everything else must be https
#   max_source_bytes: 5242880
#   plan_ttl_minutes: 15
`;

/** The bot's identity on each platform, as `tau init` writes it into tau.yaml (empty: not set yet). */
export interface StarterIdentity {
  telegram: { bot_id: string; username: string };
  discord: { user_id: string; application_id: string };
  whatsapp: { phone_number_id: string };
  email: { account_id: string };
}

export const EMPTY_IDENTITY: StarterIdentity = {
  telegram: { bot_id: "", username: "" },
  discord: { user_id: "", application_id: "" },
  whatsapp: { phone_number_id: "" },
  email: { account_id: "mail" },
};

/** The starter tau.yaml with `identity` filled in (values are checked by the caller: digits or a plain name). */
export function starterTauYaml(identity: StarterIdentity): string {
  const fill: Record<string, string> = {
    TELEGRAM_BOT_ID: identity.telegram.bot_id,
    TELEGRAM_USERNAME: identity.telegram.username,
    DISCORD_USER_ID: identity.discord.user_id,
    DISCORD_APPLICATION_ID: identity.discord.application_id,
    WHATSAPP_PHONE_NUMBER_ID: identity.whatsapp.phone_number_id,
    EMAIL_ACCOUNT_ID: identity.email.account_id,
  };
  return TAU_YAML.replace(/@@([A-Z_]+)@@/g, (_m, k: string) => fill[k] ?? "");
}

/** Relative path → contents. */
export const STARTER_FILES: Record<string, string> = {
  "tau.yaml": starterTauYaml(EMPTY_IDENTITY),
  "policies/channel-policy.yaml": CHANNEL_POLICY,
  "policies/route-bindings.yaml": ROUTE_BINDINGS,
  "policies/rbac.yaml": RBAC,
  "policies/communications/stack.yaml": COMMS_STACK,
  "policies/communications/providers.yaml": COMMS_PROVIDERS,
  "policies/communications/policy.yaml": COMMS_POLICY,
  "policies/communications/templates.yaml": COMMS_TEMPLATES,
  "policies/communications/delivery.yaml": COMMS_DELIVERY,
  "policies/communications/calendar.yaml": COMMS_CALENDAR,
};
