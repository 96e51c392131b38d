#!/usr/bin/env bash
# Cache administration as the admin (docs/operations.md#scripts, scenario I2 of docs/testing.md).
#
#   scripts/admin-cache-test.sh [--all] [BASE_URL]
#
# Logs in as ADMIN_EMAIL / ADMIN_PASSWORD and checks that `permissions` contains system:admin,
# audit:read and role:manage. Then:
#   without --all  an interactive menu: stats, health, warm, clear (after confirmation), warmup,
#                  batch, scheduled, evict;
#   with --all     runs every one of them without prompts and checks each status (2xx as the
#                  API documents: 200, or 202 for the job endpoints). Exit 0 only if all pass.
#
# Environment:
#   BASE_URL        default http://localhost (the positional argument wins)
#   ADMIN_EMAIL     default admin@taskify.local
#   ADMIN_PASSWORD  required; prompted for when interactive and unset
# Needs curl and jq. The keys it writes are under the prefix `admin-cache-test:`.
#
# shellcheck disable=SC2016 # the jq filters use $variables bound with --arg, not shell ones.
set -euo pipefail

usage() {
  printf 'usage: scripts/admin-cache-test.sh [--all] [BASE_URL]\n' >&2
  exit 2
}

all=0
base_arg=""
for arg in "$@"; do
  case $arg in
    --all) all=1 ;;
    -h | --help) usage ;;
    -*) usage ;;
    *)
      [[ -z $base_arg ]] || usage
      base_arg=$arg
      ;;
  esac
done

