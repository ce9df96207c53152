#!/bin/sh
# openclaw-agent: the instance agent (protocol v1, docs/agent-protocol.md). It connects out to
# the control plane only: it heartbeats in the background and long-polls for tasks from a
# fixed allowlist, which it runs one at a time. It runs as root (openclaw-agent.service) and
# runs OpenClaw's own commands as the gateway's user.
#
# Secrets (the agent token, the gateway token, bootstrap tokens) never reach a command line,
# the journal or standard output: curl reads the Authorization header and any body from a
# config on its standard input, and results are built by jq reading standard input.
#
# Every path and command below can be overridden from the environment, so that a test can run
# the agent unprivileged against a local gateway; the defaults are the VPS's.
set -u

AGENT_VERSION=1
# Filled in by the control plane when it renders the user data (one single-quoted word).
# shellcheck disable=SC1083 # The braces are the template's hole, gone once filled.
default_control_plane_url={{control_plane_url}}

CONTROL_PLANE_URL=${OPENCLAW_CONTROL_PLANE_URL:-$default_control_plane_url}
AGENT_ENV=${OPENCLAW_AGENT_ENV:-/etc/openclaw/agent.env}
ENV_FILE=${OPENCLAW_ENV_FILE:-/etc/openclaw/openclaw.env}
# Not OPENCLAW_GATEWAY_URL: OpenClaw's CLI reads that name itself (a WebSocket URL).
GATEWAY_URL=${OPENCLAW_AGENT_GATEWAY_URL:-http://127.0.0.1:18789}
STATE_DIR=${OPENCLAW_STATE_DIR:-/var/lib/openclaw/.openclaw}
BACKUP_DIR=${OPENCLAW_AGENT_BACKUP_DIR:-/var/lib/openclaw-agent/backups}
# Unset: the interval the control plane gave at bootstrap (in agent.env), else 30.
HEARTBEAT=${OPENCLAW_AGENT_HEARTBEAT:-}
POLL_WAIT=${OPENCLAW_AGENT_POLL_WAIT:-25}
STARTUP_TIMEOUT=${OPENCLAW_AGENT_STARTUP_TIMEOUT:-120}
# The longest a backup's upload or a restore's download may take.
TRANSFER_TIMEOUT=${OPENCLAW_AGENT_TRANSFER_TIMEOUT:-3600}
OPENCLAW_CMD=${OPENCLAW_BIN:-openclaw}
NPM_CMD=${OPENCLAW_AGENT_NPM:-npm}
RESTART_CMD=${OPENCLAW_AGENT_RESTART_CMD:-systemctl restart openclaw-gateway}
STOP_CMD=${OPENCLAW_AGENT_STOP_CMD:-systemctl stop openclaw-gateway}
# An empty value (set but empty) runs OpenClaw's commands as the agent's own user.
RUN_AS=${OPENCLAW_AGENT_RUN_AS-runuser -u openclaw --}

# The gateway user's home is the state directory's parent (~/.openclaw).
OPENCLAW_HOME_DIR=${STATE_DIR%/*}
# None of these may leak from the agent's environment into OpenClaw's commands: the agent
# passes the gateway token itself, and only to the commands that need it.
unset OPENCLAW_GATEWAY_TOKEN OPENCLAW_GATEWAY_PASSWORD OPENCLAW_GATEWAY_URL OPENCLAW_STATE_DIR
export NO_COLOR=1 NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false

NL='
'

log() { printf 'openclaw-agent: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# One line, at most 400 characters, for an error an operator reads.
one_line() { tr '\n\r\t' '   ' | sed 's/  */ /g; s/^ //; s/ $//' | cut -c 1-400; }

# The value of KEY in an environment file written as KEY="value" with \ " ` $ escaped (the form
# the bootstrap writes, which systemd and sh read alike); an unquoted KEY=value works too.
env_value() {
  sed -n "s/^$2=//p" "$1" 2>/dev/null | tail -n 1 | sed 's/^"\(.*\)"$/\1/; s/\\\(.\)/\1/g'
}

# --- Talking to the control plane ---------------------------------------------------------

# api METHOD PATH [BODY [MAX_TIME]]: sets API_STATUS (000 when no answer) and API_BODY.
api() {
  _body=${3-}
  _out=$(
    {
      printf 'header = "Authorization: Bearer %s"\n' "$AGENT_TOKEN"
      printf 'url = "%s%s"\n' "$CONTROL_PLANE_URL" "$2"
      if [ -n "$_body" ]; then
        printf 'header = "Content-Type: application/json"\n'
        printf 'data-raw = "%s"\n' "$(printf '%s' "$_body" | sed 's/[\\"]/\\&/g')"
      fi
    } | curl --config - --silent --show-error --request "$1" \
      --header 'Accept: application/json' --connect-timeout 10 --max-time "${4:-30}" \
      --write-out '\n%{http_code}'
  ) || _out="${NL}000"
  API_STATUS=${_out##*"$NL"}
  API_BODY=${_out%"$NL"*}
}

# transfer METHOD PATH FILE [SHA256]: PUT uploads FILE (with its SHA-256 in a header), GET
# downloads into FILE. Sets API_STATUS (000 when no answer) and API_BODY (an error's JSON).
transfer() {
  if [ "$1" = PUT ]; then
    set -- "$1" "$2" "$3" "${4-}" --upload-file "$3" --header "X-Archive-SHA256: ${4-}" \
      --header 'Content-Type: application/gzip' --output "$WORK/transfer.body"
  else
    set -- "$1" "$2" "$3" "" --output "$3"
  fi
  _code=$(
    {
      printf 'header = "Authorization: Bearer %s"\n' "$AGENT_TOKEN"
      printf 'url = "%s%s"\n' "$CONTROL_PLANE_URL" "$2"
    } | {
      _method=$1
      shift 4
      curl --config - --silent --show-error --request "$_method" "$@" \
        --connect-timeout 10 --max-time "$TRANSFER_TIMEOUT" --write-out '%{http_code}'
    }
  ) || _code=000
  API_STATUS=${_code:-000}
  API_BODY=""
  if [ "$1" = PUT ]; then
    API_BODY=$(cat "$WORK/transfer.body" 2>/dev/null)
  elif [ "$API_STATUS" != 200 ]; then
    API_BODY=$(head -c 2000 "$3" 2>/dev/null)
  fi
}

# The message of an API error body ({"error": {"message": …}}).
api_error() {
  printf '%s' "$API_BODY" | jq -r '.error.message? // empty | strings' 2>/dev/null | one_line
}

# The control plane has ended this instance (terminated or rolled back): stop for good.
gone() {
  log "the control plane answered 410: this instance is gone, stopping"
  exit 0
}

# --- The gateway ---------------------------------------------------------------------------

# 0 when GET <gateway><path> answers 200 within 5 s.
gateway_ok() {
  [ "$(curl --silent --output /dev/null --max-time 5 --write-out '%{http_code}' \
    "$GATEWAY_URL$1" 2>/dev/null)" = 200 ]
}

wait_startupz() {
  _deadline=$(($(date +%s) + STARTUP_TIMEOUT))
  while [ "$(date +%s)" -lt "$_deadline" ]; do
    gateway_ok /startupz && return 0
    sleep 1
  done
  return 1
}

# Runs openclaw as the gateway's user, in its home, without the gateway token.
oc() {
  # shellcheck disable=SC2086 # RUN_AS is a command prefix, split on purpose.
  HOME=$OPENCLAW_HOME_DIR NODE_ENV=production $RUN_AS "$OPENCLAW_CMD" "$@"
}

# Same, with the gateway token from openclaw.env in the environment (never in argv).
oc_auth() {
  (
    OPENCLAW_GATEWAY_TOKEN=$(env_value "$ENV_FILE" OPENCLAW_GATEWAY_TOKEN)
    [ -n "$OPENCLAW_GATEWAY_TOKEN" ] || { log "$ENV_FILE has no OPENCLAW_GATEWAY_TOKEN"; exit 1; }
    export OPENCLAW_GATEWAY_TOKEN
    oc "$@"
  )
}

# "2026.9.6" from "OpenClaw 2026.9.6 (eb377ac)"; empty when the command fails. It reads
# nothing of the gateway's state, so it runs as the agent (no PAM session per heartbeat).
openclaw_version() {
  "$OPENCLAW_CMD" --version 2>/dev/null | head -n 1 |
    sed -n 's/^[^0-9]*\([0-9][0-9A-Za-z.+-]*\).*$/\1/p'
}

# The message of an OpenClaw --json error ({"ok":false,"error":{"message":…}} or
# {"ok":false,"reason":…}), first line only.
oc_error() {
  printf '%s' "$1" | jq -r '(.error.message? // .reason? // empty) | strings' 2>/dev/null |
    head -n 1 | one_line
}

# --- Heartbeat -----------------------------------------------------------------------------

heartbeat_body() {
  _version=$(openclaw_version)
  _healthz=false; gateway_ok /healthz && _healthz=true
  _startupz=false; gateway_ok /startupz && _startupz=true
  # shellcheck disable=SC2046 # Each awk prints two numbers, split on purpose.
  set -- $(awk '/^MemTotal:/ { t = $2 } /^MemAvailable:/ { a = $2 } END { print t + 0, a + 0 }' \
    /proc/meminfo) \
    $(df -Pk "$OPENCLAW_HOME_DIR" 2>/dev/null | awk 'NR == 2 { d = $2; f = $4 } END { print d + 0, f + 0 }') \
    $(awk '{ print int($1) }' /proc/uptime)
  jq -cn --arg agent "$AGENT_VERSION" --arg version "$_version" \
    --argjson healthz "$_healthz" --argjson startupz "$_startupz" \
    --argjson mem_total "$1" --argjson mem_available "$2" \
    --argjson disk_total "$3" --argjson disk_available "$4" --argjson uptime "$5" \
    '{agent_version: $agent,
      openclaw_version: (if $version == "" then null else $version end),
      gateway: {healthz: $healthz, startupz: $startupz},
      memory: {total_kb: $mem_total, available_kb: $mem_available},
      disk: {total_kb: $disk_total, available_kb: $disk_available},
      uptime_s: $uptime}'
}

send_heartbeat() {
  api POST /v1/agent/heartbeat "$(heartbeat_body)"
  case $API_STATUS in
    204 | 200) ;;
    410) log "heartbeat: 410"; kill -TERM "$MAIN_PID" 2>/dev/null; exit 0 ;;
    000) log "heartbeat: no answer from the control plane" ;;
    *) log "heartbeat: HTTP $API_STATUS" ;;
  esac
}

