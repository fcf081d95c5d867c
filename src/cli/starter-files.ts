/** @module The files `tau init` writes: secure defaults, commented. */

const TAU_YAML = `# tau configuration. Every setting can be overridden by an environment variable named after its path,
# e.g. TAU_OUTBOUND_MODE=dry-run, TAU_SERVER_BIND=127.0.0.1:8788, TAU_CONNECTORS_TELEGRAM_MODE=polling.
# Secrets never go here: use the environment (TAU_TELEGRAM_BOT_TOKEN, ...) or \`tau secrets set <id>\`.
schema_version: 1
policies_dir: ./policies

identity:
  telegram: { bot_id: "", username: "" }          # numeric id (the token prefix) and @username without the @
  discord: { user_id: "", application_id: "" }
  whatsapp: { phone_number_id: "" }
  email: { account_id: mail }

runner:
  queue_limit: 5000          # events per cycle; the rest stays queued (queue_depth), never dropped
  batch_size: 1000           # events per SQLite transaction
  coalesce_window_ms: 2500   # same-conversation bursts answered once; 0 disables

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

/** Relative path → contents. */
export const STARTER_FILES: Record<string, string> = {
  "tau.yaml": TAU_YAML,
  "policies/channel-policy.yaml": CHANNEL_POLICY,
  "policies/route-bindings.yaml": ROUTE_BINDINGS,
  "policies/rbac.yaml": RBAC,
};