BASE_URL=${base_arg:-${BASE_URL:-http://localhost}}
BASE_URL=${BASE_URL%/}
ADMIN_EMAIL=${ADMIN_EMAIL:-admin@taskify.local}
readonly KEY_PREFIX="admin-cache-test"

CHECK_NAME=admin-cache-test
# shellcheck source-path=SCRIPTDIR source=lib/http-check.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/http-check.sh"

show_body() {
  if [[ -s $BODY ]]; then
    jq . "$BODY" 2>/dev/null || cat "$BODY"
  fi
}

# RFC 3339 UTC time N seconds from now (GNU date, then BSD date).
time_in() {
  date -u -d "+$1 seconds" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -v "+$1S" +%Y-%m-%dT%H:%M:%SZ
}

# --- the actions (each makes one call and checks its status) ---------------------------------

do_stats() {
  call GET /api/v1/cache/stats
  check "GET /cache/stats" 200 '(.cache | type == "object") and (.cache_warming | type == "object") and (.queue_sizes | type == "object")'
}

do_health() {
  call GET /api/v1/cache/health
  check "GET /cache/health" 200 '(.status == "healthy" or .status == "degraded") and has("running") and has("redis")'
}

do_warm() {
  call POST /api/v1/cache/warm
  check "POST /cache/warm" 200 '.status == "success"'
}

do_clear() {
  call DELETE /api/v1/cache/clear
  check "DELETE /cache/clear" 200 '.l1_cleared == true and has("l2_keys_deleted")'
}

do_warmup() {
  local key="$KEY_PREFIX:warmup:$run_id"
  call POST /api/v1/cache/jobs/warmup "$(jq -nc --arg k "$key" \
    '{key: $k, data: {source: "admin-cache-test", at: (now | floor)}, ttl: "15m", priority: 5}')"
  check "POST /cache/jobs/warmup ($key)" 202 \
    '.status == "success" and .key == $k and .ttl == "15m0s" and (.job_id | type == "string") and (.queue == "local" or .queue == "redis")' \
    --arg k "$key"
}

do_batch() {
  local keys
  keys=$(jq -nc --arg p "$KEY_PREFIX:batch:$run_id" '[range(1; 4) | "\($p):\(.)"]')
  call POST /api/v1/cache/jobs/batch "$(jq -nc --argjson ks "$keys" '{keys: $ks, data: {batch: true}, priority: 5}')"
  check "POST /cache/jobs/batch (3 keys)" 202 '.status == "success" and .key_count == 3 and (.job_id | type == "string")'
}

do_scheduled() {
  local key="$KEY_PREFIX:scheduled:$run_id"
  call POST /api/v1/cache/jobs/scheduled "$(jq -nc --arg k "$key" --arg at "$(time_in 30)" \
    '{key: $k, data: {scheduled: true}, ttl: "10m", process_at: $at, priority: 5}')"
  check "POST /cache/jobs/scheduled ($key, in 30 s)" 202 \
    '.status == "success" and .key == $k and (.job_id | type == "string")' --arg k "$key"
}

# evict [KEY_OR_PATTERN]: both a single key and a glob pattern by default.
do_evict() {
  local targets=("$@")
  ((${#targets[@]})) || targets=("$KEY_PREFIX:warmup:$run_id" "$KEY_PREFIX:batch:$run_id:*")
  local target encoded
  for target in "${targets[@]}"; do
    encoded=$(jq -rn --arg k "$target" '$k | @uri')
    call DELETE "/api/v1/cache/jobs/evict/$encoded"
    if [[ $target == *[*?[]* ]]; then
      check "DELETE /cache/jobs/evict/$target (pattern)" 200 '.status == "success" and .pattern == $k' --arg k "$target"
    else
      check "DELETE /cache/jobs/evict/$target (key)" 200 '.status == "success" and .key == $k' --arg k "$target"
    fi
  done
}

# --- login -----------------------------------------------------------------------------------

if [[ -z ${ADMIN_PASSWORD:-} ]]; then
  if ((all == 0)) && [[ -t 0 ]]; then
    read -r -s -p "Password for $ADMIN_EMAIL: " ADMIN_PASSWORD
    printf '\n'
  else
    printf 'error: ADMIN_PASSWORD is not set (the password of %s)\n' "$ADMIN_EMAIL" >&2
    exit 1
  fi
fi

printf 'admin-cache-test against %s as %s\n\n' "$BASE_URL" "$ADMIN_EMAIL"
call POST /api/v1/auth/login "$(jq -nc --arg e "$ADMIN_EMAIL" --arg p "$ADMIN_PASSWORD" '{email: $e, password: $p}')"
if ! check "admin login" 200 '(.access_token | type == "string" and length > 0)'; then
  finish
fi
TOKEN=$(jq -r .access_token "$BODY")
for permission in system:admin audit:read role:manage; do
  check "permissions contain $permission" 200 '.permissions | index($p) != null' --arg p "$permission" || true
done
if ((failed > 0)); then
  printf 'the account is not an administrator; stopping\n'
  finish
fi

if ((all == 1)); then
  printf '\n'
  do_stats || true
  do_health || true
  do_warm || true
  do_clear || true
  do_warmup || true
  do_batch || true
  do_scheduled || true
  do_evict || true
  finish
fi

# --- interactive menu ------------------------------------------------------------------------

menu() {
  cat <<'MENU'

  1) stats       GET    /cache/stats
  2) health      GET    /cache/health
  3) warm        POST   /cache/warm
  4) clear       DELETE /cache/clear (asks first)
  5) warmup      POST   /cache/jobs/warmup
  6) batch       POST   /cache/jobs/batch
  7) scheduled   POST   /cache/jobs/scheduled (in 30 s)
  8) evict       DELETE /cache/jobs/evict/{key or pattern}
  q) quit
MENU
}

while :; do
  menu
  read -r -p "choice: " choice || break
  case $choice in
    1 | stats) do_stats || true ;;
    2 | health) do_health || true ;;
    3 | warm) do_warm || true ;;
    4 | clear)
      read -r -p "Clear the L1 of every instance and every L2 key? Type 'yes': " answer || answer=""
      if [[ $answer == yes ]]; then
        do_clear || true
      else
        printf 'not cleared\n'
        continue
      fi
      ;;
    5 | warmup) do_warmup || true ;;
    6 | batch) do_batch || true ;;
    7 | scheduled) do_scheduled || true ;;
    8 | evict)
      read -r -p "key or glob pattern (empty: this run's demo keys): " target || target=""
      if [[ -n $target ]]; then do_evict "$target" || true; else do_evict || true; fi
      ;;
    q | quit | exit) break ;;
    *)
      printf 'unknown choice: %s\n' "$choice"
      continue
      ;;
  esac
  show_body
done
finish