heartbeat_loop() {
  _sleep=""
  trap '[ -z "$_sleep" ] || kill "$_sleep" 2>/dev/null; exit 0' TERM INT
  while :; do
    send_heartbeat
    sleep "$HEARTBEAT" &
    _sleep=$!
    wait "$_sleep"
    _sleep=""
  done
}

# --- Tasks ---------------------------------------------------------------------------------
# Each sets OUTPUT (a JSON object) on success, or ERROR (one line) on failure.

task_access_link() {
  # Without the gateway token: with it, the command also prints a link carrying that token.
  _json=$(oc dashboard --json --no-open </dev/null 2>/dev/null)
  OUTPUT=$(printf '%s' "$_json" | jq -ce 'select(.ok == true) | .browserUrl
    | capture("[#&]bootstrapToken=(?<t>[A-Za-z0-9_-]+)") | {bootstrap_token: .t}' 2>/dev/null) ||
    {
      OUTPUT=""
      ERROR="openclaw dashboard gave no bootstrap token: $(oc_error "$_json")"
    }
}

task_restart_gateway() {
  # shellcheck disable=SC2086 # RESTART_CMD is a command line, split on purpose.
  if ! $RESTART_CMD </dev/null >&2; then
    ERROR="restarting the gateway failed ($RESTART_CMD)"
  elif ! wait_startupz; then
    ERROR="the gateway did not answer /startupz within ${STARTUP_TIMEOUT} s after a restart"
  else
    OUTPUT='{}'
  fi
}

task_rotate_gateway_token() {
  [ -f "$ENV_FILE" ] || { ERROR="$ENV_FILE does not exist"; return; }
  _token=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  [ "${#_token}" -eq 43 ] || { ERROR="could not draw a new token"; return; }
  _dir=$(dirname "$ENV_FILE")
  if ! _old=$(mktemp "$_dir/.openclaw.env.old.XXXXXX"); then ERROR="cannot write in $_dir"; return; fi
  if ! _new=$(mktemp "$_dir/.openclaw.env.XXXXXX"); then
    rm -f "$_old"; ERROR="cannot write in $_dir"; return
  fi
  chmod 0600 "$_old" "$_new"
  cat "$ENV_FILE" > "$_old"
  { grep -v '^OPENCLAW_GATEWAY_TOKEN=' "$ENV_FILE"; printf 'OPENCLAW_GATEWAY_TOKEN="%s"\n' "$_token"; } > "$_new"
  mv -f "$_new" "$ENV_FILE"
  task_restart_gateway
  if [ -n "$ERROR" ]; then
    # Keep the file and the control plane's copy in step: back to the old token.
    mv -f "$_old" "$ENV_FILE"
    # shellcheck disable=SC2086
    $RESTART_CMD </dev/null >&2 || true
    ERROR="$ERROR; kept the previous gateway token"
    return
  fi
  rm -f "$_old"
  OUTPUT=$(printf '{"gateway_token":"%s"}' "$_token")
}

task_list_devices() {
  _json=$(oc_auth devices list --json </dev/null 2>/dev/null)
  # The gateway prints {"pending": [...], "paired": [...]}: the paired ones are the devices.
  OUTPUT=$(printf '%s' "$_json" | jq -ce 'select((.paired | type) == "array" and
    (.pending | type) == "array") | {devices: .paired, pending}' 2>/dev/null) ||
    { OUTPUT=""; ERROR="openclaw devices list failed: $(oc_error "$_json")"; }
}

task_revoke_device() {
  _device=$(printf '%s' "$1" | jq -r '.device? // empty | strings' 2>/dev/null)
  case $_device in
    "" | -* | *[!A-Za-z0-9_-]*) ERROR="args.device must be a device id"; return ;;
  esac
  [ "${#_device}" -le 128 ] || { ERROR="args.device must be a device id"; return; }
  # `devices remove` unpairs the device (its tokens stop working); `devices revoke` would only
  # revoke one role's token and leave it paired.
  _json=$(oc_auth devices remove "$_device" --json </dev/null 2>/dev/null)
  if printf '%s' "$_json" | jq -e --arg d "$_device" '.deviceId == $d' >/dev/null 2>&1; then
    OUTPUT='{}'
  elif [ "$(oc_error "$_json")" = "unknown deviceId" ]; then
    # Already gone (tasks are idempotent: a retried task finds it removed).
    OUTPUT='{}'
  else
    ERROR="openclaw devices remove failed: $(oc_error "$_json")"
  fi
}

