#!/usr/bin/env bash
# Start/stop a standalone throwaway Dovecot (IMAP+LMTP) and SMTP sink for manual use, built from test/helpers/.
#
#   scripts/test-services.sh start     # prints `export IMAP_PORT=...` lines; use: eval "$(scripts/test-services.sh start)"
#   scripts/test-services.sh env       # print the exports again
#   scripts/test-services.sh status    # exit 0 when running
#   scripts/test-services.sh stop      # kill everything and remove the temp dirs
#
# Users: ops@example.test, alerts@example.test, noreply@example.test, password "secret".
# Knobs: TAU_TEST_SERVICES_DIR (state dir, default /tmp/tau-test-services), TAU_DOVECOT_TLS=1 (also IMAPS with a
# self-signed cert; CA at $DOVECOT_CA), SMTP_PORT (default: a free port).
# Needs: Debian dovecot-imapd + dovecot-lmtpd (and openssl for TLS), npm deps installed. Works as root and non-root.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${TAU_TEST_SERVICES_DIR:-/tmp/tau-test-services}
PIDFILE=$STATE/runner.pid
ENVFILE=$STATE/env
LOG=$STATE/runner.log

running() { [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

start() {
  if running; then cat "$ENVFILE"; return 0; fi
  [ -x /usr/sbin/dovecot ] || [ -n "${DOVECOT_BIN:-}" ] || {
    echo "test-services: dovecot not installed (apt-get install -y --no-install-recommends dovecot-imapd dovecot-lmtpd)" >&2; exit 2; }
  mkdir -p "$STATE"
  rm -f "$ENVFILE" "$PIDFILE"
  # The runner keeps Dovecot and the sink alive; the helpers' exit hooks clean up if it dies.
  cat > "$STATE/runner.mts" <<EOF
import fs from "node:fs";
import { startDovecot } from "$ROOT/test/helpers/dovecot.ts";
import { startSmtpSink } from "$ROOT/test/helpers/smtp-sink.ts";
const dc = await startDovecot({ tls: process.env.TAU_DOVECOT_TLS === "1" });
const sink = await startSmtpSink({ dovecot: dc, port: Number(process.env.SMTP_PORT ?? 0) });
let logged = 0;
setInterval(() => {
  for (; logged < sink.messages.length; logged++) {
    const m = sink.messages[logged];
    console.log(new Date().toISOString(), "smtp accepted", m.envelope.from, "->", m.envelope.to.join(","), m.lmtpResponse ?? "(not delivered)");
  }
}, 500);
const lines = [
  \`export DOVECOT_DIR=\${dc.dir}\`,
  \`export DOVECOT_PID=\${dc.pid}\`,
  \`export DOVECOT_LOG=\${dc.logPath}\`,
  \`export IMAP_HOST=127.0.0.1\`,
  \`export IMAP_PORT=\${dc.imapPort}\`,
  \`export LMTP_PORT=\${dc.lmtpPort}\`,
  \`export SMTP_PORT=\${sink.port}\`,
  \`export MAIL_PASSWORD=secret\`,
];
if (dc.imapsPort) {
  fs.writeFileSync("$STATE/ca.pem", dc.caPem ?? "");
  lines.push(\`export IMAPS_PORT=\${dc.imapsPort}\`, "export DOVECOT_CA=$STATE/ca.pem");
}
fs.writeFileSync("$ENVFILE.tmp", lines.join("\n") + "\n");
fs.renameSync("$ENVFILE.tmp", "$ENVFILE");
console.log("ready", lines.join(" "));
let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  await sink.close();
  await dc.stop();
  fs.rmSync("$ENVFILE", { force: true });
  process.exit(0);
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
setInterval(() => undefined, 1 << 30);
EOF
  # a simple command (not a list) so no subshell keeps our stdout open; setsid: own session, killable as a group
  cd "$ROOT"
  setsid nohup node --import tsx "$STATE/runner.mts" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 300); do   # up to 30 s
    [ -s "$ENVFILE" ] && { cat "$ENVFILE"; return 0; }
    running || break
    sleep 0.1
  done
  echo "test-services: failed to start; log:" >&2
  tail -n 40 "$LOG" >&2 || true
  stop >/dev/null 2>&1 || true
  exit 1
}

stop() {
  if [ -s "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      # still alive after 10 s: kill its session (runner + anything it left behind)
      kill -0 "$pid" 2>/dev/null && { echo "test-services: runner $pid did not exit, killing" >&2; kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"; }
    fi
  fi
  # Dovecot runs in its own process group; if the runner died without cleaning up, kill that group too.
  if [ -s "$ENVFILE" ]; then
    dpid=$(sed -n 's/^export DOVECOT_PID=//p' "$ENVFILE"); ddir=$(sed -n 's/^export DOVECOT_DIR=//p' "$ENVFILE")
    [ -n "$dpid" ] && kill -KILL -- "-$dpid" 2>/dev/null || true
    case "$ddir" in /*/tau-dc-*) rm -rf "$ddir" ;; esac
  fi
  rm -rf "$STATE"
  echo "test-services: stopped" >&2
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) running && cat "$ENVFILE" || { echo "test-services: not running" >&2; exit 1; } ;;
  status) if running; then echo "running (pid $(cat "$PIDFILE"))"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
