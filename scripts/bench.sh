#!/usr/bin/env bash
# Bounded load tests of a release build on loopback; results go to BENCHMARKS.md.
#
#   scripts/bench.sh [duration]        default 15s per scenario
#
# Needs wrk (apt-get install wrk), PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) and
# redis-server. It creates the database taskify_bench (recreated on each run) and runs:
#   1. uncached: one instance on PostgreSQL, no Redis, nothing cacheable (CACHE_MAX_VALUE_BYTES=1)
#   2. cached:   one instance on PostgreSQL with its own redis-server (L1 + L2), caches warmed
#   3. middleware cost: GET /live through the full stack vs a bare axum server (same body)
# Each scenario: wrk -t1 -c32 --latency. Everything listens on 127.0.0.1 and stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-15s}
port=18990
bare_port=18991
redis_port=18992
base="http://127.0.0.1:$port"
db=taskify_bench
pg=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
json='Content-Type: application/json'

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
cargo build --release -p taskify-server --bin taskify --example bare_live >/dev/null

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_ready() {
  for _ in $(seq 1 150); do
    curl -sf "$1" >/dev/null && return 0
    sleep 0.2
  done
  echo "not ready: $1" >&2
  exit 1
}

# start_taskify <extra env assignments...>: a fresh database and one instance.
start_taskify() {
  psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1
  env DATABASE_URL="$pg/$db" PORT=$port LOG_LEVEL=warn RATE_LIMIT_ENABLED=false \
    ADMIN_PASSWORD='Admin@12345' JWT_SECRET='benchmark-secret-benchmark-secret-0123' "$@" \
    ./target/release/taskify >"$work/out.log" 2>"$work/err.log" &
  pids+=($!)
  wait_ready "$base/ready"
  curl -sf -XPOST "$base/api/v1/auth/register" -H "$json" \
    -d '{"username":"bench","email":"bench@example.com","password":"Bench@12345","first_name":"B","last_name":"Ench"}' >/dev/null
  TOKEN=$(curl -sf -XPOST "$base/api/v1/auth/login" -H "$json" -d '{"email":"bench@example.com","password":"Bench@12345"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  export TOKEN
  for i in $(seq 1 20); do
    curl -sf -XPOST "$base/api/v1/tasks" -H "$json" -H "Authorization: Bearer $TOKEN" -d "{\"title\":\"task $i\"}" >/dev/null
  done
  ID=$(curl -sf -XPOST "$base/api/v1/tasks" -H "$json" -H "Authorization: Bearer $TOKEN" -d '{"title":"read me"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
}

stop_taskify() {
  kill "${pids[-1]}"
  wait "${pids[-1]}" 2>/dev/null || true
  unset 'pids[-1]'
}

run() {
  echo "== $1 =="
  shift
  wrk -t1 -c32 -d"$duration" --latency "$@" | grep -E 'Requests/sec|^ +(50|99)%|Non-2xx|Socket errors'
}

start_taskify CACHE_MAX_VALUE_BYTES=1
run "uncached GET /api/v1/tasks/{id}" -s scripts/bench/get_task.lua "$base/api/v1/tasks/$ID"
run "uncached GET /api/v1/tasks" -s scripts/bench/get_task.lua "$base/api/v1/tasks"
run "POST /api/v1/tasks" -s scripts/bench/post_task.lua "$base/api/v1/tasks"
stop_taskify

redis-server --port $redis_port --bind 127.0.0.1 --save "" --appendonly no --dir "$work" --daemonize no >"$work/redis.log" &
pids+=($!)
for _ in $(seq 1 50); do redis-cli -p $redis_port ping >/dev/null 2>&1 && break; sleep 0.1; done
start_taskify REDIS_URL="redis://127.0.0.1:$redis_port/0"
for _ in 1 2 3; do
  curl -sf "$base/api/v1/tasks/$ID" -H "Authorization: Bearer $TOKEN" >/dev/null
  curl -sf "$base/api/v1/tasks" -H "Authorization: Bearer $TOKEN" >/dev/null
done
run "cached GET /api/v1/tasks/{id} (L1 + Redis L2)" -s scripts/bench/get_task.lua "$base/api/v1/tasks/$ID"
run "cached GET /api/v1/tasks (L1 + Redis L2)" -s scripts/bench/get_task.lua "$base/api/v1/tasks"
run "GET /live through the full middleware stack" "$base/live"
stop_taskify

./target/release/examples/bare_live $bare_port &
pids+=($!)
wait_ready "http://127.0.0.1:$bare_port/live"
run "GET /live on a bare axum server" "http://127.0.0.1:$bare_port/live"