npm_install() {
  # shellcheck disable=SC2086 # NPM_CMD is a command line, split on purpose.
  $NPM_CMD install --global "openclaw@$1" </dev/null >"$WORK/npm.log" 2>&1
}

# npm's first error line after its code line, e.g. "404 No match found for version 1.2.3".
npm_error() {
  grep -E '^npm (error|ERR!) ' "$WORK/npm.log" | grep -Ev '^npm (error|ERR!) code ' |
    head -n 1 | sed -E 's/^npm (error|ERR!) //' | one_line
}

task_upgrade() {
  _version=$(printf '%s' "$1" | jq -r '.version? // empty | strings' 2>/dev/null)
  if ! printf '%s\n' "$_version" | grep -Eqx '[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?'; then
    ERROR="args.version must be an exact version such as 2026.10.1"
    return
  fi
  _previous=$(openclaw_version)
  [ -n "$_previous" ] || { ERROR="cannot read the installed version (openclaw --version)"; return; }
  if [ "$_version" = "$_previous" ]; then
    OUTPUT=$(jq -cn --arg v "$_version" '{version: $v, previous: $v}')
    return
  fi
  # Asking npm first leaves the running gateway alone when the version does not exist.
  # shellcheck disable=SC2086
  _found=$($NPM_CMD view "openclaw@$_version" version </dev/null 2>"$WORK/npm.log")
  if [ "$_found" != "$_version" ]; then
    ERROR="npm view openclaw@$_version failed ($(npm_error)); nothing changed, still on $_previous"
    return
  fi

  # shellcheck disable=SC2086
  $STOP_CMD </dev/null >&2 || log "upgrade: stopping the gateway failed, going on"
  _backup="$BACKUP_DIR/$(date -u +%Y%m%dT%H%M%SZ)-openclaw-$_previous"
  if ! { mkdir -p "$BACKUP_DIR" && chmod 0700 "$BACKUP_DIR" && cp -a "$STATE_DIR" "$_backup"; }; then
    rm -rf "$_backup"
    # shellcheck disable=SC2086
    $RESTART_CMD </dev/null >&2
    ERROR="could not back up $STATE_DIR; nothing changed, still on $_previous"
    return
  fi
  # Keep the three newest backups.
  _keep=3
  for _old in $(find "$BACKUP_DIR" -mindepth 1 -maxdepth 1 -name '*-openclaw-*' | sort -r); do
    if [ "$_keep" -gt 0 ]; then _keep=$((_keep - 1)); else rm -rf "$_old"; fi
  done

  _why=""
  if ! npm_install "$_version"; then
    _why="npm install failed: $(npm_error)"
  elif [ "$(openclaw_version)" != "$_version" ]; then
    _why="openclaw --version does not say $_version after the install"
  elif ! oc_auth doctor --non-interactive </dev/null >"$WORK/doctor.log" 2>&1; then
    _why="openclaw doctor --non-interactive failed"
  elif ! _lint=$(oc_auth doctor --lint --json --severity-min error </dev/null 2>/dev/null); then
    _why="openclaw doctor --lint found: $(printf '%s' "$_lint" |
      jq -r '[.findings[]? | "\(.checkId): \(.message)"] | join("; ")' 2>/dev/null | one_line)"
  else
    # shellcheck disable=SC2086
    if ! $RESTART_CMD </dev/null >&2; then
      _why="starting the gateway failed"
    elif ! wait_startupz; then
      _why="the gateway did not answer /startupz within ${STARTUP_TIMEOUT} s"
    fi
  fi
  if [ -z "$_why" ]; then
    OUTPUT=$(jq -cn --arg v "$_version" --arg p "$_previous" '{version: $v, previous: $p}')
    return
  fi

  log "upgrade to $_version failed ($_why); rolling back to $_previous"
  # shellcheck disable=SC2086
  $STOP_CMD </dev/null >&2 || true
  _rollback=""
  npm_install "$_previous" || _rollback="npm install openclaw@$_previous failed: $(npm_error)"
  _parent=${STATE_DIR%/*}
  if rm -rf "$_parent/.openclaw.failed-upgrade" &&
    mv "$STATE_DIR" "$_parent/.openclaw.failed-upgrade" && cp -a "$_backup" "$STATE_DIR"; then
    rm -rf "$_parent/.openclaw.failed-upgrade"
  else
    _rollback="${_rollback:+$_rollback; }restoring $STATE_DIR from $_backup failed"
  fi
  # shellcheck disable=SC2086
  $RESTART_CMD </dev/null >&2 || true
  wait_startupz || _rollback="${_rollback:+$_rollback; }the gateway did not come back"
  if [ -z "$_rollback" ]; then
    ERROR="upgrade to $_version failed ($_why); rolled back to $_previous"
  else
    ERROR="upgrade to $_version failed ($_why); rollback to $_previous failed too ($_rollback)"
  fi
}

# The name of the state directory inside its parent (.openclaw): every archive member is in it.
STATE_NAME=${STATE_DIR##*/}

