#!/usr/bin/env bash
# Tests the web UI:
#   1. installs Debian's Chromium when /usr/bin/chromium is missing (apt-get);
#   2. npm ci, the type check and the Vitest unit tests of the API client (web/);
#   3. builds the UI and the server binary (debug);
#   4. runs the end-to-end suite (web/e2e, playwright-core driving headless Chromium) against
#      a) Taskify on a temporary SQLite database, whose first admin password is read from the line
#         the server prints once at its first start, plus a second instance with
#         ACCESS_TOKEN_TTL=5s for the token-expiry flow, and a third one that the live-update
#         test stops (its "Reconnecting…" indicator);
#      b) Taskify on a fresh PostgreSQL database and a private Redis (a redis-server on a free
#         port, or database 14 of the local Redis with its own key prefix when redis-server is not
#         installed), with its own short-token instance, a second instance on the same database
#         and Redis, and nginx in front of both (deploy/nginx/nginx.conf rendered for local ports
#         by deploy/nginx/render-local.sh) for the two-instance live-update test.
# Everything it starts is stopped on exit. Screenshots of every page (desktop and 390 px, light and
# dark) land in web/screenshots/ (git ignores it). The last line is "N passed, N failed"; the exit
# status is non-zero when anything failed.
#
# Usage: ./scripts/test-web.sh
# Environment:
#   TEST_DATABASE_URL  PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres); the
#                      run creates and drops its own databases there.
#   WEB_E2E_SKIP_POSTGRES=1  run only the SQLite pass.
#   WEB_E2E_FILTER     pass a file or test-name filter to vitest (e.g. "admin").
#   NGINX_BIN          the nginx binary (default: nginx on PATH, else /usr/sbin/nginx); without
#                      nginx the proxy check of the two-instance test is skipped.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
PG_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
TMP=$(mktemp -d -t taskify-web-XXXXXX)
PIDS=()
DBS=()
PASSED=0
FAILED=0

step() { printf '\n==> %s\n' "$*"; }
die() {
  printf 'error: %s\n' "$*" >&2
  printf '%s passed, %s failed\n' "$PASSED" "$((FAILED + 1))"
  exit 1
}

