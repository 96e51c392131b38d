#!/usr/bin/env bash
# Runs every check of the Taskify workspace, in this order:
#   1. cargo fmt --all --check
#   2. cargo clippy --workspace --all-targets -- -D warnings
#   3. the test suite (cargo-nextest, or cargo test when nextest is not installed)
#   4. the Grafana dashboard check (scripts/check-dashboard.py)
#   5. the web UI's unit and end-to-end tests (scripts/test-web.sh; SKIP_WEB_TESTS=1 skips them)
#
# The tests run against SQLite and PostgreSQL, so before step 3 the script makes sure PostgreSQL
# answers (starting the local cluster when it can) and exports TEST_DATABASE_URL. Redis is only
# checked, with a warning: no test needs it yet.
#
# Usage: ./scripts/test.sh
# Environment:
#   TEST_DATABASE_URL  PostgreSQL server for the tests; each test creates its own database there
#                      (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly WAIT_SECONDS=30
readonly REDIS_HOST=127.0.0.1
readonly REDIS_PORT=6379

export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

step() {
  printf '\n==> %s\n' "$*"
}

note() {
  printf '    %s\n' "$*"
}

warn() {
  printf 'warning: %s\n' "$*" >&2
}

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# True when something accepts TCP connections on host:port (bash's /dev/tcp, 2 s at most).
tcp_open() {
  local host=$1 port=$2
  # shellcheck disable=SC2016 # $0 and $1 are expanded by the inner bash, on purpose.
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
}

postgres_ready() {
  local host=$1 port=$2
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$host" -p "$port" -t 2
  else
    tcp_open "$host" "$port"
  fi
}

redis_ready() {
  local host=$1 port=$2
  if command -v redis-cli >/dev/null 2>&1; then
    [[ "$(timeout 2 redis-cli -h "$host" -p "$port" ping 2>/dev/null)" == "PONG" ]]
  else
    tcp_open "$host" "$port"
  fi
}

# Polls "$@" (a readiness check) until it succeeds or WAIT_SECONDS have passed.
wait_until() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep 0.5
  done
}

is_local_host() {
  [[ $1 == 127.0.0.1 || $1 == localhost || $1 == ::1 ]]
}

# Host and port of TEST_DATABASE_URL (postgres://user[:pw]@host[:port]/db[?…]); 127.0.0.1:5432 when
# the URL leaves them out.
pg_host=127.0.0.1
pg_port=5432
parse_database_url() {
  local rest=${TEST_DATABASE_URL#*://}
  rest=${rest%%/*}
  rest=${rest%%\?*}
  rest=${rest##*@}
  if [[ $rest == \[*\]* ]]; then # [IPv6]:port
    pg_host=${rest%%]*}
    pg_host=${pg_host#[}
    rest=${rest#*]}
    [[ $rest == :* ]] && pg_port=${rest#:}
  elif [[ -n $rest ]]; then
    pg_host=${rest%%:*}
    [[ $rest == *:* ]] && pg_port=${rest##*:}
  fi
  [[ -n $pg_host ]] || pg_host=127.0.0.1
  [[ -n $pg_port ]] || pg_port=5432
}

start_local_postgres() {
  if ((EUID != 0)); then
    warn "not root: cannot start PostgreSQL; start it yourself or set TEST_DATABASE_URL"
    return 0
  fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || [[ ! -d /etc/postgresql ]]; then
    warn "pg_ctlcluster or /etc/postgresql not found: cannot start PostgreSQL"
    return 0
  fi
  local dir version
  for dir in /etc/postgresql/*/; do
    version=$(basename "$dir")
    note "starting PostgreSQL cluster $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
      warn "pg_ctlcluster $version main start failed"
  done
}

ensure_postgres() {
  parse_database_url
  if postgres_ready "$pg_host" "$pg_port"; then
    note "PostgreSQL answers on $pg_host:$pg_port"
    return 0
  fi
  note "PostgreSQL does not answer on $pg_host:$pg_port"
  if is_local_host "$pg_host"; then
    start_local_postgres
  fi
  note "waiting up to ${WAIT_SECONDS}s for PostgreSQL on $pg_host:$pg_port"
  wait_until postgres_ready "$pg_host" "$pg_port" ||
    die "PostgreSQL is not reachable on $pg_host:$pg_port; the PostgreSQL tests cannot run (see README, Testing)"
  note "PostgreSQL answers on $pg_host:$pg_port"
}

# Returns non-zero when no start could be attempted (not root, or redis-server missing).
start_local_redis() {
  if ((EUID != 0)) || ! command -v redis-server >/dev/null 2>&1; then
    return 1
  fi
  note "starting redis-server on $REDIS_HOST:$REDIS_PORT"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
}

# Redis is optional for now: nothing in the suite needs it yet, so a missing Redis only warns.
check_redis() {
  if redis_ready "$REDIS_HOST" "$REDIS_PORT"; then
    note "Redis answers on $REDIS_HOST:$REDIS_PORT"
    return 0
  fi
  if start_local_redis && wait_until redis_ready "$REDIS_HOST" "$REDIS_PORT"; then
    note "Redis answers on $REDIS_HOST:$REDIS_PORT"
  else
    die "Redis does not answer on $REDIS_HOST:$REDIS_PORT (the cache and job tests need it)"
  fi
}

step "cargo fmt --all --check"
cargo fmt --all --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "services for the tests"
ensure_postgres
check_redis
note "TEST_DATABASE_URL=$TEST_DATABASE_URL"

if cargo nextest --version >/dev/null 2>&1; then
  step "cargo nextest run --workspace --no-fail-fast"
  cargo nextest run --workspace --no-fail-fast
  # nextest does not run doctests; cargo test does.
  step "cargo test --workspace --doc"
  cargo test --workspace --doc
else
  step "cargo test --workspace"
  note "cargo-nextest is not installed: falling back to cargo test (install: cargo install cargo-nextest --locked)"
  cargo test --workspace --no-fail-fast
fi

# The tests already check the dashboard against a live /metrics scrape; this checks it against
# the documented list too, so the documentation and the dashboard cannot drift apart.
step "Grafana dashboard: valid JSON, only metrics listed in docs/operations.md"
python3 scripts/check-dashboard.py deploy/grafana/dashboards/taskify.json --doc docs/operations.md

if [[ "${SKIP_WEB_TESTS:-}" != "1" ]]; then
  step "web UI: unit and end-to-end tests in Chromium (scripts/test-web.sh)"
  ./scripts/test-web.sh
fi

step "all checks passed"