task_backup() {
  _task=$1
  [ -d "$STATE_DIR" ] || { ERROR="$STATE_DIR does not exist"; return; }
  _archive="$WORK/backup.tar.gz"
  rm -f "$_archive"
  # The gateway is stopped while its state is archived, so that its databases are copied
  # whole; it runs again before the (longer) upload.
  # shellcheck disable=SC2086
  $STOP_CMD </dev/null >&2 || log "backup: stopping the gateway failed, archiving it running"
  # Without the gateway's cache (its Control UI assets, ~25 MB, rebuilt at start).
  tar -C "$OPENCLAW_HOME_DIR" --numeric-owner --exclude="$STATE_NAME/cache" \
    -czf "$_archive" "$STATE_NAME" 2>"$WORK/tar.log"
  _tar=$?
  # shellcheck disable=SC2086
  $RESTART_CMD </dev/null >&2 || log "backup: starting the gateway failed"
  _up=true
  wait_startupz || _up=false
  if [ "$_tar" -ne 0 ]; then
    rm -f "$_archive"
    ERROR="tar of $STATE_DIR failed: $(one_line <"$WORK/tar.log")"
    [ "$_up" = true ] || ERROR="$ERROR; the gateway did not answer /startupz after it"
    return
  fi
  _sha=$(sha256sum "$_archive" | cut -c 1-64)
  _bytes=$(wc -c <"$_archive" | tr -d ' ')
  for _try in 1 2 3; do
    transfer PUT "/v1/agent/tasks/$_task/backup" "$_archive" "$_sha"
    case $API_STATUS in
      201 | 200 | 4??) break ;;
    esac
    log "backup: uploading failed (HTTP $API_STATUS), try $_try"
    sleep 5
  done
  rm -f "$_archive"
  case $API_STATUS in
    201 | 200) OUTPUT=$(jq -cn --arg b "$_task" --arg s "$_sha" --argjson n "$_bytes" \
      '{backup: $b, bytes: $n, sha256: $s}') ;;
    000) ERROR="uploading the archive failed: no answer from the control plane" ;;
    *) ERROR="uploading the archive failed (HTTP $API_STATUS): $(api_error)" ;;
  esac
  if [ "$_up" = false ]; then
    OUTPUT=""
    ERROR="${ERROR:+$ERROR; }the gateway did not answer /startupz after the backup"
  fi
}