cleanup() {
  local pid db
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  for db in "${DBS[@]}"; do
    psql "$PG_URL" -q -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# start_server NAME PORT ENV... : starts the binary in the background, waits for /ready.
start_server() {
  local name=$1 port=$2
  shift 2
  env -u ADMIN_PASSWORD HOST=127.0.0.1 PORT="$port" LOG_LEVEL=warn LOG_FORMAT=json RATE_LIMIT_ENABLED=false \
    SHUTDOWN_DRAIN_DELAY=0 JWT_SECRET=web-e2e-secret-that-is-at-least-32-bytes-long "$@" \
    "$ROOT/target/debug/taskify" serve >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PIDS+=($!)
  wait_for "http://127.0.0.1:$port/ready" 60 "$TMP/$name.err" "the $name server did not become ready on port $port"
}

# wait_for URL SECONDS LOG MESSAGE: polls URL until it answers 2xx; dies with MESSAGE and the end
# of LOG once SECONDS have passed or the process started last has exited.
wait_for() {
  local url=$1 deadline=$((SECONDS + $2)) log=$3 message=$4
  until curl -sf "$url" >/dev/null; do
    if ((SECONDS > deadline)) || ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
      tail -n 20 "$log" >&2 || true
      die "$message"
    fi
    sleep 0.2
  done
}

# start_nginx UPSTREAM_PORT... : nginx with the shipped configuration in front of the given
# instances; sets PROXY_URL (empty when nginx is not installed).
start_nginx() {
  local bin port dir="$TMP/nginx"
  PROXY_URL=""
  bin=${NGINX_BIN:-$(command -v nginx || true)}
  [[ -n "$bin" ]] || { [[ -x /usr/sbin/nginx ]] && bin=/usr/sbin/nginx; }
  if [[ -z "$bin" ]]; then
    printf 'nginx is not installed: the proxy check of the live-update test is skipped\n'
    return 0
  fi
  port=$(free_port)
  sh deploy/nginx/render-local.sh "$dir" "$port" "$@" || die "cannot render deploy/nginx/nginx.conf"
  "$bin" -t -q -p "$dir/" -e "$dir/logs/error.log" -c "$dir/nginx.conf" || die "the rendered nginx configuration is invalid"
  "$bin" -p "$dir/" -e "$dir/logs/error.log" -c "$dir/nginx.conf" -g 'daemon off;' &
  PIDS+=($!)
  wait_for "http://127.0.0.1:$port/nginx-health" 15 "$dir/logs/error.log" "nginx did not start on port $port"
  PROXY_URL="http://127.0.0.1:$port"
}

# read_admin_password NAME: sets ADMIN_PW to the first admin's password, as printed once by the
# server at its first start.
read_admin_password() {
  local line
  line=$(grep -m1 '^Initial admin password for ' "$TMP/$1.out" || true)
  [[ -n "$line" ]] || die "the $1 server printed no initial admin password"
  ADMIN_PW="${line##*: }"
}

# new_database: creates a fresh PostgreSQL database (dropped on exit) and sets DB_URL to it.
new_database() {
  local db
  db="taskify_web_e2e_$(date +%s)_$RANDOM"
  psql "$PG_URL" -q -c "CREATE DATABASE \"$db\"" >/dev/null || die "cannot create the database $db on $PG_URL"
  DBS+=("$db")
  DB_URL="${PG_URL%/*}/$db"
}

# run_suite LABEL ENV... : runs the e2e suite and adds its counts.
run_suite() {
  local label=$1 report="$TMP/report-$1.json" status=0
  shift
  step "End-to-end tests ($label)"
  (cd web && env "$@" TASKIFY_E2E_RUN="$label" npx vitest run --config vitest.e2e.config.ts \
    --reporter=default --reporter=json --outputFile="$report" ${WEB_E2E_FILTER:+"$WEB_E2E_FILTER"}) || status=$?
  local passed=0 failed=0
  if [[ -f "$report" ]]; then
    read -r passed failed < <(node -e "const r=require(process.argv[1]);console.log(r.numPassedTests+' '+r.numFailedTests)" "$report")
  fi
  # A file that fails to load, or a failing hook, fails the run without failing a test.
  if ((status != 0 && failed == 0)); then failed=1; fi
  PASSED=$((PASSED + passed))
  FAILED=$((FAILED + failed))
}

step "Chromium"
if [[ ! -x /usr/bin/chromium ]]; then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null || die "cannot install chromium with apt-get"
fi
/usr/bin/chromium --version

step "npm ci, type check and unit tests (web/)"
command -v npm >/dev/null || die "npm is required (Node.js 20 or later)"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' ||
  die "Node.js $(node --version) is too old: Vite needs 20.19 or later"
(cd web && npm ci --no-audit --no-fund && npm run typecheck && npx vitest run) || die "the web unit tests failed"

step "Build the UI and the server"
(cd web && npm run build) || die "the UI build failed"
cargo build -p taskify-server --bin taskify || die "the server build failed"

mkdir -p web/screenshots

# --- SQLite pass --------------------------------------------------------------------------------
MAIN_PORT=$(free_port)
start_server sqlite "$MAIN_PORT" DATABASE_URL="sqlite://$TMP/main.db"
read_admin_password sqlite
SHORT_PORT=$(free_port)
start_server sqlite-short "$SHORT_PORT" DATABASE_URL="sqlite://$TMP/short.db" ACCESS_TOKEN_TTL=5s
STOP_PORT=$(free_port)
start_server sqlite-stoppable "$STOP_PORT" DATABASE_URL="sqlite://$TMP/stoppable.db"
STOP_PID=${PIDS[-1]}
run_suite sqlite TASKIFY_URL="http://127.0.0.1:$MAIN_PORT" TASKIFY_SHORT_TTL_URL="http://127.0.0.1:$SHORT_PORT" \
  TASKIFY_STOPPABLE_URL="http://127.0.0.1:$STOP_PORT" TASKIFY_STOPPABLE_PID="$STOP_PID" \
  ADMIN_PASSWORD="$ADMIN_PW" TASKIFY_SCREENSHOTS="$ROOT/web/screenshots"

# --- PostgreSQL + Redis pass ------------------------------------------------------------------
if [[ "${WEB_E2E_SKIP_POSTGRES:-}" != "1" ]]; then
  psql "$PG_URL" -q -c 'SELECT 1' >/dev/null 2>&1 || die "PostgreSQL does not answer at $PG_URL"
  if command -v redis-server >/dev/null; then
    REDIS_PORT=$(free_port)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" >"$TMP/redis.log" 2>&1 &
    PIDS+=($!)
    REDIS="redis://127.0.0.1:$REDIS_PORT/0"
    deadline=$((SECONDS + 15))
    until (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null; do
      ((SECONDS < deadline)) || die "redis-server did not start"
      sleep 0.2
    done
  else
    REDIS="redis://127.0.0.1:6379/14"
  fi
  PREFIX="taskify:web-e2e:$RANDOM:"
  new_database
  PG_MAIN=$DB_URL
  new_database
  PG_SHORT=$DB_URL
  MAIN_PORT=$(free_port)
  start_server postgres "$MAIN_PORT" DATABASE_URL="$PG_MAIN" REDIS_URL="$REDIS" CACHE_KEY_PREFIX="$PREFIX" \
    REDIS_READ_TIMEOUT=2s REDIS_WRITE_TIMEOUT=2s JOB_RETRY_BACKOFF=2s
  read_admin_password postgres
  # A second instance on the same database and Redis, and nginx in front of both.
  SECOND_PORT=$(free_port)
  start_server postgres-2 "$SECOND_PORT" DATABASE_URL="$PG_MAIN" REDIS_URL="$REDIS" CACHE_KEY_PREFIX="$PREFIX" \
    REDIS_READ_TIMEOUT=2s REDIS_WRITE_TIMEOUT=2s JOB_RETRY_BACKOFF=2s
  start_nginx "$MAIN_PORT" "$SECOND_PORT"
  SHORT_PORT=$(free_port)
  start_server postgres-short "$SHORT_PORT" DATABASE_URL="$PG_SHORT" ACCESS_TOKEN_TTL=5s
  run_suite postgres TASKIFY_URL="http://127.0.0.1:$MAIN_PORT" TASKIFY_SHORT_TTL_URL="http://127.0.0.1:$SHORT_PORT" \
    TASKIFY_SECOND_URL="http://127.0.0.1:$SECOND_PORT" TASKIFY_PROXY_URL="$PROXY_URL" \
    ADMIN_PASSWORD="$ADMIN_PW" TASKIFY_E2E_REDIS_URL="$REDIS" TASKIFY_SCREENSHOTS="$ROOT/web/screenshots/postgres"
fi

printf '\nScreenshots: %s\n' "$ROOT/web/screenshots"
printf '%s passed, %s failed\n' "$PASSED" "$FAILED"
((FAILED == 0))