task_restore() {
  _backup=$(printf '%s' "$1" | jq -r '.backup? // empty | strings' 2>/dev/null)
  _sha=$(printf '%s' "$1" | jq -r '.sha256? // empty | strings' 2>/dev/null)
  if ! printf '%s\n' "$_backup" | grep -Eqx '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'; then
    ERROR="args.backup must be a backup id"; return
  fi
  printf '%s\n' "$_sha" | grep -Eqx '[0-9a-f]{64}' || { ERROR="args.sha256 must be 64 hex digits"; return; }
  _archive="$WORK/restore.tar.gz"
  rm -f "$_archive"
  transfer GET "/v1/agent/backups/$_backup" "$_archive"
  if [ "$API_STATUS" != 200 ]; then
    rm -f "$_archive"
    ERROR="downloading backup $_backup failed (HTTP $API_STATUS${API_BODY:+: $(api_error)}); nothing changed"
    return
  fi
  if [ "$(sha256sum "$_archive" | cut -c 1-64)" != "$_sha" ]; then
    rm -f "$_archive"
    ERROR="backup $_backup does not match its SHA-256; nothing changed"
    return
  fi
  # Every member inside the state directory: nothing absolute, no "..".
  if ! tar -tzf "$_archive" >"$WORK/members" 2>/dev/null; then
    rm -f "$_archive"; ERROR="backup $_backup does not open as a gzipped tar; nothing changed"; return
  fi
  if grep -Ev "^(\./)?$STATE_NAME(/|\$)" "$WORK/members" | grep -q . ||
    grep -Eq '(^|/)\.\.(/|$)' "$WORK/members"; then
    rm -f "$_archive"; ERROR="backup $_backup holds paths outside $STATE_NAME; nothing changed"; return
  fi
  # Unpacked beside the state (one file system), so that the swap is two renames.
  if ! _new=$(mktemp -d "$OPENCLAW_HOME_DIR/.openclaw-restore.XXXXXX"); then
    rm -f "$_archive"; ERROR="cannot write in $OPENCLAW_HOME_DIR; nothing changed"; return
  fi
  if ! tar -C "$_new" --numeric-owner -xzf "$_archive" 2>"$WORK/tar.log" || [ ! -d "$_new/$STATE_NAME" ]; then
    rm -rf "$_new" "$_archive"
    ERROR="unpacking backup $_backup failed: $(one_line <"$WORK/tar.log"); nothing changed"
    return
  fi
  rm -f "$_archive"
  _previous="$OPENCLAW_HOME_DIR/.openclaw-pre-restore"
  # shellcheck disable=SC2086
  $STOP_CMD </dev/null >&2 || log "restore: stopping the gateway failed, going on"
  rm -rf "$_previous"
  if ! mv "$STATE_DIR" "$_previous"; then
    rm -rf "$_new"
    # shellcheck disable=SC2086
    $RESTART_CMD </dev/null >&2 || true
    ERROR="cannot move $STATE_DIR aside; nothing changed"
    return
  fi
  _why=""
  if ! mv "$_new/$STATE_NAME" "$STATE_DIR"; then
    _why="moving the restored state in failed"
  else
    # shellcheck disable=SC2086
    if ! $RESTART_CMD </dev/null >&2; then
      _why="starting the gateway failed"
    elif ! wait_startupz; then
      _why="the gateway did not answer /startupz within ${STARTUP_TIMEOUT} s"
    fi
  fi
  rm -rf "$_new"
  if [ -z "$_why" ]; then
    rm -rf "$_previous"
    OUTPUT=$(jq -cn --arg b "$_backup" '{backup: $b}')
    return
  fi
  log "restore of $_backup failed ($_why); putting the previous state back"
  # shellcheck disable=SC2086
  $STOP_CMD </dev/null >&2 || true
  _rollback=""
  if ! { rm -rf "$STATE_DIR" && mv "$_previous" "$STATE_DIR"; }; then
    _rollback="putting $STATE_DIR back failed (it is in $_previous)"
  fi
  # shellcheck disable=SC2086
  $RESTART_CMD </dev/null >&2 || true
  wait_startupz || _rollback="${_rollback:+$_rollback; }the gateway did not come back"
  if [ -z "$_rollback" ]; then
    ERROR="restore of $_backup failed ($_why); rolled back to the previous state"
  else
    ERROR="restore of $_backup failed ($_why); rollback failed too ($_rollback)"
  fi
}

run_task() {
  OUTPUT="" ERROR=""
  case $1 in
    access_link) task_access_link ;;
    restart_gateway) task_restart_gateway ;;
    rotate_gateway_token) task_rotate_gateway_token ;;
    list_devices) task_list_devices ;;
    revoke_device) task_revoke_device "$2" ;;
    upgrade) task_upgrade "$2" ;;
    backup) task_backup "$3" ;;
    restore) task_restore "$2" ;;
    *) ERROR="unknown task" ;;
  esac
  [ -n "$OUTPUT" ] || [ -n "$ERROR" ] || ERROR="the task produced no result"
}

# Posts the result of task $1, retrying while the control plane does not answer.
post_result() {
  if [ -n "$ERROR" ]; then
    _result=$(printf '%s' "$ERROR" | one_line | jq -Rc '{ok: false, error: .}')
  else
    _result=$(printf '{"ok":true,"output":%s}' "$OUTPUT")
  fi
  for _try in 1 2 3 4 5 6; do
    api POST "/v1/agent/tasks/$1/result" "$_result"
    case $API_STATUS in
      204 | 200) return 0 ;;
      404 | 409) log "task $1: the control plane refused the result (HTTP $API_STATUS)"; return 0 ;;
      410) gone ;;
      401 | 403) log "task $1: result refused (HTTP $API_STATUS)"; return 1 ;;
    esac
    log "task $1: posting the result failed (HTTP $API_STATUS), try $_try"
    sleep 5
  done
  return 1
}

poll_once() {
  api GET "/v1/agent/tasks/next?wait=$POLL_WAIT" "" $((POLL_WAIT + 15))
  case $API_STATUS in
    204) return 0 ;;
    200) ;;
    410) gone ;;
    401 | 403) log "tasks: the control plane refused the agent token (HTTP $API_STATUS)"; sleep 60; return 0 ;;
    000) log "tasks: no answer from the control plane"; sleep 5; return 0 ;;
    *) log "tasks: HTTP $API_STATUS"; sleep 5; return 0 ;;
  esac
  _id=$(printf '%s' "$API_BODY" | jq -r '.id? // empty | strings' 2>/dev/null)
  _kind=$(printf '%s' "$API_BODY" | jq -r '.kind? // empty | strings' 2>/dev/null)
  _args=$(printf '%s' "$API_BODY" | jq -c '.args? // {}' 2>/dev/null)
  case $_id in
    "" | *[!A-Za-z0-9_-]*) log "tasks: a task without a usable id"; sleep 5; return 0 ;;
  esac
  [ "${#_id}" -le 100 ] || { log "tasks: a task without a usable id"; sleep 5; return 0; }
  case $_kind in *[!a-z_]*) _kind="(invalid)" ;; esac
  log "task $_id: $_kind"
  [ -n "$_args" ] || _args='{}'
  run_task "$_kind" "$_args" "$_id"
  if [ -n "$ERROR" ]; then
    log "task $_id: $_kind failed: $(printf '%s' "$ERROR" | one_line)"
  else
    log "task $_id: $_kind done"
  fi
  post_result "$_id"
}

# --- Start ---------------------------------------------------------------------------------

case $CONTROL_PLANE_URL in
  http://* | https://*) ;;
  *) die "OPENCLAW_CONTROL_PLANE_URL is not set" ;;
esac
case $CONTROL_PLANE_URL in
  *[\"\\\ ]*) die "OPENCLAW_CONTROL_PLANE_URL has a quote, backslash or space" ;;
esac
CONTROL_PLANE_URL=${CONTROL_PLANE_URL%/}
[ -r "$AGENT_ENV" ] || die "cannot read $AGENT_ENV"
[ -n "$HEARTBEAT" ] || HEARTBEAT=$(env_value "$AGENT_ENV" OPENCLAW_AGENT_HEARTBEAT)
HEARTBEAT=${HEARTBEAT:-30}
for _n in "$HEARTBEAT" "$POLL_WAIT" "$STARTUP_TIMEOUT" "$TRANSFER_TIMEOUT"; do
  case $_n in "" | *[!0-9]*) die "OPENCLAW_AGENT_HEARTBEAT, _POLL_WAIT, _STARTUP_TIMEOUT and _TRANSFER_TIMEOUT are whole seconds" ;; esac
done
AGENT_TOKEN=$(env_value "$AGENT_ENV" OPENCLAW_AGENT_TOKEN)
case $AGENT_TOKEN in
  "" | *[!A-Za-z0-9._~+/=-]*) die "$AGENT_ENV has no usable OPENCLAW_AGENT_TOKEN" ;;
esac
for _tool in curl jq tar gzip sha256sum; do
  command -v "$_tool" >/dev/null || die "needs $_tool"
done

umask 077
WORK=$(mktemp -d "${TMPDIR:-/tmp}/openclaw-agent.XXXXXX") || die "cannot make a work directory"
MAIN_PID=$$
HEARTBEAT_PID=""
trap 'exit 0' TERM INT HUP
trap '[ -z "$HEARTBEAT_PID" ] || kill "$HEARTBEAT_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

log "agent $AGENT_VERSION starting; control plane $CONTROL_PLANE_URL"
heartbeat_loop &
HEARTBEAT_PID=$!
while :; do
  poll_once
done
